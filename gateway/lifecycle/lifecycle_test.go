package lifecycle_test

// The runner on SQLite and the in-memory bucket (fast tier); the same on
// PostgreSQL and MinIO runs in gateway/lifecycle_test.go.

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/blob/memblob"
	"github.com/mattersync/mattersync/gateway/lifecycle"
	"github.com/mattersync/mattersync/gateway/store"
	"github.com/mattersync/mattersync/gateway/store/sqlite"
)

type fixture struct {
	t     *testing.T
	st    *sqlite.Store
	mem   *memblob.Store
	roles lifecycle.Stores
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "gateway.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &fixture{t: t, st: st, mem: memblob.New(), roles: lifecycle.StoresOf(st)}
}

func (f *fixture) runner(b lifecycle.Blobs, now func() time.Time) *lifecycle.Runner {
	f.t.Helper()
	cfg := lifecycle.DefaultConfig()
	cfg.Poll = 100 * time.Millisecond
	r, err := lifecycle.New(cfg, f.roles, b, lifecycle.Options{Now: now})
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func rec(action, matter string) *audit.Record {
	return &audit.Record{Time: time.Now(), Entity: "e", User: "alice", Matter: matter, Action: action, Result: audit.ResultOK, Status: 200, RequestID: "r"}
}

// backends is the fixture as the fault tests' backends (SQLite and the
// in-memory bucket), whose helpers it shares.
func (f *fixture) backends() *backends { return &backends{t: f.t, st: f.st, roles: f.roles, b: f.mem} }

// chunk stores a chunk of matter: its object, then its record.
func (f *fixture) chunk(matter string, size int) format.ID {
	f.t.Helper()
	return f.backends().chunk(matter, size)
}

func (f *fixture) hold(matter string, on bool) {
	f.t.Helper()
	f.backends().hold(matter, on)
}

func later() time.Time { return time.Now().Add(48 * time.Hour) }

// TestHoldPass: a hold sets the legal hold on every object of its matter,
// which then cannot be deleted, and no run removes anything of it;
// lifting it clears them.
func TestHoldPass(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var keys []string
	for range 1200 { // more than one progress batch
		id := f.chunk("m", 10)
		k, _ := blob.ChunkKey("m", id)
		keys = append(keys, k)
	}
	other := f.chunk("x", 10)
	r := f.runner(f.mem, later)
	f.hold("m", true)
	var steps []store.Worm
	if err := r.HoldPass(ctx, f.mem, "m", func(w store.Worm) { steps = append(steps, w) }); err != nil {
		t.Fatal(err)
	}
	if len(steps) < 3 || steps[len(steps)-1].State != store.WormApplied || steps[len(steps)-1].Objects != 1200 {
		t.Fatalf("progress = %+v", steps)
	}
	for _, k := range keys {
		if held, err := f.mem.LegalHold(ctx, k, ""); err != nil || !held {
			t.Fatalf("%s held = %v, %v", k, held, err)
		}
	}
	ok, _ := blob.ChunkKey("x", other)
	if held, _ := f.mem.LegalHold(ctx, ok, ""); held {
		t.Fatal("another matter's object was held")
	}
	vs, _ := f.mem.KeyVersions(ctx, keys[0])
	if errs := f.mem.Delete(ctx, vs); !errors.Is(errs[0], blob.ErrHeld) {
		t.Fatalf("delete of a held object: %v", errs[0])
	}
	// Every record of the matter unreferenced, two days on: nothing goes.
	sum, err := r.Pass(ctx, lifecycle.PassOptions{})
	if err != nil || len(sum.Held) != 1 || sum.CollectedChunks != 1 || sum.Deleted != 1 || f.mem.Deletes() != 1 {
		t.Fatalf("pass under hold = %+v, %v (deletes %d: only matter x's chunk)", sum, err, f.mem.Deletes())
	}
	// Again is a no-op; lifting clears.
	if err := r.HoldPass(ctx, f.mem, "m", nil); err != nil {
		t.Fatal(err)
	}
	f.hold("m", false)
	if err := r.HoldPass(ctx, f.mem, "m", nil); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if held, _ := f.mem.LegalHold(ctx, k, ""); held {
			t.Fatalf("%s still held after release", k)
		}
	}
	if w, _ := f.st.Worm(ctx, "m"); w.State != store.WormNone {
		t.Fatalf("state after clearing = %+v", w)
	}
	sum, err = r.Pass(ctx, lifecycle.PassOptions{})
	if err != nil || sum.CollectedChunks != 1200 || sum.Deleted != 1200 {
		t.Fatalf("pass after release = %+v, %v", sum, err)
	}
}

// TestHoldPassNoObjectLock: a bucket without Object Lock fails the pass,
// saying so, and it is tried again later.
func TestHoldPassNoObjectLock(t *testing.T) {
	f := newFixture(t)
	f.mem = memblob.NewWithoutLock()
	f.chunk("m", 10)
	f.hold("m", true)
	r := f.runner(f.mem, nil)
	err := r.HoldPass(context.Background(), f.mem, "m", nil)
	if !errors.Is(err, blob.ErrNoObjectLock) {
		t.Fatalf("pass without Object Lock: %v", err)
	}
	w, _ := f.st.Worm(context.Background(), "m")
	if w.State != store.WormFailed || w.Error == "" {
		t.Fatalf("state = %+v", w)
	}
}

// gate blocks the deleter's first lookup of the versions it deletes (a
// range listing, which starts after a key, or a key's own) until
// released.
type gate struct {
	lifecycle.Blobs
	once    sync.Once
	reached chan struct{}
	release chan struct{}
}

func (g *gate) KeyVersions(ctx context.Context, key string) ([]blob.ObjectVersion, error) {
	g.once.Do(func() {
		close(g.reached)
		<-g.release
	})
	return g.Blobs.KeyVersions(ctx, key)
}

func (g *gate) Versions(ctx context.Context, prefix, startAfter string, fn func(blob.ObjectVersion) error) error {
	if startAfter != "" { // the orphan sweep lists from the start
		g.once.Do(func() {
			close(g.reached)
			<-g.release
		})
	}
	return g.Blobs.Versions(ctx, prefix, startAfter, fn)
}

// killer cancels a run after n deletions.
type killer struct {
	lifecycle.Blobs
	n      atomic.Int64
	cancel context.CancelFunc
}

func (k *killer) Delete(ctx context.Context, vs []blob.ObjectVersion) []error {
	errs := k.Blobs.Delete(ctx, vs)
	if k.n.Add(int64(len(vs))) >= 1000 {
		k.cancel()
	}
	return errs
}

// TestOneRunnerAtATime: two replicas' runners take the runs asked for
// one at a time (the store lease), and every run is done once.
func TestOneRunnerAtATime(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var busy, overlap atomic.Int64
	watch := &watched{Blobs: f.mem, busy: &busy, overlap: &overlap}
	r1, r2 := f.runner(watch, nil), f.runner(watch, nil)
	for range 20 {
		f.chunk("m", 10)
	}
	var ids []int64
	for range 6 {
		id, err := f.st.AddRun(ctx, store.LifecycleRun{State: store.RunRequested, RequestedBy: "alice", Requested: time.Now()}, rec("admin.storage.gc", ""))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	var wg sync.WaitGroup
	for _, r := range []*lifecycle.Runner{r1, r2} {
		wg.Add(1)
		go func() { defer wg.Done(); r.Run(ctx) }()
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range ids {
		for {
			run, err := f.st.LifecycleRun(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if run.State == store.RunDone {
				break
			}
			if run.State == store.RunFailed || time.Now().After(deadline) {
				t.Fatalf("run %d: %+v", id, run)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	cancel()
	wg.Wait()
	if overlap.Load() != 0 {
		t.Fatal("two runners listed the bucket at once")
	}
}

// watched counts listings in progress: two at once means two runners.
type watched struct {
	lifecycle.Blobs
	busy, overlap *atomic.Int64
}

func (w *watched) Versions(ctx context.Context, prefix, after string, fn func(blob.ObjectVersion) error) error {
	if w.busy.Add(1) > 1 {
		w.overlap.Add(1)
	}
	defer w.busy.Add(-1)
	time.Sleep(5 * time.Millisecond)
	return w.Blobs.Versions(ctx, prefix, after, fn)
}

// TestDryRunCountsWhatPurgeFrees: a dry run counts, besides the versions
// past retention, the chunks their purge would leave unreferenced (not
// those a kept version shares), as the real run then collects them.
func TestDryRunCountsWhatPurgeFrees(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, b, c, d := f.chunk("m", 100), f.chunk("m", 200), f.chunk("m", 400), f.chunk("m", 800)
	file := format.ID{7}
	for i, chunks := range [][]format.ID{{a, b}, {b, c}, {a, d}} {
		if _, err := f.st.Commit(ctx, store.Commit{Matter: "m", File: file, Base: int64(i), Size: 10, Chunks: chunks, Time: time.Now()}, nil, rec("file.commit", "m")); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.st.SetRetention(ctx, store.MatterRetention{Matter: "m", Retention: store.Retention{MinVersions: 1}, Reason: "r", SetBy: "alice", Time: time.Now()}, rec("admin.retention.set", "m")); err != nil {
		t.Fatal(err)
	}
	r := f.runner(f.mem, later)
	dry, err := r.Pass(ctx, lifecycle.PassOptions{DryRun: true})
	if err != nil || dry.PurgedVersions != 2 || dry.CollectedChunks != 2 || dry.CollectedObjects != 2 || dry.CollectedBytes != 600 {
		t.Fatalf("dry run = %+v, %v (want versions 1 and 2, chunks b and c: 600 bytes)", dry, err)
	}
	if f.mem.Deletes() != 0 || len(f.mem.Keys("m/m/c/")) != 4 {
		t.Fatal("the dry run changed something")
	}
	sum, err := r.Pass(ctx, lifecycle.PassOptions{})
	if err != nil || sum.PurgedVersions != 2 || sum.CollectedChunks != dry.CollectedChunks || sum.CollectedBytes != dry.CollectedBytes {
		t.Fatalf("run = %+v, %v; the dry run said %+v", sum, err, dry)
	}
}

// lookups counts how the deleter finds versions.
type lookups struct {
	lifecycle.Blobs
	ranges, keys atomic.Int64
}

func (l *lookups) Versions(ctx context.Context, prefix, startAfter string, fn func(blob.ObjectVersion) error) error {
	if startAfter != "" {
		l.ranges.Add(1)
	}
	return l.Blobs.Versions(ctx, prefix, startAfter, fn)
}

func (l *lookups) KeyVersions(ctx context.Context, key string) ([]blob.ObjectVersion, error) {
	l.keys.Add(1)
	return l.Blobs.KeyVersions(ctx, key)
}

// TestDeleterListsRanges: the deleter finds the versions of a batch of
// garbage lying together with one listing of their range, and falls back
// to a listing per key when live objects fill the range; either way it
// deletes exactly the garbage.
func TestDeleterListsRanges(t *testing.T) {
	for _, tc := range []struct {
		name          string
		garbage, live int
		perKey        bool
	}{{"dense", 1500, 10, false}, {"sparse", 20, 3000, true}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			for range tc.garbage {
				f.chunk("m", 10)
			}
			var live []format.ID
			for range tc.live {
				live = append(live, f.chunk("m", 10))
			}
			if _, err := f.st.Commit(ctx, store.Commit{Matter: "m", File: format.ID{1}, Size: 10, Chunks: live, Time: time.Now()}, nil, rec("file.commit", "m")); err != nil {
				t.Fatal(err)
			}
			l := &lookups{Blobs: f.mem}
			sum, err := f.runner(l, later).Pass(ctx, lifecycle.PassOptions{})
			if err != nil || sum.Deleted != int64(tc.garbage) || sum.Queued != 0 {
				t.Fatalf("run = %+v, %v", sum, err)
			}
			if got := len(f.mem.Keys("m/m/c/")); got != tc.live {
				t.Fatalf("%d objects left, want the %d live", got, tc.live)
			}
			if tc.perKey != (l.keys.Load() > 0) || l.ranges.Load() == 0 || !tc.perKey && l.ranges.Load() > 2 {
				t.Fatalf("%d range listings, %d key listings", l.ranges.Load(), l.keys.Load())
			}
		})
	}
}
