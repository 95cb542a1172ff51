package admin

// Legal holds live at the gateway: a matter on hold refuses deletes,
// purges and shredding.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/internal/fault"
)

// Holds is the gateway's legal holds.
type Holds interface {
	Hold(ctx context.Context, matter string) (api.Hold, error)
	SetHold(ctx context.Context, matter string, req api.HoldRequest) (api.Hold, error)
	ReleaseHold(ctx context.Context, matter string, req api.HoldRequest) (api.Hold, error)
	Holds(ctx context.Context) ([]api.Hold, error)
	HoldHistory(ctx context.Context, matter string) ([]api.Hold, error)
}

// Hold returns matter's legal hold. A matter unknown to Vault is
// fault.NotFound.
func (s *Session) Hold(ctx context.Context, matter string) (api.Hold, error) {
	gw, err := s.heldMatter(ctx, matter)
	if err != nil {
		return api.Hold{}, err
	}
	return gw.Hold(ctx, matter)
}

// SetHold puts matter on legal hold; the reason (why: the instruction)
// is required, the case reference optional, both recorded with the hold,
// in its history and in the audit log. A matter unknown to Vault is
// fault.NotFound: a typo must not hold a phantom while the real matter
// stays unprotected.
func (s *Session) SetHold(ctx context.Context, matter string, req api.HoldRequest) (api.Hold, error) {
	if strings.TrimSpace(req.Reason) == "" {
		return api.Hold{}, fault.Errorf(fault.Invalid, "a legal hold needs a reason (e.g. the instruction)")
	}
	gw, err := s.heldMatter(ctx, matter)
	if err != nil {
		return api.Hold{}, err
	}
	return gw.SetHold(ctx, matter, req)
}

// ReleaseHold releases matter's legal hold; a reason is required as for
// SetHold, and kept in the hold's history.
func (s *Session) ReleaseHold(ctx context.Context, matter string, req api.HoldRequest) (api.Hold, error) {
	if strings.TrimSpace(req.Reason) == "" {
		return api.Hold{}, fault.Errorf(fault.Invalid, "releasing a legal hold needs a reason (e.g. the case settled)")
	}
	gw, err := s.heldMatter(ctx, matter)
	if err != nil {
		return api.Hold{}, err
	}
	return gw.ReleaseHold(ctx, matter, req)
}

// Holds returns every matter on legal hold.
func (s *Session) Holds(ctx context.Context) ([]api.Hold, error) {
	gw, err := s.gateway(ctx)
	if err != nil {
		return nil, err
	}
	return gw.Holds(ctx)
}

// HoldHistory returns every hold on and off of matter, oldest first.
func (s *Session) HoldHistory(ctx context.Context, matter string) ([]api.Hold, error) {
	gw, err := s.heldMatter(ctx, matter)
	if err != nil {
		return nil, err
	}
	return gw.HoldHistory(ctx, matter)
}

// heldMatter returns the gateway after checking that matter exists.
func (s *Session) heldMatter(ctx context.Context, matter string) (Holds, error) {
	gw, err := s.gateway(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.RequireMatter(ctx, matter); err != nil {
		return nil, err
	}
	return gw, nil
}

// ErrHoldUnknown is wrapped by the error of an operation that must check
// for a legal hold but has no gateway to ask.
var ErrHoldUnknown = errors.New("cannot check for a legal hold")

// onHold asks the gateway whether matter is on legal hold.
func (s *Session) onHold(ctx context.Context, matter string) (bool, error) {
	gw, err := s.gateway(ctx)
	switch {
	case errors.Is(err, ErrNoGateway):
		return false, fault.Errorf(fault.Invalid, "%w: %w", ErrHoldUnknown, err)
	case err != nil:
		return false, fmt.Errorf("gateway %s: %w", s.GatewayURL, err)
	}
	h, err := gw.Hold(ctx, matter)
	if err != nil {
		return false, fmt.Errorf("legal hold check at %s: %w", s.GatewayURL, err)
	}
	return h.On, nil
}
