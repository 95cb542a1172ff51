package admin

// The gateway's deny list and reissue stamps: a denied entity is refused
// at every gateway replica and its devices are told to wipe; a reissue
// stamp makes the gateway refuse an entity's identity tokens issued until
// then, so a member removed or screened cannot use a token that still
// names the matter's group.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/kms"
)

// DenyList is the gateway's deny list and reissue stamps.
type DenyList interface {
	Deny(ctx context.Context, entityID, name, reason string) error
	Undeny(ctx context.Context, entityID string) error
	Denials(ctx context.Context) (api.DenyList, error)
	Reissue(ctx context.Context, entityID, reason string) (api.Reissue, error)
}

// Deny refuses an entity at every gateway replica; its devices are told
// to wipe. `user revoke` does it as its first step; this is for repairs.
// An entity unknown to Vault is fault.NotFound; name, if set, must be its
// name.
func (s *Session) Deny(ctx context.Context, entityID, name, reason string) error {
	gw, err := s.gateway(ctx)
	if err != nil {
		return err
	}
	if _, err := s.RequireEntity(ctx, entityID, name); err != nil {
		return err
	}
	return gw.Deny(ctx, entityID, name, reason)
}

// Undeny lets an entity back in; one not on the list is fault.NotFound.
func (s *Session) Undeny(ctx context.Context, entityID string) error {
	gw, err := s.gateway(ctx)
	if err != nil {
		return err
	}
	return gw.Undeny(ctx, entityID)
}

// Denials returns the deny list and the reissue stamps.
func (s *Session) Denials(ctx context.Context) (api.DenyList, error) {
	gw, err := s.gateway(ctx)
	if err != nil {
		return api.DenyList{}, err
	}
	return gw.Denials(ctx)
}

// Reissue makes the gateway refuse the entity's identity tokens issued
// until now: its devices fetch new ones, with its current groups.
// RemoveMember and Screen do it themselves; this is for repairs and for
// groups changed in Vault by hand. An entity unknown to Vault is
// fault.NotFound.
func (s *Session) Reissue(ctx context.Context, entityID, reason string) (api.Reissue, error) {
	gw, err := s.gateway(ctx)
	if err != nil {
		return api.Reissue{}, err
	}
	if _, err := s.RequireEntity(ctx, entityID, ""); err != nil {
		return api.Reissue{}, err
	}
	return gw.Reissue(ctx, entityID, reason)
}

// deny is the deny list step of a revocation: it puts u on the list.
func (s *Session) deny(ctx context.Context, u kms.User, reason string) error {
	gw, err := s.gateway(ctx)
	switch {
	case errors.Is(err, ErrNoGateway):
		return err
	case err != nil:
		return fmt.Errorf("gateway %s: %w", s.GatewayURL, err)
	}
	return gw.Deny(ctx, u.EntityID, u.Name, reason)
}

// gatewayReissue is the "gateway reissue" step of RemoveMember and Screen:
// the gateway refuses the user's identity tokens issued until now, which
// still name the matter's group, so access ends now rather than when they
// expire. Without a gateway it warns and returns nil.
func (s *Session) gatewayReissue(ctx context.Context, user, reason string) error {
	step := "gateway reissue " + user
	u, err := s.Vault.User(ctx, user)
	if err != nil {
		s.report(Step{Name: step, Err: err})
		return err
	}
	gw, err := s.gateway(ctx)
	if errors.Is(err, ErrNoGateway) {
		s.report(Step{Name: step, Warning: true, Detail: fmt.Sprintf("%v: identity tokens already issued to %s keep the old groups at the gateway until they expire; run `mattersync-admin deny reissue %s`",
			err, user, u.EntityID)})
		return nil
	}
	var st api.Reissue
	if err == nil {
		st, err = gw.Reissue(ctx, u.EntityID, reason)
	}
	if err != nil {
		err = fmt.Errorf("gateway %s: %w", s.GatewayURL, err)
		s.report(Step{Name: step, Err: err})
		return reissueFailed{entity: u.EntityID, err: err}
	}
	s.report(Step{Name: step, Detail: fmt.Sprintf("tokens issued before %s refused at %s", st.NotBefore.Format(time.RFC3339), s.GatewayURL)})
	return nil
}

// reissueFailed is a failed gateway reissue step.
type reissueFailed struct {
	entity string
	err    error
}

func (e reissueFailed) Error() string { return e.err.Error() }
func (e reissueFailed) Unwrap() error { return e.err }

// reissueIncomplete combines an operation's other outcome (err) with its
// reissue step's: a failed step makes the operation incomplete, naming the
// repair.
func reissueIncomplete(err, reissueErr error) error {
	var rf reissueFailed
	switch {
	case reissueErr == nil:
		return err
	case err != nil:
		return err // its own kind; the failed step names the reissue
	case !errors.As(reissueErr, &rf):
		return reissueErr
	}
	return fault.Errorf(fault.Incomplete, "INCOMPLETE: Vault steps done, but the gateway reissue step failed: %w; until it is done, identity tokens already issued keep the old groups at the gateway until they expire: run `mattersync-admin deny reissue %s`", rf.err, rf.entity)
}
