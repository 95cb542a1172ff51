package admin

// Retention policies live at the gateway: a matter's own, or the firm's
// default from the gateway config (docs/LIFECYCLE.md).

import (
	"context"
	"strings"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/internal/fault"
)

// Retention is the gateway's retention policies.
type Retention interface {
	Retention(ctx context.Context, matter string) (api.Retention, error)
	SetRetention(ctx context.Context, matter string, req api.RetentionRequest) (api.Retention, error)
	ClearRetention(ctx context.Context, matter, reason string) (api.Retention, error)
}

// Retention returns the policy that applies to matter. A matter unknown
// to Vault is fault.NotFound.
func (s *Session) Retention(ctx context.Context, matter string) (api.Retention, error) {
	gw, err := s.namedMatter(ctx, matter)
	if err != nil {
		return api.Retention{}, err
	}
	return gw.Retention(ctx, matter)
}

// SetRetention gives matter a policy of its own; fields left nil keep what
// applies now. The reason (who asked, which rule) is required and goes
// into the audit log with the administrator's name. The gateway refuses a
// policy that makes no sense, naming the problem (fault.Invalid).
func (s *Session) SetRetention(ctx context.Context, matter string, req api.RetentionRequest) (api.Retention, error) {
	if strings.TrimSpace(req.Reason) == "" {
		return api.Retention{}, fault.Errorf(fault.Invalid, "a retention change needs a reason (who asked, or which rule applies)")
	}
	if req.VersionsDays == nil && req.MinVersions == nil && req.DeletedDays == nil {
		return api.Retention{}, fault.Errorf(fault.Invalid, "give at least one of the versions days, the minimum versions, the deleted days")
	}
	gw, err := s.namedMatter(ctx, matter)
	if err != nil {
		return api.Retention{}, err
	}
	return gw.SetRetention(ctx, matter, req)
}

// ClearRetention returns matter to the firm's policy; the reason is
// required. A matter without a policy of its own is fault.NotFound.
func (s *Session) ClearRetention(ctx context.Context, matter, reason string) (api.Retention, error) {
	if strings.TrimSpace(reason) == "" {
		return api.Retention{}, fault.Errorf(fault.Invalid, "a retention change needs a reason (who asked, or which rule applies)")
	}
	gw, err := s.namedMatter(ctx, matter)
	if err != nil {
		return api.Retention{}, err
	}
	return gw.ClearRetention(ctx, matter, reason)
}

// namedMatter returns the gateway after checking that matter exists.
func (s *Session) namedMatter(ctx context.Context, matter string) (Gateway, error) {
	gw, err := s.gateway(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.RequireMatter(ctx, matter); err != nil {
		return nil, err
	}
	return gw, nil
}
