package admin

// File requests (docs/SHARING.md, "Request files"): their list and
// revocation.

import (
	"context"
	"fmt"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/internal/fault"
)

// Requester is the gateway's file-request administration (*client.Client).
type Requester interface {
	Requests(ctx context.Context, matter, user string) ([]api.Request, error)
	AdminRevokeRequest(ctx context.Context, id, reason string) (api.RequestRevocation, error)
	UndeliveredDrops(ctx context.Context, matter string) ([]api.Drop, error)
}

func (s *Session) requester(ctx context.Context) (Requester, error) {
	g, err := s.gateway(ctx)
	if err != nil {
		return nil, err
	}
	r, ok := g.(Requester)
	if !ok {
		return nil, fault.Errorf(fault.Invalid, "this gateway client cannot administer file requests")
	}
	return r, nil
}

// Requests lists the file requests of matter and/or made by user (a user
// name; checked in Vault when there is a session); "" selects all.
func (s *Session) Requests(ctx context.Context, matter, user string) ([]api.Request, error) {
	r, err := s.requester(ctx)
	if err != nil {
		return nil, err
	}
	if user != "" && s.Vault != nil {
		if err := s.RequireUser(ctx, user); err != nil {
			return nil, err
		}
	}
	list, err := r.Requests(ctx, matter, user)
	if err != nil {
		return nil, fmt.Errorf("request list: %w", err)
	}
	return list, nil
}

// RevokeRequest revokes the file request id; it returns it, or nothing
// when it was revoked or had expired already.
func (s *Session) RevokeRequest(ctx context.Context, id, reason string) ([]api.Request, error) {
	r, err := s.requester(ctx)
	if err != nil {
		return nil, err
	}
	out, err := r.AdminRevokeRequest(ctx, id, reason)
	if err != nil {
		return nil, fmt.Errorf("request revoke: %w", err)
	}
	return out.Revoked, nil
}

// UndeliveredDrops lists the clients' uploads not delivered into a matter
// yet, of matter or of all (""): pending ones, and those no agent could
// deliver (the problem says why).
func (s *Session) UndeliveredDrops(ctx context.Context, matter string) ([]api.Drop, error) {
	r, err := s.requester(ctx)
	if err != nil {
		return nil, err
	}
	list, err := r.UndeliveredDrops(ctx, matter)
	if err != nil {
		return nil, fmt.Errorf("request drops: %w", err)
	}
	return list, nil
}
