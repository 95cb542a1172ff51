package admin

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/internal/fault"
)

// The fake gateway's lifecycle: runs go through the states listed in
// runStates, one per Run call.

func (g *fakeGateway) Retention(_ context.Context, m string) (api.Retention, error) {
	return api.Retention{Matter: m, VersionsDays: 90, MinVersions: 3, DeletedDays: 30, Source: api.RetentionFirm}, g.call("retention %s", m)
}

func (g *fakeGateway) SetRetention(_ context.Context, m string, req api.RetentionRequest) (api.Retention, error) {
	return api.Retention{Matter: m, Source: api.RetentionMatter, Reason: req.Reason}, g.call("set retention %s %s", m, req.Reason)
}

func (g *fakeGateway) ClearRetention(_ context.Context, m, reason string) (api.Retention, error) {
	return api.Retention{Matter: m, Source: api.RetentionFirm}, g.call("clear retention %s %s", m, reason)
}

func (g *fakeGateway) Storage(_ context.Context, m string) (api.Storage, error) {
	return api.Storage{Matter: m}, g.call("storage %s", m)
}

func (g *fakeGateway) StartRun(_ context.Context, req api.RunRequest) (api.Run, error) {
	return api.Run{ID: 1, Matter: req.Matter, DryRun: req.DryRun, State: api.RunRequested}, g.call("start run %q dry=%v", req.Matter, req.DryRun)
}

func (g *fakeGateway) Run(_ context.Context, id int64) (api.Run, error) {
	if err := g.call("run %d", id); err != nil {
		return api.Run{}, err
	}
	r := g.runStates[0]
	if len(g.runStates) > 1 {
		g.runStates = g.runStates[1:]
	}
	r.ID = id
	return r, nil
}

func (g *fakeGateway) HoldStorage(_ context.Context, m string) (api.HoldStorage, error) {
	return api.HoldStorage{Matter: m}, g.call("hold storage %s", m)
}

func (g *fakeGateway) Shred(_ context.Context, m, reason string) (api.Shred, error) {
	return api.Shred{Matter: m}, g.call("shred %s %s", m, reason)
}

func (g *fakeGateway) CloseMatter(_ context.Context, m, reason string) (api.ClosedMatter, error) {
	return api.ClosedMatter{ID: m, Closed: time.Now()}, g.call("close %s %s", m, reason)
}

func (g *fakeGateway) ShredState(_ context.Context, m string) (api.Shred, error) {
	return api.Shred{Matter: m}, g.call("shred state %s", m)
}

func (g *fakeGateway) Runs(context.Context, int) ([]api.Run, error) {
	return nil, g.call("runs")
}

func TestRetentionNeedsAReason(t *testing.T) {
	ctx := context.Background()
	gw := newFakeGateway()
	s, _ := session(gw)
	days := 10
	if _, err := s.SetRetention(ctx, "m-1", api.RetentionRequest{VersionsDays: &days, Reason: " "}); fault.Of(err) != fault.Invalid || len(gw.calls) != 0 {
		t.Fatalf("set without a reason: %v, calls %v", err, gw.calls)
	}
	if _, err := s.SetRetention(ctx, "m-1", api.RetentionRequest{Reason: "x"}); fault.Of(err) != fault.Invalid || len(gw.calls) != 0 {
		t.Fatalf("set without a policy: %v, calls %v", err, gw.calls)
	}
	if _, err := s.ClearRetention(ctx, "m-1", ""); fault.Of(err) != fault.Invalid || len(gw.calls) != 0 {
		t.Fatalf("clear without a reason: %v, calls %v", err, gw.calls)
	}
	// Without Vault the matter cannot be checked: refused before the
	// gateway is asked.
	if _, err := s.SetRetention(ctx, "m-1", api.RetentionRequest{VersionsDays: &days, Reason: "x"}); fault.Of(err) != fault.Invalid || len(gw.calls) != 0 {
		t.Fatalf("set without Vault: %v, calls %v", err, gw.calls)
	}
}

func TestCollectGarbageFollowsTheRun(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		last  api.Run
		kind  fault.Kind
		lines int
	}{
		{"done", api.Run{State: api.RunDone, Summary: &api.RunSummary{Deleted: 3}}, fault.Other, 3},
		{"failed", api.Run{State: api.RunFailed, Error: "store down"}, fault.Other, 3},
		{"problems", api.Run{State: api.RunDone, Summary: &api.RunSummary{Errors: []string{"orphan sweep: bucket down"}}}, fault.Incomplete, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw := newFakeGateway()
			gw.runStates = []api.Run{{State: api.RunRequested}, {State: api.RunRunning, Progress: "purge: 1 versions"},
				{State: api.RunRunning, Progress: "purge: 1 versions"}, {State: api.RunRunning, Progress: "deleting: 3 objects"}, tc.last}
			s, steps := session(gw)
			run, err := s.CollectGarbage(ctx, api.RunRequest{DryRun: true}, RunOptions{Poll: time.Millisecond})
			switch {
			case tc.name == "done" && err != nil:
				t.Fatalf("run: %v", err)
			case tc.name != "done" && fault.Of(err) != tc.kind:
				t.Fatalf("run: %v (kind %v), want %v", err, fault.Of(err), tc.kind)
			}
			if run.State != tc.last.State {
				t.Fatalf("run = %+v", run)
			}
			var lines []string
			for _, st := range *steps {
				lines = append(lines, st.Detail)
			}
			if len(lines) != tc.lines || !strings.Contains(lines[1], "purge: 1 versions") || !strings.Contains(lines[2], "deleting") {
				t.Fatalf("progress lines = %q", lines)
			}
		})
	}
}
