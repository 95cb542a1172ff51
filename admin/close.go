package admin

// Closing a matter: the gateway refuses its writes and tells the agents,
// which stop syncing it and keep or remove their copies as
// on_matter_closed says; its members go, and with shredding its
// key, every object and every record of its storage go too, leaving the
// audit records and a signed destruction record (docs/LIFECYCLE.md).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/kms"
)

// Shredder is the gateway's shredding of a matter's storage.
type Shredder interface {
	Shred(ctx context.Context, matter, reason string) (api.Shred, error)
	ShredState(ctx context.Context, matter string) (api.Shred, error)
}

// Closer is the gateway's closing of a matter: its writes and changes
// feed refused, its agents told.
type Closer interface {
	CloseMatter(ctx context.Context, matter, reason string) (api.ClosedMatter, error)
}

// CloseOptions tune CloseMatter.
type CloseOptions struct {
	// Reason is why the matter closes (required; in the audit log and
	// the destruction record).
	Reason string
	// Shred deletes the matter's key, objects and records too.
	Shred bool
	// Poll is how often the deletion's progress is read (default 1s).
	Poll time.Duration
}

// CloseResult is what CloseMatter did.
type CloseResult struct {
	// Removed are the members removed (their devices lose the matter).
	Removed []string
	// Shredded: the matter's key is deleted in Vault.
	Shredded bool
	// Storage is the gateway's shred, with the destruction record once
	// every object is gone.
	Storage api.Shred
}

// CloseMatter closes matter: every member is removed (identity tokens
// reissued, no rotation: nothing is written any more). With o.Shred,
// refused while the matter is on legal hold (fault.Refused, before
// anything changes), the matter is then crypto-shredded in Vault, and the
// gateway removes every record and object of its storage; CloseMatter
// waits for the signed destruction record. Run again, it finishes what an
// interrupted close left (fault.Incomplete names it).
func (s *Session) CloseMatter(ctx context.Context, matter string, o CloseOptions) (CloseResult, error) {
	var res CloseResult
	if strings.TrimSpace(o.Reason) == "" {
		return res, fault.Errorf(fault.Invalid, "closing a matter needs a reason (e.g. the file closed on, the retention rule)")
	}
	if err := s.RequireMatter(ctx, matter); err != nil {
		return res, err
	}
	var gw Gateway
	if o.Shred {
		held, err := s.onHold(ctx, matter)
		if err != nil {
			return res, err
		}
		if held {
			return res, fault.Errorf(fault.Refused, "matter %s is on legal hold: closing with --shred refused (nothing changed)", matter)
		}
		s.note("legal hold: none")
		if gw, err = s.gateway(ctx); err != nil {
			return res, err
		}
	}
	// The gateway first: agents that hear of the close before they lose
	// the matter apply on_matter_closed, not on_access_lost.
	if err := s.gatewayClose(ctx, matter, o.Reason); err != nil {
		return res, err
	}
	members, err := s.Vault.Members(ctx, matter)
	if err != nil && !(o.Shred && fault.Of(err) == fault.NotFound) {
		return res, err
	}
	for _, m := range members {
		if m.Role != kms.RoleRW && m.Role != kms.RoleRO {
			continue
		}
		if _, err := s.RemoveMember(ctx, matter, m.User, AccessOptions{NoRotate: true}); err != nil {
			return res, fmt.Errorf("removing %s from %s: %w", m.User, matter, err)
		}
		res.Removed = append(res.Removed, m.User)
	}
	if !o.Shred {
		s.note("matter %s closed: %d members removed; its data stays (retention applies; close with --shred to destroy it)", matter, len(res.Removed))
		return res, nil
	}
	if err := s.Shred(ctx, matter, ShredOptions{}); err != nil {
		return res, err
	}
	res.Shredded = true
	res.Storage, err = gw.Shred(ctx, matter, o.Reason)
	if err != nil {
		return res, incompleteClose(matter, "the gateway did not remove its storage", err)
	}
	s.report(Step{Name: "gateway shred " + matter, Detail: fmt.Sprintf("%d files, %d versions, %d chunks removed from the records; deleting its objects (run %d)",
		res.Storage.Files, res.Storage.Versions, res.Storage.Chunks, res.Storage.Run)})
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	t := time.NewTicker(o.Poll)
	defer t.Stop()
	last := int64(-1)
	for res.Storage.Destruction == nil {
		select {
		case <-ctx.Done():
			return res, incompleteClose(matter, "its objects are still being deleted", ctx.Err())
		case <-t.C:
		}
		st, err := gw.ShredState(ctx, matter)
		if err != nil {
			return res, incompleteClose(matter, "cannot follow the deletion", err)
		}
		run := res.Storage.Run
		res.Storage = st
		res.Storage.Run = run
		if st.DeletedObjects != last {
			last = st.DeletedObjects
			s.note("  deleted %d objects (%d bytes) so far", st.DeletedObjects, st.DeletedBytes)
		}
	}
	return res, nil
}

// gatewayClose is the "gateway close" step. Without a gateway it warns:
// the members' removal still stops their agents (on_access_lost then
// decides their copies).
func (s *Session) gatewayClose(ctx context.Context, matter, reason string) error {
	step := "gateway close " + matter
	gw, err := s.gateway(ctx)
	if errors.Is(err, ErrNoGateway) {
		s.report(Step{Name: step, Warning: true, Detail: fmt.Sprintf("%v: the gateway does not know the matter is closed; run `mattersync-admin matter close %s` again once it is configured", err, matter)})
		return nil
	}
	var c api.ClosedMatter
	if err == nil {
		c, err = gw.CloseMatter(ctx, matter, reason)
	}
	if err != nil {
		err = fmt.Errorf("gateway %s: %w", s.GatewayURL, err)
		s.report(Step{Name: step, Err: err})
		return err
	}
	s.report(Step{Name: step, Detail: fmt.Sprintf("closed at %s since %s: writes refused, agents stop syncing it", s.GatewayURL, c.Closed.UTC().Format(time.RFC3339))})
	return nil
}

// incompleteClose is a close --shred that stopped after Vault's shred.
func incompleteClose(matter, what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		err = errors.New("interrupted")
	}
	return fault.Errorf(fault.Incomplete, "matter %s is shredded in Vault, but %s: %v; run `mattersync-admin matter close %s --shred` again to finish (`storage runs` shows the deletion)", matter, what, err, matter)
}

// ShredState says how far matter's shredded storage is gone at the
// gateway, with its destruction record once none is left.
func (s *Session) ShredState(ctx context.Context, matter string) (api.Shred, error) {
	gw, err := s.namedMatter(ctx, matter)
	if err != nil {
		return api.Shred{}, err
	}
	return gw.ShredState(ctx, matter)
}
