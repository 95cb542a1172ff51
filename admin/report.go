package admin

// Reports: breach scoping (what a user touched, from the audit log) and a
// matter's storage usage at the gateway.

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/internal/fault"
)

// UsageCounter counts what a matter stores at the gateway.
type UsageCounter interface {
	Usage(ctx context.Context, matter string) (api.Usage, error)
}

// Usage returns what matter stores at the gateway: chunks, files,
// versions, bytes. A matter unknown to Vault is fault.NotFound.
func (s *Session) Usage(ctx context.Context, matter string) (api.Usage, error) {
	gw, err := s.gateway(ctx)
	if err != nil {
		return api.Usage{}, err
	}
	if err := s.RequireMatter(ctx, matter); err != nil {
		return api.Usage{}, err
	}
	return gw.Usage(ctx, matter)
}

// MatterActivity is what one user did on one matter.
type MatterActivity struct {
	Matter      string // "" for records without a matter (e.g. listing matters)
	First, Last time.Time
	// Actions counts the allowed requests by action, e.g. "chunk.get".
	Actions map[string]int
	// Refused counts the requests the gateway refused.
	Refused int
	// BytesRead and BytesWritten are the bytes of chunks and manifests
	// fetched and uploaded.
	BytesRead, BytesWritten int64
	// Objects are the objects touched, as "<action> <object ID>", sorted.
	Objects []string
}

// Activity is the breach-scoping report: for every matter a user touched
// in a time range, what they did, by matter ID. No record for a user,
// entity or matter unknown to Vault is fault.NotFound (a typo), not an
// empty report.
func (s *Session) Activity(ctx context.Context, q client.AuditQuery) ([]MatterActivity, error) {
	if q.User == "" && q.Entity == "" {
		return nil, fault.Errorf(fault.Invalid, "an activity report needs a user or an entity")
	}
	if q.Since.IsZero() {
		return nil, fault.Errorf(fault.Invalid, "an activity report needs a start time")
	}
	gw, err := s.gateway(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.requireQueryMatter(ctx, q); err != nil {
		return nil, err
	}
	by := map[string]*MatterActivity{}
	objects := map[string]map[string]bool{}
	err = gw.AuditExport(ctx, q, func(r *audit.Record) error {
		t := by[r.Matter]
		if t == nil {
			t = &MatterActivity{Matter: r.Matter, First: r.Time, Actions: map[string]int{}}
			by[r.Matter], objects[r.Matter] = t, map[string]bool{}
		}
		t.Last = r.Time
		if r.Result != audit.ResultOK {
			t.Refused++
			return nil
		}
		t.Actions[r.Action]++
		if r.Object != "" && r.Matter != "" {
			objects[r.Matter][r.Action+" "+r.Object] = true
		}
		switch r.Action {
		case "chunk.get", "file.get":
			t.BytesRead += r.Bytes
		case "chunk.put", "file.commit":
			t.BytesWritten += r.Bytes
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(by) == 0 {
		if err := s.requireQueryUser(ctx, q); err != nil {
			return nil, err
		}
	}
	out := make([]MatterActivity, 0, len(by))
	for m, t := range by {
		for o := range objects[m] {
			t.Objects = append(t.Objects, o)
		}
		slices.Sort(t.Objects)
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b MatterActivity) int { return strings.Compare(a.Matter, b.Matter) })
	return out, nil
}
