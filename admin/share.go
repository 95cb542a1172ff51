package admin

// Shares with people outside the firm (docs/SHARING.md): each matter's
// sharing policy, the list of shares and their revocation.

import (
	"context"
	"fmt"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/internal/fault"
)

// Sharer is the gateway's share administration (*client.Client).
type Sharer interface {
	Shares(ctx context.Context, matter, user string) ([]api.Share, error)
	AdminRevokeShare(ctx context.Context, id, reason string) (api.ShareRevocation, error)
	Sharing(ctx context.Context, matter string) (api.Sharing, error)
	SetSharing(ctx context.Context, matter string, on bool) (api.Sharing, error)
}

func (s *Session) sharer(ctx context.Context) (Sharer, error) {
	g, err := s.gateway(ctx)
	if err != nil {
		return nil, err
	}
	sh, ok := g.(Sharer)
	if !ok {
		return nil, fault.Errorf(fault.Invalid, "this gateway client cannot administer shares")
	}
	return sh, nil
}

// SetSharing lets members of matter share files outside the firm (on) or
// not (off: its live shares are revoked too). With a Vault session, a
// matter unknown to Vault is fault.NotFound.
func (s *Session) SetSharing(ctx context.Context, matter string, on bool) (api.Sharing, error) {
	sh, err := s.sharer(ctx)
	if err != nil {
		return api.Sharing{}, err
	}
	if s.Vault != nil {
		if err := s.RequireMatter(ctx, matter); err != nil {
			return api.Sharing{}, err
		}
	}
	p, err := sh.SetSharing(ctx, matter, on)
	if err != nil {
		return api.Sharing{}, fmt.Errorf("matter sharing: %w", err)
	}
	return p, nil
}

// Sharing returns matter's sharing policy.
func (s *Session) Sharing(ctx context.Context, matter string) (api.Sharing, error) {
	sh, err := s.sharer(ctx)
	if err != nil {
		return api.Sharing{}, err
	}
	p, err := sh.Sharing(ctx, matter)
	if err != nil {
		return api.Sharing{}, fmt.Errorf("matter sharing: %w", err)
	}
	return p, nil
}

// Shares lists the shares of matter and/or made by user (a user name;
// checked in Vault when there is a session); "" selects all.
func (s *Session) Shares(ctx context.Context, matter, user string) ([]api.Share, error) {
	sh, err := s.sharer(ctx)
	if err != nil {
		return nil, err
	}
	if user != "" && s.Vault != nil {
		if err := s.RequireUser(ctx, user); err != nil {
			return nil, err
		}
	}
	list, err := sh.Shares(ctx, matter, user)
	if err != nil {
		return nil, fmt.Errorf("share list: %w", err)
	}
	return list, nil
}

// RevokeShare revokes the share id; it returns it, or nothing when it
// was revoked or had expired already.
func (s *Session) RevokeShare(ctx context.Context, id, reason string) ([]api.Share, error) {
	sh, err := s.sharer(ctx)
	if err != nil {
		return nil, err
	}
	out, err := sh.AdminRevokeShare(ctx, id, reason)
	if err != nil {
		return nil, fmt.Errorf("share revoke: %w", err)
	}
	return out.Revoked, nil
}
