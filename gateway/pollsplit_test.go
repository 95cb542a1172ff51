package gateway_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
	"github.com/mattersync/mattersync/gateway/store/postgres"
	"github.com/mattersync/mattersync/internal/testenv"
)

// stuckAnchor is a checkpoint copy that takes as long as its context
// allows to write (a slow S3 or Vault).
type stuckAnchor struct{ entered chan struct{} }

func (a *stuckAnchor) Name() string { return "stuck" }
func (a *stuckAnchor) Witnessed(context.Context, func(*audit.Witnessed) error) error {
	return nil
}
func (a *stuckAnchor) Since(context.Context, int64, func(*audit.Witnessed) error) error { return nil }
func (a *stuckAnchor) Put(ctx context.Context, _ audit.Checkpoint) error {
	select {
	case a.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestSlowCheckpointKeepsDenyListFresh: a checkpoint that takes longer
// than deny_max_staleness (here an anchor write stuck for its 10 s) must
// not make the replica refuse every request with 503: the store poll that
// keeps the deny list fresh runs apart from checkpoint signing.
func TestSlowCheckpointKeepsDenyListFresh(t *testing.T) {
	stuck := &stuckAnchor{entered: make(chan struct{}, 1)}
	e := newEnv(t, envOpts{anchors: []gateway.Anchor{stuck}, tune: func(c *gateway.Config) {
		c.Audit.CheckpointInterval = time.Second
	}})
	tok := e.token("ent-1", "matter-a-rw")
	e.commit("a", tok, e.newFile("a"), 0) // something to sign
	select {
	case <-stuck.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("no checkpoint reached the anchor")
	}
	// The checkpoint is stuck in the anchor for its 10 s; the deny list
	// would be stale after deny_max_staleness.
	time.Sleep(3 * e.cfg.Limits.DenyMaxStaleness)
	if r := e.do("GET", "/v1/matters", tok, nil, nil); r.status != http.StatusOK {
		t.Fatalf("during a slow checkpoint: %d %s", r.status, r.body)
	}
	if r := e.opsGet("/readyz"); r.status != http.StatusOK {
		t.Fatalf("readyz during a slow checkpoint: %d %s", r.status, r.body)
	}
}

// TestBusyPoolKeepsDenyListFresh: when requests hold every connection of
// the PostgreSQL pool (a burst waiting on the audit head), the deny-list
// poll and the readiness ping still get a connection of their own: the
// replica stays ready and fresh instead of refusing everything with 503
// and leaving the balancer's pool.
func TestBusyPoolKeepsDenyListFresh(t *testing.T) {
	e := newEnv(t, envOpts{postgresDSN: testenv.Postgres(t)})
	pool := e.db.(*postgres.Store).Pool()
	ctx := context.Background()
	for range int(pool.Config().MaxConns) {
		c, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
	}
	time.Sleep(3 * e.cfg.Limits.DenyMaxStaleness)
	if r := e.opsGet("/readyz"); r.status != http.StatusOK {
		t.Fatalf("readyz with every request connection taken: %d %s", r.status, r.body)
	}
}

// TestBusyPoolReloadsDenyList: with every request connection taken, a
// deny another replica made is still reloaded here, and the replica stays
// fresh. The reload (after the generation moved) read the list on the
// request pool: it waited behind the requests past deny_max_staleness, so
// the replica refused everyone with 503 and enforced the deny seconds late
// (the 200-agent failover run, PERFORMANCE.md).
func TestBusyPoolReloadsDenyList(t *testing.T) {
	dsn := testenv.Postgres(t)
	e := newEnv(t, envOpts{postgresDSN: dsn})
	other, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	pool := e.db.(*postgres.Store).Pool()
	ctx := context.Background()
	for range int(pool.Config().MaxConns) {
		c, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
	}
	if _, _, err := other.AddDeny(ctx, store.DenyEntry{Entity: "ent-leaver", Name: "leaver", Time: time.Now()}, &audit.Record{Time: time.Now(), Action: "admin.deny", Result: audit.ResultOK}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deny list was not reloaded with every request connection taken", func() bool {
		return e.metric("mattersync_gateway_deny_list_entries") == 1
	})
	if r := e.opsGet("/readyz"); r.status != http.StatusOK {
		t.Fatalf("readyz with every request connection taken, after a deny elsewhere: %d %s", r.status, r.body)
	}
}
