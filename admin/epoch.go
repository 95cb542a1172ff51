package admin

// Epochs at the gateway: the gateway refuses uploads sealed under epochs
// below a matter's current one, from agents whose key caches are not yet
// refreshed or with keys a removed member kept (FORMAT.md section 10).
// Every operation that creates or rotates an epoch in Vault tells the
// gateway as its own step.

import (
	"context"
	"errors"
	"fmt"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/internal/fault"
)

// Epochs is the gateway's view of matters' epochs.
type Epochs interface {
	Epoch(ctx context.Context, matter string) (api.Epoch, error)
	SetEpoch(ctx context.Context, matter string, epoch uint32) (api.Epoch, error)
}

// Epoch returns the epoch the gateway enforces for matter; 0 if it has
// seen none. A matter unknown to Vault is fault.NotFound.
func (s *Session) Epoch(ctx context.Context, matter string) (api.Epoch, error) {
	gw, err := s.gateway(ctx)
	if err != nil {
		return api.Epoch{}, err
	}
	if err := s.RequireMatter(ctx, matter); err != nil {
		return api.Epoch{}, err
	}
	return gw.Epoch(ctx, matter)
}

// SetEpoch makes the gateway refuse uploads sealed under epochs below
// epoch. It never lowers it: a lower epoch is a fault.Refused error.
// Previous == Epoch in the result means nothing changed. A matter
// unknown to Vault is fault.NotFound.
func (s *Session) SetEpoch(ctx context.Context, matter string, epoch uint32) (api.Epoch, error) {
	if epoch == 0 {
		return api.Epoch{}, fault.Errorf(fault.Invalid, "epoch 0: epochs start at 1")
	}
	gw, err := s.gateway(ctx)
	if err != nil {
		return api.Epoch{}, err
	}
	if err := s.RequireMatter(ctx, matter); err != nil {
		return api.Epoch{}, err
	}
	return gw.SetEpoch(ctx, matter, epoch)
}

// raiseEpoch sets matter's epoch at the gateway and returns the gateway's
// epoch afterwards: a gateway already at a higher one (a later rotation's
// step) is what the caller wants, not an error.
func raiseEpoch(ctx context.Context, gw Epochs, matter string, epoch uint32) (uint32, error) {
	ep, err := gw.SetEpoch(ctx, matter, epoch)
	var ce *client.Error
	if errors.As(err, &ce) && ce.Body.Code == api.CodeStaleEpoch && ce.Body.CurrentEpoch > epoch {
		return ce.Body.CurrentEpoch, nil
	}
	if err != nil {
		return 0, err
	}
	return ep.Epoch, nil
}

// gatewayEpoch is the "gateway epoch" step: only it moves the gateway's
// epoch (uploads never do). Without a gateway it warns and returns nil:
// the Vault work stands, and until someone runs `epoch set` the gateway
// keeps accepting the old epoch and refuses uploads under the new one.
func (s *Session) gatewayEpoch(ctx context.Context, matter string, epoch uint32) error {
	step := "gateway epoch " + matter
	gw, err := s.gateway(ctx)
	if errors.Is(err, ErrNoGateway) {
		s.report(Step{Name: step, Warning: true, Detail: fmt.Sprintf("%v: until it is told, it accepts uploads sealed under epochs below %d and refuses those under %d; run `mattersync-admin epoch set %s %d`",
			err, epoch, epoch, matter, epoch)})
		return nil
	}
	var got uint32
	if err == nil {
		got, err = raiseEpoch(ctx, gw, matter, epoch)
	}
	if err != nil {
		err = fmt.Errorf("gateway %s: %w", s.GatewayURL, err)
		s.report(Step{Name: step, Err: err})
		return err
	}
	detail := fmt.Sprintf("uploads sealed under epochs below %d refused at %s", epoch, s.GatewayURL)
	if got > epoch {
		detail = fmt.Sprintf("gateway at %s already at epoch %d", s.GatewayURL, got)
	}
	s.report(Step{Name: step, Detail: detail})
	return nil
}

// epochIncomplete is the error of an operation whose Vault steps
// succeeded but whose gateway epoch step failed (err); nil if err is nil.
func epochIncomplete(done, matter string, epoch uint32, err error) error {
	if err == nil {
		return nil
	}
	return fault.Errorf(fault.Incomplete, "INCOMPLETE: %s in Vault, but the gateway epoch step failed: %w; until it is done, agents with cached keys of older epochs can still upload: run `mattersync-admin epoch set %s %d`", done, err, matter, epoch)
}
