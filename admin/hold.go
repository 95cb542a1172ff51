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
	SetHold(ctx context.Context, matter, reason string) (api.Hold, error)
	ReleaseHold(ctx context.Context, matter string) (api.Hold, error)
}

// Hold returns matter's legal hold.
func (s *Session) Hold(ctx context.Context, matter string) (api.Hold, error) {
	gw, err := s.gateway(ctx)
	if err != nil {
		return api.Hold{}, err
	}
	return gw.Hold(ctx, matter)
}

// SetHold puts matter on legal hold; the reason (the case, the
// instruction) is required and recorded with the hold and in the audit log.
func (s *Session) SetHold(ctx context.Context, matter, reason string) (api.Hold, error) {
	if strings.TrimSpace(reason) == "" {
		return api.Hold{}, fault.Errorf(fault.Invalid, "a legal hold needs a reason (e.g. the case or instruction)")
	}
	gw, err := s.gateway(ctx)
	if err != nil {
		return api.Hold{}, err
	}
	return gw.SetHold(ctx, matter, reason)
}

// ReleaseHold releases matter's legal hold.
func (s *Session) ReleaseHold(ctx context.Context, matter string) (api.Hold, error) {
	gw, err := s.gateway(ctx)
	if err != nil {
		return api.Hold{}, err
	}
	return gw.ReleaseHold(ctx, matter)
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
