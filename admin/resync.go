package admin

import (
	"context"
	"errors"
	"strings"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/internal/fault"
)

// Resyncer is the gateway's `matter resync` (gateway/client implements
// it): after the gateway's store was restored from a backup, agents that
// stopped syncing the matter because the gateway went back start again and
// commit what the restored store lacks (docs/EVIDENCE.md).
type Resyncer interface {
	Resync(ctx context.Context, matter, reason string) (api.Resync, error)
}

// ResyncMatter runs `matter resync` on matter; the reason is required and
// audited. A matter unknown to Vault is fault.NotFound.
func (s *Session) ResyncMatter(ctx context.Context, matter, reason string) (api.Resync, error) {
	if strings.TrimSpace(reason) == "" {
		return api.Resync{}, fault.Errorf(fault.Invalid, "a resync needs a reason (e.g. the store restored from the backup of 02:00)")
	}
	gw, err := s.gateway(ctx)
	if err != nil {
		return api.Resync{}, err
	}
	if err := s.RequireMatter(ctx, matter); err != nil {
		return api.Resync{}, err
	}
	r, ok := gw.(Resyncer)
	if !ok {
		return api.Resync{}, errors.New("this gateway client cannot resync matters")
	}
	return r.Resync(ctx, matter, reason)
}
