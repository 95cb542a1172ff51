package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

var batchTests = []struct {
	name string
	fn   func(*testing.T, Harness)
}{
	{"Batch", testBatch},
	{"BatchObjectExisted", testBatchObjectExisted},
	{"BatchSkippedCollected", testBatchSkippedCollected},
	{"BatchWriteFailure", testBatchWriteFailure},
	{"BatchClosed", testBatchClosed},
	{"BatchAuditFailure", testBatchAuditFailure},
	{"ConcurrentAuditAppends", testConcurrentAuditAppends},
	{"AuditAppendsCallerGone", testAuditAppendsCallerGone},
}

// batchChunk is a chunk of a test batch, stored by it, with its record.
func batchChunk(matter string, id format.ID) store.BatchChunk {
	return store.BatchChunk{Chunk: store.Chunk{Matter: matter, ID: id, Size: 7, Time: time.Now()}, Rec: Rec("chunk.put", matter), Stored: true}
}

// skippedChunk is a chunk of a test batch the matter had when the request
// looked: its body was dropped, nothing stored.
func skippedChunk(matter string, id format.ID) store.BatchChunk {
	c := batchChunk(matter, id)
	c.Stored = false
	return c
}

// writes are the manifest writes of a batch's commits, which the store
// may run at once.
type writes struct {
	mu sync.Mutex // guards m
	m  map[format.ID]int64
}

// batchCommit is a commit of a test batch whose manifest write records
// the version it was called for in wrote (if not nil).
func batchCommit(matter string, file format.ID, base int64, wrote *writes, chunks ...format.ID) store.BatchCommit {
	return store.BatchCommit{
		Commit: store.Commit{Matter: matter, File: file, Base: base, Size: 10, Chunks: chunks, Entity: "e-1", User: "alice", Device: "d", Time: time.Now()},
		Write: func(_ context.Context, v int64) (string, error) {
			if wrote != nil {
				wrote.mu.Lock()
				wrote.m[file] = v
				wrote.mu.Unlock()
			}
			return "k/" + file.String(), nil
		},
		Rec: Rec("file.commit", matter),
	}
}

// testBatch: one batch records its chunks and commits what passes the
// commit rules, refusing the rest one by one; one audit record per chunk
// and per commit; sequence numbers without gaps.
func testBatch(t *testing.T, h Harness) {
	s := h.Open(t)
	stored, planted, fresh, absent := RandomID(t), RandomID(t), RandomID(t), RandomID(t)
	putChunk(t, s, "m", stored, 5)
	putChunk(t, s, "m", planted, 5)
	edited := RandomID(t)
	mustCommit(t, s, store.Commit{Matter: "m", File: edited, Chunks: []format.ID{stored}})
	fNew, fStored, fEdit, fStale, fMissing, fPlanted := RandomID(t), RandomID(t), edited, RandomID(t), RandomID(t), RandomID(t)
	mustCommit(t, s, store.Commit{Matter: "m", File: fStale})
	before := auditCount(t, s)
	wrote := &writes{m: map[format.ID]int64{}}
	var refusedRecs []*audit.Record
	b := &store.Batch{Matter: "m",
		Chunks: []store.BatchChunk{batchChunk("m", fresh), skippedChunk("m", planted)},
		Commits: []store.BatchCommit{
			batchCommit("m", fNew, 0, wrote, fresh),
			batchCommit("m", fStored, 0, wrote, stored, fresh, stored),
			batchCommit("m", fEdit, 1, wrote, fresh),
			batchCommit("m", fStale, 0, wrote),
			batchCommit("m", fMissing, 0, wrote, absent),
			batchCommit("m", fPlanted, 0, wrote, planted),
		},
		Refused: func(err error, rec *audit.Record) {
			rec.Result = audit.ResultConflict
			refusedRecs = append(refusedRecs, rec)
		},
	}
	if err := s.Files.CommitBatch(ctx(t), b); err != nil {
		t.Fatalf("CommitBatch: %v", err)
	}
	if !b.Chunks[0].Created || b.Chunks[1].Created {
		t.Fatalf("chunks created = %v, %v; want true (new), false (stored before)", b.Chunks[0].Created, b.Chunks[1].Created)
	}
	var seqs []int64
	for i, want := range []int64{1, 1, 2} {
		c := b.Commits[i]
		if c.Err != nil || c.Version.Version != want {
			t.Fatalf("commit %d = v%d, %v; want v%d", i, c.Version.Version, c.Err, want)
		}
		seqs = append(seqs, c.Version.Seq)
		head, err := s.Files.Version(ctx(t), "m", c.Commit.File, 0)
		if err != nil || head.Version != want || head.ManifestKey != "k/"+c.Commit.File.String() || head.User != "alice" {
			t.Fatalf("head of commit %d = %+v, %v", i, head, err)
		}
	}
	if !slices.Equal(seqs, []int64{3, 4, 5}) {
		t.Fatalf("seqs = %v, want 3, 4, 5 (after the two commits before)", seqs)
	}
	wantMismatch(t, b.Commits[3].Err, 1)
	var missing *store.MissingChunksError
	if !errors.As(b.Commits[4].Err, &missing) || !slices.Equal(missing.IDs, []format.ID{absent}) {
		t.Fatalf("commit on an absent chunk = %v, want MissingChunksError", b.Commits[4].Err)
	}
	var present *store.PresentChunksError
	if !errors.As(b.Commits[5].Err, &present) || !slices.Equal(present.IDs, []format.ID{planted}) {
		t.Fatalf("commit on a sent chunk stored before = %v, want PresentChunksError naming it", b.Commits[5].Err)
	}
	for _, f := range []format.ID{fStale, fMissing, fPlanted} {
		if _, ok := wrote.m[f]; ok {
			t.Fatalf("a refused commit wrote its manifest")
		}
	}
	if _, err := s.Files.Version(ctx(t), "m", fMissing, 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused commit recorded: %v", err)
	}
	if len(refusedRecs) != 3 {
		t.Fatalf("Refused called %d times, want 3", len(refusedRecs))
	}
	if got := auditCount(t, s); got != before+2+6 {
		t.Fatalf("audit records = %d, want %d (one per chunk and per commit)", got-before, 2+6)
	}
	var actions []string
	if err := s.Audit.AuditRecords(ctx(t), audit.Query{AfterSeq: before}, func(r *audit.Record) error {
		actions = append(actions, r.Action+"/"+r.Result)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"chunk.put/ok", "chunk.put/ok", "file.commit/ok", "file.commit/ok", "file.commit/ok",
		"file.commit/conflict", "file.commit/conflict", "file.commit/conflict"}
	if !slices.Equal(actions, want) {
		t.Fatalf("audit records = %v, want %v", actions, want)
	}
	if missing, err := s.Chunks.MissingChunks(ctx(t), "m", []format.ID{fresh}); err != nil || len(missing) != 0 {
		t.Fatalf("batch chunk not recorded: %v, %v", missing, err)
	}
}

// testBatchObjectExisted: a chunk whose object the request found in
// storage without a record (blob.ErrExists: maybe planted by a writer who
// hung up before the store recorded it) is recorded with the stored
// object's size, as a chunk PUT does, and a commit on it is refused with
// PresentChunksError (the writer opens it first), never committed on
// bytes nobody checked.
func testBatchObjectExisted(t *testing.T, h Harness) {
	s := h.Open(t)
	planted, fresh := RandomID(t), RandomID(t)
	found := batchChunk("m", planted)
	found.Stored, found.Existed, found.Chunk.Size = false, true, 99
	fPlanted, fFresh := RandomID(t), RandomID(t)
	b := &store.Batch{Matter: "m", Chunks: []store.BatchChunk{found, batchChunk("m", fresh)},
		Commits: []store.BatchCommit{batchCommit("m", fPlanted, 0, nil, planted), batchCommit("m", fFresh, 0, nil, fresh)}}
	if err := s.Files.CommitBatch(ctx(t), b); err != nil {
		t.Fatalf("CommitBatch: %v", err)
	}
	var present *store.PresentChunksError
	if !errors.As(b.Commits[0].Err, &present) || !slices.Equal(present.IDs, []format.ID{planted}) {
		t.Fatalf("commit on an object found in storage = %+v, %v; want PresentChunksError naming it", b.Commits[0].Version, b.Commits[0].Err)
	}
	if _, err := s.Files.Version(ctx(t), "m", fPlanted, 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("commit on an object found in storage recorded: %v", err)
	}
	if b.Commits[1].Err != nil {
		t.Fatalf("commit on a chunk the batch stored: %v", b.Commits[1].Err)
	}
	if c, err := s.Chunks.Chunk(ctx(t), "m", planted); err != nil || c.Size != 99 {
		t.Fatalf("found chunk recorded as %+v, %v; want its stored size 99", c, err)
	}
	// A later batch finds it recorded: skipped, and still to be opened.
	f := RandomID(t)
	b = &store.Batch{Matter: "m", Chunks: []store.BatchChunk{skippedChunk("m", planted)}, Commits: []store.BatchCommit{batchCommit("m", f, 0, nil, planted)}}
	if err := s.Files.CommitBatch(ctx(t), b); err != nil {
		t.Fatalf("CommitBatch: %v", err)
	}
	if !errors.As(b.Commits[0].Err, &present) || b.Chunks[0].Created {
		t.Fatalf("second batch on the found chunk = %v (created %v), want PresentChunksError", b.Commits[0].Err, b.Chunks[0].Created)
	}
}

// testBatchSkippedCollected: a chunk the batch did not store because the
// matter had it, collected before the batch reaches the store, is not
// recorded again by the batch (its object is gone or going) and a commit
// on it is refused as missing; the chunk the batch stored is committed on.
func testBatchSkippedCollected(t *testing.T, h Harness) {
	s := h.Open(t)
	old, fresh := RandomID(t), RandomID(t)
	putChunk(t, s, "m", old, 5) // stored, unreferenced
	if r := collectAll(t, s, store.Collect{Matter: "m", Before: time.Now().Add(time.Hour)}); r.Chunks != 1 {
		t.Fatalf("collected %d chunks, want 1", r.Chunks)
	}
	fOld, fFresh := RandomID(t), RandomID(t)
	b := &store.Batch{Matter: "m", Chunks: []store.BatchChunk{skippedChunk("m", old), batchChunk("m", fresh)},
		Commits: []store.BatchCommit{batchCommit("m", fOld, 0, nil, old), batchCommit("m", fFresh, 0, nil, fresh)}}
	if err := s.Files.CommitBatch(ctx(t), b); err != nil {
		t.Fatalf("CommitBatch: %v", err)
	}
	var missing *store.MissingChunksError
	if !errors.As(b.Commits[0].Err, &missing) || !slices.Equal(missing.IDs, []format.ID{old}) {
		t.Fatalf("commit on a collected chunk = %+v, %v; want MissingChunksError naming it", b.Commits[0].Version, b.Commits[0].Err)
	}
	if b.Chunks[0].Created || !b.Chunks[1].Created {
		t.Fatalf("created = %v, %v; want false (skipped), true (stored)", b.Chunks[0].Created, b.Chunks[1].Created)
	}
	if b.Commits[1].Err != nil {
		t.Fatalf("commit on the chunk the batch stored: %v", b.Commits[1].Err)
	}
	if m, err := s.Chunks.MissingChunks(ctx(t), "m", []format.ID{old}); err != nil || len(m) != 1 {
		t.Fatalf("collected chunk recorded again by a batch that did not store it: %v, %v", m, err)
	}
}

// testBatchWriteFailure: a manifest that cannot be written fails the whole
// batch: no chunk, version or audit record.
func testBatchWriteFailure(t *testing.T, h Harness) {
	s := h.Open(t)
	c := RandomID(t)
	before := auditCount(t, s)
	boom := errors.New("blob store down")
	bad := batchCommit("m", RandomID(t), 0, nil, c)
	bad.Write = func(context.Context, int64) (string, error) { return "", boom }
	ok := batchCommit("m", RandomID(t), 0, nil, c)
	b := &store.Batch{Matter: "m", Chunks: []store.BatchChunk{batchChunk("m", c)}, Commits: []store.BatchCommit{ok, bad}}
	if err := s.Files.CommitBatch(ctx(t), b); !errors.Is(err, boom) {
		t.Fatalf("CommitBatch = %v, want the write error", err)
	}
	if got := auditCount(t, s); got != before {
		t.Fatalf("failed batch appended %d audit records", got-before)
	}
	if missing, err := s.Chunks.MissingChunks(ctx(t), "m", []format.ID{c}); err != nil || len(missing) != 1 {
		t.Fatalf("failed batch recorded its chunk: %v, %v", missing, err)
	}
	if _, err := s.Files.Version(ctx(t), "m", ok.Commit.File, 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("failed batch committed a file: %v", err)
	}
	if v := mustCommit(t, s, store.Commit{Matter: "m", File: RandomID(t)}); v.Seq != 1 {
		t.Fatalf("seq after failed batch = %d, want 1 (no gap)", v.Seq)
	}
}

// testBatchClosed: a batch reaching the store after its matter closed
// commits nothing; each commit is refused with ErrMatterClosed, audited.
func testBatchClosed(t *testing.T, h Harness) {
	s := h.Open(t)
	if _, _, err := s.Closed.CloseMatter(ctx(t), "m", "it", "file closed", time.Now(), Rec("admin.close", "m")); err != nil {
		t.Fatalf("CloseMatter: %v", err)
	}
	b := &store.Batch{Matter: "m", Commits: []store.BatchCommit{batchCommit("m", RandomID(t), 0, nil), batchCommit("m", RandomID(t), 0, nil)}}
	if err := s.Files.CommitBatch(ctx(t), b); err != nil {
		t.Fatalf("CommitBatch: %v", err)
	}
	for i, c := range b.Commits {
		if !errors.Is(c.Err, store.ErrMatterClosed) {
			t.Fatalf("commit %d to a closed matter = %v, want ErrMatterClosed", i, c.Err)
		}
		if _, err := s.Files.Version(ctx(t), "m", c.Commit.File, 0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("closed matter took commit %d: %v", i, err)
		}
	}
}

// testBatchAuditFailure: no audit record, no change.
func testBatchAuditFailure(t *testing.T, h Harness) {
	s := h.Open(t)
	c := RandomID(t)
	h.BreakAudit(t, s)
	f := RandomID(t)
	b := &store.Batch{Matter: "m", Chunks: []store.BatchChunk{batchChunk("m", c)}, Commits: []store.BatchCommit{batchCommit("m", f, 0, nil, c)}}
	if err := s.Files.CommitBatch(ctx(t), b); err == nil {
		t.Fatal("CommitBatch succeeded with audit broken")
	}
	if missing, err := s.Chunks.MissingChunks(ctx(t), "m", []format.ID{c}); err != nil || len(missing) != 1 {
		t.Fatalf("chunk recorded despite failed audit: %v, %v", missing, err)
	}
	if _, err := s.Files.Version(ctx(t), "m", f, 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("file committed despite failed audit: %v", err)
	}
}

// testConcurrentAuditAppends: records appended at once (group commit)
// each get their own place in one unbroken chain, and each call returns
// once its record is stored.
func testConcurrentAuditAppends(t *testing.T, h Harness) {
	s := h.Open(t)
	before := auditCount(t, s)
	const n = 64
	recs := make([]*audit.Record, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		recs[i] = Rec("chunk.get", "m")
		recs[i].RequestID = fmt.Sprintf("req-%d", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Audit.AppendAudit(ctx(t), recs[i])
		}()
	}
	wg.Wait()
	seqs := map[int64]bool{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("AppendAudit %d: %v", i, err)
		}
		if recs[i].Seq <= before || seqs[recs[i].Seq] {
			t.Fatalf("record %d got seq %d (before %d, seen %v)", i, recs[i].Seq, before, seqs[recs[i].Seq])
		}
		seqs[recs[i].Seq] = true
	}
	if got := auditCount(t, s); got != before+n {
		t.Fatalf("audit head = %d, want %d", got, before+n)
	}
	if rep := verify(t, s, nil); !rep.OK || rep.Records != before+n {
		t.Fatalf("chain after concurrent appends: %+v", rep)
	}
}

// testAuditAppendsCallerGone: callers whose context ends while their record
// waits for the group commit get an error, and then their record is not in
// the chain; a nil answer always means the record is stored.
func testAuditAppendsCallerGone(t *testing.T, h Harness) {
	s := h.Open(t)
	before := auditCount(t, s)
	const n = 96
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		rec := Rec("chunk.get", "m")
		rec.RequestID = fmt.Sprintf("req-%d", i)
		c := ctx(t)
		if i%2 == 1 {
			// Gone before (or while) the record waits.
			cc, cancel := context.WithCancel(c)
			cancel()
			c = cc
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Audit.AppendAudit(c, rec)
		}()
	}
	wg.Wait()
	var stored, gone int64
	for i, err := range errs {
		switch {
		case err == nil:
			stored++
		case i%2 == 0:
			t.Fatalf("AppendAudit %d (caller waiting): %v", i, err)
		case !errors.Is(err, context.Canceled):
			t.Fatalf("AppendAudit %d (caller gone): %v, want context.Canceled", i, err)
		default:
			gone++
		}
	}
	if got := auditCount(t, s); got != before+stored {
		t.Fatalf("audit head = %d, want %d (%d answered nil, %d gone)", got, before+stored, stored, gone)
	}
	if rep := verify(t, s, nil); !rep.OK || rep.Records != before+stored {
		t.Fatalf("chain: %+v", rep)
	}
}
