package storetest

// The lifecycle's part of the contract: retention policies, purge,
// garbage collection, the deletion queue, the lease and runs.

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/store"
)

// lifecycleTests are the lifecycle's contract tests, run by Run.
var lifecycleTests = []struct {
	name string
	fn   func(*testing.T, Harness)
}{
	{"Retention", testRetention},
	{"PurgeVersions", testPurgeVersions},
	{"PurgeDeletedFiles", testPurgeDeletedFiles},
	{"PurgeRefusedUnderHold", testPurgeHold},
	{"CollectGarbage", testCollect},
	{"CollectRacesCommits", testCollectRace},
	{"ReuploadOfCollectedChunk", testReupload},
	{"Orphans", testOrphans},
	{"DeletionQueue", testDeletionQueue},
	{"Lease", testLease},
	{"Runs", testRuns},
	{"LifecycleUsage", testLifecycleUsage},
	{"StorageLegalHold", testWorm},
	{"Shred", testShred},
}

const day = 24 * time.Hour

func sysRec(action, matter string) *audit.Record {
	return &audit.Record{Time: time.Now(), Entity: "system", User: "mattersync-gateway", Matter: matter, Action: action, Result: audit.ResultOK, Status: 200, RequestID: "run"}
}

// auditActions returns the actions of matter's audit records, in order.
func auditActions(t *testing.T, s gateway.Stores, matter string) []string {
	t.Helper()
	var out []string
	err := s.Audit.AuditRecords(ctx(t), audit.Query{Matter: matter}, func(r *audit.Record) error {
		out = append(out, r.Action)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func testRetention(t *testing.T, h Harness) {
	s := h.Open(t)
	rs := s.Lifecycle.Retention
	if _, ok, err := rs.MatterRetention(ctx(t), "m"); ok || err != nil {
		t.Fatalf("MatterRetention of a matter without one = %v, %v", ok, err)
	}
	for _, bad := range []store.Retention{{VersionsDays: -1, MinVersions: 1}, {MinVersions: 0}, {MinVersions: 1, DeletedDays: store.MaxRetentionDays + 1},
		{MinVersions: store.MaxMinVersions + 1}} {
		before := auditCount(t, s)
		err := rs.SetRetention(ctx(t), store.MatterRetention{Matter: "m", Retention: bad, Reason: "r", SetBy: "alice", Time: time.Now()}, Rec("admin.retention.set", "m"))
		if err == nil {
			t.Fatalf("SetRetention(%+v) accepted", bad)
		}
		if auditCount(t, s) != before {
			t.Fatal("a refused policy was audited as a change")
		}
	}
	want := store.MatterRetention{Matter: "m", Retention: store.Retention{VersionsDays: 7, MinVersions: 2, DeletedDays: 3}, Reason: "client asked",
		SetBy: "alice", Time: time.Now().UTC().Truncate(time.Microsecond)}
	if err := rs.SetRetention(ctx(t), want, Rec("admin.retention.set", "m")); err != nil {
		t.Fatal(err)
	}
	got, ok, err := rs.MatterRetention(ctx(t), "m")
	if err != nil || !ok || got != want {
		t.Fatalf("MatterRetention = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	ms, err := s.Lifecycle.Collector.LifecycleMatters(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 0 {
		// A policy alone makes no matter to look at: nothing is stored.
		t.Fatalf("LifecycleMatters = %+v", ms)
	}
	if removed, err := rs.ClearRetention(ctx(t), "m", Rec("admin.retention.clear", "m")); err != nil || !removed {
		t.Fatalf("ClearRetention = %v, %v", removed, err)
	}
	if removed, err := rs.ClearRetention(ctx(t), "m", Rec("admin.retention.clear", "m")); err != nil || removed {
		t.Fatalf("second ClearRetention = %v, %v", removed, err)
	}
	if got := auditActions(t, s, "m"); !slices.Equal(got, []string{"admin.retention.set", "admin.retention.clear"}) {
		t.Fatalf("audit = %v", got)
	}
}

// history commits n versions of a new file in matter, version i at t0 +
// i days (i from 1), each with a chunk of its own and a manifest of 100+i
// bytes, and returns the file and its chunks.
func history(t *testing.T, s gateway.Stores, matter string, n int, t0 time.Time) (format.ID, []format.ID) {
	t.Helper()
	f := RandomID(t)
	var chunks []format.ID
	for i := 1; i <= n; i++ {
		c := RandomID(t)
		putChunk(t, s, matter, c, 1000)
		chunks = append(chunks, c)
		mustCommit(t, s, store.Commit{Matter: matter, File: f, Base: int64(i - 1), Size: int64(100 + i), Chunks: []format.ID{c},
			Time: t0.Add(time.Duration(i) * day)})
	}
	return f, chunks
}

func versionsOf(t *testing.T, s gateway.Stores, matter string, f format.ID) []int64 {
	t.Helper()
	vs, err := s.Files.Versions(ctx(t), matter, f, 0, 1000)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, v := range vs {
		out = append(out, v.Version)
	}
	return out
}

func purgeAll(t *testing.T, s gateway.Stores, p store.Purge) store.PurgeResult {
	t.Helper()
	var sum store.PurgeResult
	p.Files = 2 // several batches
	for {
		b, err := s.Lifecycle.Collector.PurgeBatch(ctx(t), p, sysRec("lifecycle.purge", p.Matter))
		if err != nil {
			t.Fatalf("PurgeBatch: %v", err)
		}
		sum.Add(b)
		if b.Done {
			return sum
		}
		p.After = b.Next
	}
}

func testPurgeVersions(t *testing.T, h Harness) {
	s := h.Open(t)
	t0 := time.Now().Add(-100 * day)
	// Versions 1..6 committed on days 1..6; now is day 20.
	f, chunks := history(t, s, "m", 6, t0)
	g, _ := history(t, s, "m", 1, t0)
	now := t0.Add(20 * day)
	policy := store.Retention{VersionsDays: 16, MinVersions: 2, DeletedDays: 30}
	// Version v is superseded on day v+1; kept while day v+1 > day 4,
	// i.e. v >= 4; versions 5 and 6 are also the newest two.
	dry := purgeAll(t, s, store.Purge{Matter: "m", Policy: policy, Now: now, DryRun: true})
	if dry.Versions != 3 || dry.Objects != 3 || dry.Bytes != 101+102+103 {
		t.Fatalf("dry purge = %+v", dry)
	}
	if got := versionsOf(t, s, "m", f); len(got) != 6 {
		t.Fatalf("a dry run removed versions: %v", got)
	}
	// What the purge would free: the three versions' own chunks.
	freed, err := s.Lifecycle.Collector.FreedBy(ctx(t), "m", time.Now().Add(time.Hour), dry.Gone)
	if err != nil || len(dry.Gone) != 3 || freed.Chunks != 3 || freed.Objects != 3 || freed.Bytes != 3000 {
		t.Fatalf("freed by the dry purge (%d versions) = %+v, %v; want 3 chunks, 3000 bytes", len(dry.Gone), freed, err)
	}
	if freed, err := s.Lifecycle.Collector.FreedBy(ctx(t), "m", t0, dry.Gone); err != nil || freed.Chunks != 0 {
		t.Fatalf("freed within the grace period = %+v, %v", freed, err)
	}
	before := auditCount(t, s)
	res := purgeAll(t, s, store.Purge{Matter: "m", Policy: policy, Now: now})
	if res.Versions != 3 || res.Files != 0 || res.Bytes != 306 {
		t.Fatalf("purge = %+v", res)
	}
	if got := versionsOf(t, s, "m", f); !slices.Equal(got, []int64{6, 5, 4}) {
		t.Fatalf("versions kept = %v, want 6 5 4", got)
	}
	if got := versionsOf(t, s, "m", g); !slices.Equal(got, []int64{1}) {
		t.Fatalf("the other file's versions = %v", got)
	}
	if auditCount(t, s) == before {
		t.Fatal("purge not audited")
	}
	// Again: nothing more.
	if again := purgeAll(t, s, store.Purge{Matter: "m", Policy: policy, Now: now}); again.Versions != 0 {
		t.Fatalf("second purge = %+v", again)
	}
	// The purged versions' chunks are garbage now; the kept ones' not.
	res2 := collectAll(t, s, store.Collect{Matter: "m", Before: time.Now().Add(time.Hour)})
	if res2.Chunks != 3 {
		t.Fatalf("collected %d chunks after the purge, want 3", res2.Chunks)
	}
	missing, _ := s.Chunks.MissingChunks(ctx(t), "m", chunks)
	if !slices.Equal(missing, chunks[:3]) {
		t.Fatalf("missing chunks after collection = %d, want the first 3", len(missing))
	}
	// The manifests are queued for deletion, under their plain keys.
	n, b, _, err := s.Lifecycle.Queue.DoomedCount(ctx(t), "m")
	if err != nil || n != 6 || b != 306+3000 {
		t.Fatalf("queued = %d objects, %d bytes, %v; want 6, 3306", n, b, err)
	}
	// Zero retention keeps the newest version with content only.
	res3 := purgeAll(t, s, store.Purge{Matter: "m", Policy: store.Retention{MinVersions: 1}, Now: now})
	if res3.Versions != 2 {
		t.Fatalf("zero-retention purge = %+v", res3)
	}
	if got := versionsOf(t, s, "m", f); !slices.Equal(got, []int64{6}) {
		t.Fatalf("versions kept = %v, want 6", got)
	}
	// Nonsense is refused.
	if _, err := s.Lifecycle.Collector.PurgeBatch(ctx(t), store.Purge{Matter: "m", Policy: store.Retention{MinVersions: 0}, Now: now}, sysRec("lifecycle.purge", "m")); err == nil {
		t.Fatal("a purge keeping no version was accepted")
	}
}

func testPurgeDeletedFiles(t *testing.T, h Harness) {
	s := h.Open(t)
	t0 := time.Now().Add(-100 * day)
	old, _ := history(t, s, "m", 3, t0)
	mustCommit(t, s, store.Commit{Matter: "m", File: old, Base: 3, Deleted: true, Size: 90, Time: t0.Add(4 * day)})
	recent, _ := history(t, s, "m", 3, t0)
	mustCommit(t, s, store.Commit{Matter: "m", File: recent, Base: 3, Deleted: true, Size: 90, Time: t0.Add(15 * day)})
	// Deleted, then brought back: not a deleted file any more.
	back, _ := history(t, s, "m", 1, t0)
	mustCommit(t, s, store.Commit{Matter: "m", File: back, Base: 1, Deleted: true, Size: 90, Time: t0.Add(2 * day)})
	mustCommit(t, s, store.Commit{Matter: "m", File: back, Base: 2, Size: 120, Time: t0.Add(3 * day)})
	now := t0.Add(20 * day)
	res := purgeAll(t, s, store.Purge{Matter: "m", Policy: store.Retention{VersionsDays: 1000, MinVersions: 1, DeletedDays: 10}, Now: now})
	if res.Files != 1 || res.Versions != 4 || res.Tombstones != 1 {
		t.Fatalf("purge = %+v", res)
	}
	if got := versionsOf(t, s, "m", old); got != nil {
		t.Fatalf("a file deleted 16 days ago keeps versions %v", got)
	}
	if _, err := s.Files.Version(ctx(t), "m", old, 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("purged file still readable: %v", err)
	}
	if got := versionsOf(t, s, "m", recent); len(got) != 4 {
		t.Fatalf("a file deleted 5 days ago lost versions: %v", got)
	}
	if got := versionsOf(t, s, "m", back); len(got) != 3 {
		t.Fatalf("a restored file lost versions: %v", got)
	}
	// The purged file's ID can be used again, from version 1.
	v := mustCommit(t, s, store.Commit{Matter: "m", File: old, Size: 50})
	if v.Version != 1 {
		t.Fatalf("new file at a purged ID got version %d", v.Version)
	}
	// With zero retention a deleted file goes at once, but a deleted
	// file keeps the version it can be restored to while it stays.
	res = purgeAll(t, s, store.Purge{Matter: "m", Policy: store.Retention{MinVersions: 1, DeletedDays: 30}, Now: now})
	if got := versionsOf(t, s, "m", recent); !slices.Equal(got, []int64{4, 3}) {
		t.Fatalf("deleted file within its days keeps %v, want the tombstone and the last content (4 3)", got)
	}
	_ = res
}

func testPurgeHold(t *testing.T, h Harness) {
	s := h.Open(t)
	t0 := time.Now().Add(-100 * day)
	f, _ := history(t, s, "m", 4, t0)
	if err := s.Holds.SetHold(ctx(t), store.Hold{Matter: "m", On: true, Reason: "litigation", ChangedBy: "alice", Time: time.Now()}, Rec("admin.hold.on", "m")); err != nil {
		t.Fatal(err)
	}
	putChunk(t, s, "m", RandomID(t), 10) // garbage
	before := auditCount(t, s)
	_, err := s.Lifecycle.Collector.PurgeBatch(ctx(t), store.Purge{Matter: "m", Policy: store.Retention{MinVersions: 1}, Now: time.Now()}, sysRec("lifecycle.purge", "m"))
	if !errors.Is(err, store.ErrLegalHold) {
		t.Fatalf("purge under hold: %v", err)
	}
	if got := versionsOf(t, s, "m", f); len(got) != 4 {
		t.Fatalf("purge under hold removed versions: %v", got)
	}
	if _, err := s.Lifecycle.Collector.CollectBatch(ctx(t), store.Collect{Matter: "m", Before: time.Now().Add(time.Hour)}, sysRec("lifecycle.gc", "m")); !errors.Is(err, store.ErrLegalHold) {
		t.Fatalf("collection under hold: %v", err)
	}
	if _, _, err := s.Lifecycle.Collector.DoomOrphans(ctx(t), "m", store.DoomOrphan, time.Now(), nil, sysRec("lifecycle.orphans", "m")); !errors.Is(err, store.ErrLegalHold) {
		t.Fatalf("orphans under hold: %v", err)
	}
	if auditCount(t, s) != before {
		t.Fatal("a refused purge or collection was audited")
	}
	ms, _ := s.Lifecycle.Collector.LifecycleMatters(ctx(t))
	if len(ms) != 1 || !ms[0].Hold {
		t.Fatalf("LifecycleMatters = %+v", ms)
	}
}

func collectAll(t *testing.T, s gateway.Stores, c store.Collect) store.CollectResult {
	t.Helper()
	var sum store.CollectResult
	c.Limit = 2
	for {
		b, err := s.Lifecycle.Collector.CollectBatch(ctx(t), c, sysRec("lifecycle.gc", c.Matter))
		if err != nil {
			t.Fatalf("CollectBatch: %v", err)
		}
		sum.Add(b)
		if b.Done {
			return sum
		}
		c.After = b.Next
	}
}

func testCollect(t *testing.T, h Harness) {
	s := h.Open(t)
	old := time.Now().Add(-48 * time.Hour)
	put := func(id format.ID, size int64, at time.Time) {
		t.Helper()
		if _, err := s.Chunks.PutChunk(ctx(t), store.Chunk{Matter: "m", ID: id, Size: size, Time: at}, Rec("chunk.put", "m")); err != nil {
			t.Fatal(err)
		}
	}
	used, garbage, fresh, replaced, other := RandomID(t), RandomID(t), RandomID(t), RandomID(t), RandomID(t)
	put(used, 10, old)
	put(garbage, 20, old)
	put(fresh, 30, time.Now())
	put(replaced, 40, old)
	if _, err := s.Chunks.PutChunk(ctx(t), store.Chunk{Matter: "x", ID: other, Size: 5, Time: old}, Rec("chunk.put", "x")); err != nil {
		t.Fatal(err)
	}
	plain, _ := blob.ChunkKey("m", replaced)
	if err := s.Chunks.ReplaceChunk(ctx(t), store.ChunkReplacement{Matter: "m", ID: replaced, NewKey: plain + ".r1", OldSize: 40, NewSize: 41,
		Time: time.Now()}, Rec("chunk.replace", "m")); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, store.Commit{Matter: "m", File: RandomID(t), Size: 5, Chunks: []format.ID{used}})
	grace := time.Now().Add(-24 * time.Hour)
	dry := collectAll(t, s, store.Collect{Matter: "m", Before: grace, DryRun: true})
	if dry.Chunks != 2 || dry.Objects != 3 || dry.Bytes != 20+40+41 {
		t.Fatalf("dry collection = %+v", dry)
	}
	if missing, _ := s.Chunks.MissingChunks(ctx(t), "m", []format.ID{garbage}); len(missing) != 0 {
		t.Fatal("a dry run removed a chunk")
	}
	res := collectAll(t, s, store.Collect{Matter: "m", Before: grace})
	if res.Chunks != 2 || res.Objects != 3 || res.Bytes != 101 {
		t.Fatalf("collection = %+v", res)
	}
	missing, _ := s.Chunks.MissingChunks(ctx(t), "m", []format.ID{used, garbage, fresh, replaced})
	if !slices.Equal(missing, []format.ID{garbage, replaced}) {
		t.Fatal("collected the wrong chunks: a referenced or fresh chunk went, or garbage stayed")
	}
	if m, _ := s.Chunks.MissingChunks(ctx(t), "x", []format.ID{other}); len(m) != 0 {
		t.Fatal("another matter's chunk was collected")
	}
	if got := auditActions(t, s, "m"); got[len(got)-1] != "lifecycle.gc" {
		t.Fatalf("collection not audited: %v", got)
	}
	// The queue holds the plain key and the replacement's.
	objs, err := s.Lifecycle.Queue.ClaimDoomed(ctx(t), "c1", "m", time.Now(), time.Now(), time.Now().Add(-time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	gk, _ := blob.ChunkKey("m", garbage)
	want := []string{gk, plain, plain + ".r1"}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Fatalf("queued keys = %v, want %v", keys, want)
	}
}

// testCollectRace runs collections with no grace at all against commits
// of fresh chunks: a commit may be refused (missing chunks), but one that
// succeeds never references a collected chunk.
func testCollectRace(t *testing.T, h Harness) {
	s := h.Open(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.Lifecycle.Collector.CollectBatch(ctx(t), store.Collect{Matter: "m", Before: time.Now().Add(time.Hour), Limit: 50}, sysRec("lifecycle.gc", "m")); err != nil {
				t.Errorf("CollectBatch: %v", err)
				return
			}
		}
	}()
	type committed struct {
		file   format.ID
		chunks []format.ID
	}
	var mu sync.Mutex
	var done []committed
	refused := 0
	var cw sync.WaitGroup
	for w := 0; w < 4; w++ {
		cw.Add(1)
		go func() {
			defer cw.Done()
			for i := 0; i < 15; i++ {
				chunks := []format.ID{RandomID(t), RandomID(t), RandomID(t)}
				for _, c := range chunks {
					if _, err := s.Chunks.PutChunk(ctx(t), store.Chunk{Matter: "m", ID: c, Size: 10, Time: time.Now()}, Rec("chunk.put", "m")); err != nil {
						t.Errorf("PutChunk: %v", err)
						return
					}
				}
				f := RandomID(t)
				_, err := s.Files.Commit(ctx(t), store.Commit{Matter: "m", File: f, Size: 10, Chunks: chunks, Time: time.Now()}, nil, Rec("file.commit", "m"))
				var miss *store.MissingChunksError
				mu.Lock()
				switch {
				case err == nil:
					done = append(done, committed{f, chunks})
				case errors.As(err, &miss):
					refused++
				default:
					t.Errorf("Commit: %v", err)
				}
				mu.Unlock()
			}
		}()
	}
	cw.Wait()
	close(stop)
	wg.Wait()
	for _, c := range done {
		if missing, err := s.Chunks.MissingChunks(ctx(t), "m", c.chunks); err != nil || len(missing) > 0 {
			t.Fatalf("a committed version references %d collected chunks (%v)", len(missing), err)
		}
	}
	t.Logf("%d commits kept every chunk, %d refused for missing chunks", len(done), refused)
}

func testReupload(t *testing.T, h Harness) {
	s := h.Open(t)
	c := RandomID(t)
	key, _ := blob.ChunkKey("m", c)
	putChunk(t, s, "m", c, 10)
	collect := func() {
		t.Helper()
		if r := collectAll(t, s, store.Collect{Matter: "m", Before: time.Now().Add(time.Hour)}); r.Chunks != 1 {
			t.Fatalf("collected %d chunks, want 1", r.Chunks)
		}
	}
	collect()
	// Uploaded again while its object is only queued: it takes it back.
	putChunk(t, s, "m", c, 10)
	if n, _, _, _ := s.Lifecycle.Queue.DoomedCount(ctx(t), "m"); n != 0 {
		t.Fatalf("queued objects after the chunk was recorded again: %d", n)
	}
	collect()
	objs, err := s.Lifecycle.Queue.ClaimDoomed(ctx(t), "c1", "", time.Now(), time.Now(), time.Now().Add(-time.Hour), 10)
	if err != nil || len(objs) != 1 || objs[0].Key != key {
		t.Fatalf("claimed %+v, %v", objs, err)
	}
	// Uploaded again while its object is being deleted: refused.
	_, err = s.Chunks.PutChunk(ctx(t), store.Chunk{Matter: "m", ID: c, Size: 10, Time: time.Now()}, Rec("chunk.put", "m"))
	if !errors.Is(err, store.ErrObjectGone) {
		t.Fatalf("PutChunk of a chunk whose object is being deleted: %v", err)
	}
	if m, _ := s.Chunks.MissingChunks(ctx(t), "m", []format.ID{c}); len(m) != 1 {
		t.Fatal("the refused upload was recorded")
	}
	if err := s.Lifecycle.Queue.FinishDoomed(ctx(t), "c1", time.Now(), []string{key}, nil, sysRec("lifecycle.delete", "m")); err != nil {
		t.Fatal(err)
	}
	// Once it is gone, the upload stores it anew.
	putChunk(t, s, "m", c, 10)
	if m, _ := s.Chunks.MissingChunks(ctx(t), "m", []format.ID{c}); len(m) != 0 {
		t.Fatal("chunk not recorded after its old object was deleted")
	}
}

func testOrphans(t *testing.T, h Harness) {
	s := h.Open(t)
	c, gone, f := RandomID(t), RandomID(t), RandomID(t)
	putChunk(t, s, "m", c, 10)
	write := func(ctx context.Context, v int64) (string, error) {
		k, _ := blob.ManifestAttemptKey("m", f, v, "won")
		return k, nil
	}
	if _, err := s.Files.Commit(ctx(t), store.Commit{Matter: "m", File: f, Size: 7, Chunks: []format.ID{c}, Time: time.Now()}, write, Rec("file.commit", "m")); err != nil {
		t.Fatal(err)
	}
	key := func(k string, err error) store.ObjectKey {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		p := blob.ParseKey(k)
		return store.ObjectKey{Key: k, Matter: "m", Kind: store.KeyKind(p.Kind), ID: p.ID, Version: p.Version, Plain: p.Attempt == "", Size: 3}
	}
	ck, _ := blob.ChunkKey("m", c)
	objs := []store.ObjectKey{
		key(blob.ChunkKey("m", c)),                     // named
		key(ck+".x1", nil),                             // a failed replacement
		key(blob.ChunkKey("m", gone)),                  // no record
		key(blob.ManifestAttemptKey("m", f, 1, "won")), // named
		key(blob.ManifestAttemptKey("m", f, 1, "lost")),
		key(blob.ManifestKey("m", f, 1)), // the plain key: the version has its own
		key(blob.ManifestKey("m", f, 2)), // no such version
		{Key: "m/m/notes.txt", Matter: "m", Kind: store.KeyOther, Size: 3},
	}
	dry, err := s.Lifecycle.Collector.Unreferenced(ctx(t), "m", time.Now(), objs)
	if err != nil || len(dry) != 5 {
		t.Fatalf("Unreferenced = %d, %v; want 5", len(dry), err)
	}
	n, b, err := s.Lifecycle.Collector.DoomOrphans(ctx(t), "m", store.DoomOrphan, time.Now(), objs, sysRec("lifecycle.orphans", "m"))
	if err != nil || n != 5 || b != 15 {
		t.Fatalf("DoomOrphans = %d, %d, %v; want 5, 15", n, b, err)
	}
	if n, _, err := s.Lifecycle.Collector.DoomOrphans(ctx(t), "m", store.DoomOrphan, time.Now(), objs, sysRec("lifecycle.orphans", "m")); err != nil || n != 0 {
		t.Fatalf("queued again: %d, %v", n, err)
	}
	// An orphan recorded meanwhile (a chunk whose record came late) leaves
	// the queue, instead of being deleted.
	putChunk(t, s, "m", gone, 3)
	objs2, err := s.Lifecycle.Queue.ClaimDoomed(ctx(t), "c", "", time.Now(), time.Now(), time.Now().Add(-time.Hour), 100)
	if err != nil || len(objs2) != 4 {
		t.Fatalf("claimed %d, %v; want 4", len(objs2), err)
	}
	for _, o := range objs2 {
		if o.ID == gone {
			t.Fatal("claimed the object of a chunk recorded meanwhile")
		}
	}
}

func testDeletionQueue(t *testing.T, h Harness) {
	s := h.Open(t)
	q := s.Lifecycle.Queue
	for _, m := range []string{"a", "b"} {
		for i := 0; i < 3; i++ {
			putChunk(t, s, m, RandomID(t), 10)
		}
		collectAll(t, s, store.Collect{Matter: m, Before: time.Now().Add(time.Hour)})
	}
	if err := s.Holds.SetHold(ctx(t), store.Hold{Matter: "b", On: true, Reason: "r", ChangedBy: "x", Time: time.Now()}, Rec("admin.hold.on", "b")); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	objs, err := q.ClaimDoomed(ctx(t), "c1", "", now, now, now.Add(-time.Hour), 100)
	if err != nil || len(objs) != 3 {
		t.Fatalf("claimed %d, %v; want 3 (matter b is on hold)", len(objs), err)
	}
	for _, o := range objs {
		if o.Matter != "a" || o.Why != store.DoomGC || o.Kind != store.KeyChunk || !o.Plain || o.Size != 10 {
			t.Fatalf("claimed %+v", o)
		}
	}
	// Claimed objects are not claimed again until the claim is stale.
	if again, _ := q.ClaimDoomed(ctx(t), "c2", "", now, now, now.Add(-time.Hour), 100); len(again) != 0 {
		t.Fatalf("claimed twice: %d", len(again))
	}
	before := auditCount(t, s)
	err = q.FinishDoomed(ctx(t), "c1", now, []string{objs[0].Key}, map[string]string{objs[1].Key: "kept by the storage"}, sysRec("lifecycle.delete", "a"))
	if err != nil {
		t.Fatal(err)
	}
	if auditCount(t, s) != before+1 {
		t.Fatal("deletion not audited")
	}
	n, bytes, failed, err := q.DoomedCount(ctx(t), "a")
	if err != nil || n != 2 || bytes != 20 || failed != 1 {
		t.Fatalf("DoomedCount(a) = %d, %d, %d, %v", n, bytes, failed, err)
	}
	// The one put back waits for a later run; the stale claim is taken.
	later := now.Add(time.Hour)
	objs2, err := q.ClaimDoomed(ctx(t), "c3", "a", later, now, later.Add(-time.Minute), 100)
	if err != nil || len(objs2) != 1 || objs2[0].Key != objs[2].Key {
		t.Fatalf("claimed %+v, %v; want the stale claim only", objs2, err)
	}
	objs3, err := q.ClaimDoomed(ctx(t), "c4", "a", later, later, later.Add(-time.Minute), 100)
	if err != nil || len(objs3) != 1 || objs3[0].Key != objs[1].Key {
		t.Fatalf("retry claimed %+v, %v", objs3, err)
	}
	// A claim that is not the key's changes nothing.
	if err := q.FinishDoomed(ctx(t), "c1", later, []string{objs3[0].Key}, nil, sysRec("lifecycle.delete", "a")); err != nil {
		t.Fatal(err)
	}
	if n, _, _, _ := q.DoomedCount(ctx(t), "a"); n != 2 {
		t.Fatalf("a stale claim finished another's deletion: %d left", n)
	}
}

func testLease(t *testing.T, h Harness) {
	s := h.Open(t)
	r := s.Lifecycle.Runs
	now := time.Now()
	take := func(holder string, at time.Time) bool {
		t.Helper()
		ok, err := r.TakeLease(ctx(t), "lifecycle", holder, at, at.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !take("a", now) {
		t.Fatal("a free lease was not taken")
	}
	if take("b", now.Add(30*time.Second)) {
		t.Fatal("a held lease was taken by another")
	}
	if !take("a", now.Add(30*time.Second)) {
		t.Fatal("the holder could not renew")
	}
	if take("b", now.Add(80*time.Second)) {
		t.Fatal("a renewed lease was taken before it expired")
	}
	if !take("b", now.Add(2*time.Minute)) {
		t.Fatal("an expired lease was not taken")
	}
	if err := r.ReleaseLease(ctx(t), "lifecycle", "a"); err != nil {
		t.Fatal(err)
	}
	if take("a", now.Add(2*time.Minute)) {
		t.Fatal("a release by a former holder freed the lease")
	}
	if err := r.ReleaseLease(ctx(t), "lifecycle", "b"); err != nil {
		t.Fatal(err)
	}
	if !take("a", now.Add(2*time.Minute)) {
		t.Fatal("a released lease was not taken")
	}
}

func testRuns(t *testing.T, h Harness) {
	s := h.Open(t)
	r := s.Lifecycle.Runs
	now := time.Now().UTC().Truncate(time.Microsecond)
	if _, ok, err := r.StartRun(ctx(t), "r1", now); ok || err != nil {
		t.Fatalf("StartRun with none requested = %v, %v", ok, err)
	}
	before := auditCount(t, s)
	id, err := r.AddRun(ctx(t), store.LifecycleRun{Matter: "m", DryRun: true, RequestedBy: "alice", State: store.RunRequested, Requested: now}, Rec("admin.storage.gc", "m"))
	if err != nil {
		t.Fatal(err)
	}
	if auditCount(t, s) != before+1 {
		t.Fatal("a requested run was not audited")
	}
	run, ok, err := r.StartRun(ctx(t), "r1", now.Add(time.Second))
	if err != nil || !ok || run.ID != id || run.State != store.RunRunning || run.Replica != "r1" || !run.DryRun || run.Matter != "m" || run.RequestedBy != "alice" {
		t.Fatalf("StartRun = %+v, %v, %v", run, ok, err)
	}
	if _, ok, _ := r.StartRun(ctx(t), "r2", now); ok {
		t.Fatal("a run started twice")
	}
	run.Progress, run.Summary, run.State, run.Updated = "done", `{"matters":1}`, store.RunDone, now.Add(2*time.Second)
	if err := r.UpdateRun(ctx(t), run); err != nil {
		t.Fatal(err)
	}
	got, err := r.LifecycleRun(ctx(t), id)
	if err != nil || got != run {
		t.Fatalf("LifecycleRun = %+v, %v; want %+v", got, err, run)
	}
	id2, err := r.AddRun(ctx(t), store.LifecycleRun{State: store.RunRunning, Replica: "r1", Requested: now, Started: now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := r.LifecycleRuns(ctx(t), 10)
	if err != nil || len(runs) != 2 || runs[0].ID != id2 || runs[1].ID != id {
		t.Fatalf("LifecycleRuns = %+v, %v", runs, err)
	}
	if _, err := r.LifecycleRun(ctx(t), id2+100); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing run: %v", err)
	}
}

func testLifecycleUsage(t *testing.T, h Harness) {
	s := h.Open(t)
	t0 := time.Now().Add(-10 * day)
	// f: versions 1, 2 (head); g: deleted; one garbage chunk.
	f, _ := history(t, s, "m", 2, t0)
	g, _ := history(t, s, "m", 1, t0)
	mustCommit(t, s, store.Commit{Matter: "m", File: g, Base: 1, Deleted: true, Size: 90, Time: t0.Add(3 * day)})
	putChunk(t, s, "m", RandomID(t), 7)
	_ = f
	u, err := s.Lifecycle.Collector.LifecycleUsage(ctx(t), "m")
	if err != nil {
		t.Fatal(err)
	}
	want := store.LifecycleUsage{LiveChunks: 1, LiveChunkBytes: 1000, OldChunks: 2, OldChunkBytes: 2000, Garbage: 1, GarbageBytes: 7,
		LiveManifests: 1, LiveBytes: 102, OldManifests: 3, OldBytes: 101 + 101 + 90}
	if u != want {
		t.Fatalf("LifecycleUsage = %+v\nwant %+v", u, want)
	}
}

func testWorm(t *testing.T, h Harness) {
	s := h.Open(t)
	ws := s.Lifecycle.Worm
	if w, err := ws.Worm(ctx(t), "m"); err != nil || w.State != store.WormNone || w.On {
		t.Fatalf("Worm of an unknown matter = %+v, %v", w, err)
	}
	hold := func(on bool) {
		t.Helper()
		if err := s.Holds.SetHold(ctx(t), store.Hold{Matter: "m", On: on, Reason: "r", ChangedBy: "alice", Time: time.Now()}, Rec("admin.hold", "m")); err != nil {
			t.Fatal(err)
		}
	}
	// Released without ever being held: nothing to clear.
	hold(false)
	if p, _ := ws.WormPending(ctx(t)); len(p) != 0 {
		t.Fatalf("pending after a release of nothing: %+v", p)
	}
	hold(true)
	w, err := ws.Worm(ctx(t), "m")
	if err != nil || !w.On || w.State != store.WormApplying || w.Cursor != "" || w.Gen == 0 {
		t.Fatalf("Worm after hold on = %+v, %v", w, err)
	}
	w.Cursor, w.Objects, w.Time = "m/m/c/01", 500, time.Now()
	if ok, err := ws.WormProgress(ctx(t), w, nil); !ok || err != nil {
		t.Fatalf("WormProgress = %v, %v", ok, err)
	}
	if p, err := ws.WormPending(ctx(t)); err != nil || len(p) != 1 || p[0].Cursor != "m/m/c/01" || p[0].Objects != 500 {
		t.Fatalf("WormPending = %+v, %v", p, err)
	}
	// The hold is lifted halfway: the pass of the old hold stops; a new
	// pass clears from the start.
	hold(false)
	before := auditCount(t, s)
	w.State, w.Cursor = store.WormApplied, ""
	if ok, err := ws.WormProgress(ctx(t), w, sysRec("lifecycle.hold.apply", "m")); ok || err != nil {
		t.Fatalf("WormProgress of a changed hold = %v, %v", ok, err)
	}
	if auditCount(t, s) != before {
		t.Fatal("a refused progress was audited")
	}
	w2, _ := ws.Worm(ctx(t), "m")
	if w2.On || w2.State != store.WormClearing || w2.Cursor != "" || w2.Objects != 0 || w2.Gen == w.Gen {
		t.Fatalf("Worm after hold off = %+v", w2)
	}
	w2.State, w2.Time = store.WormNone, time.Now()
	if ok, err := ws.WormProgress(ctx(t), w2, sysRec("lifecycle.hold.clear", "m")); !ok || err != nil {
		t.Fatalf("WormProgress = %v, %v", ok, err)
	}
	if auditCount(t, s) != before+1 {
		t.Fatal("the finished pass was not audited")
	}
	if p, _ := ws.WormPending(ctx(t)); len(p) != 0 {
		t.Fatalf("pending after the pass: %+v", p)
	}
}

func testShred(t *testing.T, h Harness) {
	s := h.Open(t)
	sh := s.Lifecycle.Shred
	t0 := time.Now().Add(-10 * day)
	f, _ := history(t, s, "m", 3, t0)
	putChunk(t, s, "m", RandomID(t), 7)
	keep, _ := history(t, s, "x", 2, t0)
	if st, err := sh.ShredState(ctx(t), "m"); err != nil || !st.Time.IsZero() {
		t.Fatalf("ShredState before = %+v, %v", st, err)
	}
	// Garbage queued before the shred counts as destroyed by it.
	if err := s.Lifecycle.Retention.SetRetention(ctx(t), store.MatterRetention{Matter: "m", Retention: store.Retention{MinVersions: 1}, Reason: "r", SetBy: "a", Time: time.Now()}, Rec("admin.retention.set", "m")); err != nil {
		t.Fatal(err)
	}
	purgeAll(t, s, store.Purge{Matter: "m", Policy: store.Retention{MinVersions: 1}, Now: time.Now()})
	if err := s.Holds.SetHold(ctx(t), store.Hold{Matter: "m", On: true, Reason: "r", ChangedBy: "a", Time: time.Now()}, Rec("admin.hold.on", "m")); err != nil {
		t.Fatal(err)
	}
	before := auditCount(t, s)
	if _, err := sh.ShredMatter(ctx(t), "m", "alice", "closed", time.Now(), Rec("admin.shred", "m")); !errors.Is(err, store.ErrLegalHold) {
		t.Fatalf("shred under hold: %v", err)
	}
	if auditCount(t, s) != before || len(versionsOf(t, s, "m", f)) != 1 {
		t.Fatal("a refused shred changed something")
	}
	if err := s.Holds.SetHold(ctx(t), store.Hold{Matter: "m", On: false, Reason: "r", ChangedBy: "a", Time: time.Now()}, Rec("admin.hold.off", "m")); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	res, err := sh.ShredMatter(ctx(t), "m", "alice", "file closed 2026-01-31", now, Rec("admin.shred", "m"))
	if err != nil {
		t.Fatal(err)
	}
	// f's current version (v1, v2 purged) and its chunks (3) and the loose one.
	if res.Files != 1 || res.Versions != 1 || res.Chunks != 4 || res.Objects != 5 || res.Bytes != 4*1000-1000+7+103 {
		t.Fatalf("ShredMatter = %+v", res)
	}
	if got := versionsOf(t, s, "m", f); got != nil {
		t.Fatalf("versions after shred: %v", got)
	}
	if u, _ := s.Usage.Usage(ctx(t), "m"); u.Chunks != 0 || u.Files != 0 || u.Versions != 0 {
		t.Fatalf("usage after shred = %+v", u)
	}
	if _, ok, _ := s.Lifecycle.Retention.MatterRetention(ctx(t), "m"); ok {
		t.Fatal("retention kept after shred")
	}
	if got := versionsOf(t, s, "x", keep); len(got) != 2 {
		t.Fatal("another matter lost versions")
	}
	ms, _ := s.Lifecycle.Collector.LifecycleMatters(ctx(t))
	for _, m := range ms {
		if (m.Matter == "m") == m.Shredded.IsZero() {
			t.Fatalf("LifecycleMatters: %+v", m)
		}
	}
	// Deleting the queued objects tallies what the shred destroyed.
	objs, err := s.Lifecycle.Queue.ClaimDoomed(ctx(t), "c", "m", time.Now(), time.Now(), time.Now().Add(-time.Hour), 100)
	if err != nil || len(objs) != 2 {
		t.Fatalf("claimed %d, %v; want the purge's 2 manifests", len(objs), err)
	}
	var keys []string
	for _, o := range objs {
		if o.Why != store.DoomShred {
			t.Fatalf("queued before the shred, not counted as its: %+v", o)
		}
		keys = append(keys, o.Key)
	}
	if err := s.Lifecycle.Queue.FinishDoomed(ctx(t), "c", time.Now(), keys, nil, sysRec("lifecycle.delete", "m")); err != nil {
		t.Fatal(err)
	}
	st, err := sh.ShredState(ctx(t), "m")
	if err != nil || !st.Time.Equal(now) || st.By != "alice" || st.Reason != "file closed 2026-01-31" || st.Objects != 2 || st.Bytes != 101+102 {
		t.Fatalf("ShredState = %+v, %v", st, err)
	}
	// Again: the first time and who stay.
	if _, err := sh.ShredMatter(ctx(t), "m", "bob", "again", now.Add(time.Hour), Rec("admin.shred", "m")); err != nil {
		t.Fatal(err)
	}
	if st2, _ := sh.ShredState(ctx(t), "m"); !st2.Time.Equal(now) || st2.By != "alice" {
		t.Fatalf("ShredState after a second shred = %+v", st2)
	}
	if _, err := sh.Destruction(ctx(t), "m"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Destruction before = %v", err)
	}
	d := store.Destruction{Matter: "m", Record: []byte(`{"matter":"m"}`), KeyID: "k1", Signature: []byte{1, 2, 3}, Time: now}
	if added, err := sh.AddDestruction(ctx(t), d, sysRec("lifecycle.shred.done", "m")); !added || err != nil {
		t.Fatalf("AddDestruction = %v, %v", added, err)
	}
	d2 := d
	d2.Record = []byte(`{"matter":"other"}`)
	if added, err := sh.AddDestruction(ctx(t), d2, sysRec("lifecycle.shred.done", "m")); added || err != nil {
		t.Fatalf("second AddDestruction = %v, %v", added, err)
	}
	got, err := sh.Destruction(ctx(t), "m")
	if err != nil || string(got.Record) != string(d.Record) || got.KeyID != "k1" || string(got.Signature) != string(d.Signature) || !got.Time.Equal(now) {
		t.Fatalf("Destruction = %+v, %v", got, err)
	}
}
