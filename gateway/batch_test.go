package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/store"
)

// TestBatch: one request stores chunks and commits several files, each
// commit checked and answered on its own, one audit record per chunk and
// per commit; a bad item refuses the whole batch before anything is
// stored; the permission, size and closed-matter checks of single
// requests apply.
func TestBatch(t *testing.T) {
	e := newEnv(t, envOpts{tune: func(c *gateway.Config) { c.Limits.MaxBatchBytes = 1 << 20 }})
	ctx := context.Background()
	const m = "2026-0001"
	aliceTok := e.token("ent-alice", "matter-2026-0001-rw")
	alice, _ := client.New(e.url, client.StaticToken(aliceTok), client.Options{Device: "LAPTOP-7"})
	bob, _ := client.New(e.url, client.StaticToken(e.token("ent-bob", "matter-2026-0001-ro")), client.Options{Device: "MAC-2"})

	c1, b1 := e.chunk(m, 3000)
	c2, b2 := e.chunk(m, 5000)
	planted, _ := e.putChunk(m, aliceTok, 700) // stored before the batch
	_, pb := e.chunk(m, 10)
	fa, fb, fc, fd := e.newFile(m), e.newFile(m), e.newFile(m), e.newFile(m)
	req := api.BatchRequest{
		Chunks: []api.BatchChunk{{ID: c1.String(), Sealed: b1}, {ID: c2.String(), Sealed: b2}},
		Commits: []api.BatchCommit{
			{FileID: fa.String(), Manifest: e.manifest(m, fa, 1, c1), Chunks: []string{c1.String()}},
			{FileID: fb.String(), Manifest: e.manifest(m, fb, 1, c1, c2), Chunks: []string{c1.String(), c2.String()}},
			{FileID: fc.String(), Base: 1, Manifest: e.manifest(m, fc, 2)},
		},
	}
	if _, err := bob.Batch(ctx, m, req); client.Code(err) != api.CodeForbidden {
		t.Fatalf("batch of a reader = %v, want forbidden", err)
	}
	res, err := alice.Batch(ctx, m, req)
	if err != nil {
		t.Fatalf("Batch: %v", err)
	}
	if !res.Chunks[0].Created || !res.Chunks[1].Created {
		t.Fatalf("chunks = %+v, want both created", res.Chunks)
	}
	if r := res.Commits[0]; r.Status != http.StatusCreated || r.Version != 1 || r.Error != nil {
		t.Fatalf("commit a = %+v", r)
	}
	if r := res.Commits[1]; r.Status != http.StatusCreated || r.Version != 1 || r.Seq != res.Commits[0].Seq+1 {
		t.Fatalf("commit b = %+v", r)
	}
	if r := res.Commits[2]; r.Status != http.StatusPreconditionFailed || r.Error == nil || r.Error.Code != api.CodeVersionMismatch || *r.Error.CurrentVersion != 0 {
		t.Fatalf("commit c from a base that is not the head = %+v", r)
	}
	fv, err := bob.File(ctx, m, fb.String(), 0)
	if err != nil || !bytes.Equal(fv.Manifest, req.Commits[1].Manifest) {
		t.Fatalf("File(b) = %+v, %v", fv, err)
	}
	if got, err := bob.GetChunk(ctx, m, c2.String()); err != nil || !bytes.Equal(got, b2) {
		t.Fatalf("GetChunk(c2) = %d bytes, %v", len(got), err)
	}
	var recs []string
	var reqID string
	if err := e.store.Audit.AuditRecords(ctx, audit.Query{}, func(r *audit.Record) error {
		if r.Action == "file.commit" && r.Object == fa.String()+"@1" {
			reqID = r.RequestID
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Audit.AuditRecords(ctx, audit.Query{}, func(r *audit.Record) error {
		if r.RequestID == reqID {
			if r.Entity != "ent-alice" || r.Device != "LAPTOP-7" || r.Matter != m {
				t.Errorf("record %+v lacks the caller", r)
			}
			recs = append(recs, r.Action+" "+r.Object+" "+r.Result)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"chunk.put " + c1.String() + " ok", "chunk.put " + c2.String() + " ok",
		"file.commit " + fa.String() + "@1 ok", "file.commit " + fb.String() + "@1 ok", "file.commit " + fc.String() + " conflict"}
	if !slices.Equal(recs, want) {
		t.Fatalf("audit records of the batch:\n%q\nwant\n%q", recs, want)
	}

	// A chunk sent that the matter had already (someone else's upload,
	// maybe a planted one): not committed on until the writer opened it.
	res, err = alice.Batch(ctx, m, api.BatchRequest{
		Chunks:  []api.BatchChunk{{ID: planted.String(), Sealed: sealedFor(e, m, planted)}},
		Commits: []api.BatchCommit{{FileID: fd.String(), Manifest: e.manifest(m, fd, 1, planted), Chunks: []string{planted.String()}}},
	})
	if err != nil || res.Chunks[0].Created || res.Commits[0].Status != http.StatusConflict || res.Commits[0].Error.Code != api.CodeChunksPresent ||
		!slices.Equal(res.Commits[0].Error.Present, []string{planted.String()}) {
		t.Fatalf("commit on a chunk stored before = %+v, %v", res, err)
	}

	// Any bad item refuses the whole batch, nothing stored.
	before := e.snapshot(m)
	for name, bad := range map[string]api.BatchRequest{
		"chunk of another ID": {Chunks: []api.BatchChunk{{ID: c1.String(), Sealed: pb}}},
		"chunk sent twice":    {Chunks: []api.BatchChunk{{ID: c1.String(), Sealed: b1}, {ID: c1.String(), Sealed: b1}}},
		"file twice": {Commits: []api.BatchCommit{{FileID: fd.String(), Manifest: e.manifest(m, fd, 1)},
			{FileID: fd.String(), Manifest: e.manifest(m, fd, 1)}}},
		"manifest of another version": {Commits: []api.BatchCommit{{FileID: fd.String(), Manifest: e.manifest(m, fd, 3)}}},
		"tombstone":                   {Commits: []api.BatchCommit{{FileID: fd.String(), Base: 1, Manifest: e.sealer.TombstoneOf(t, m, fd, 2)}}},
		"empty":                       {},
	} {
		if _, err := alice.Batch(ctx, m, bad); client.Code(err) != api.CodeInvalidRequest {
			t.Errorf("%s: %v, want invalid_request", name, err)
		}
	}
	big := make([]byte, 1<<20)
	body, _ := json.Marshal(api.BatchRequest{Chunks: []api.BatchChunk{{ID: c1.String(), Sealed: big}}})
	if r := e.do("POST", "/v1/matters/"+m+"/batch", aliceTok, nil, body); r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("batch over max_batch_bytes = %d %s", r.status, r.body)
	}
	if after := e.snapshot(m); !equalSnap(before, after) {
		t.Fatalf("refused batches changed the store:\n%+v\n%+v", before, after)
	}
}

// sealedFor is a sealing of chunk id for the test: the sealer's bytes are
// what the gateway checks (header), so another sealing of the same ID
// would do.
func sealedFor(e *env, matter string, id interface{ String() string }) []byte {
	e.t.Helper()
	r := e.do("GET", "/v1/matters/"+matter+"/chunks/"+id.String(), e.token("ent-alice", "matter-2026-0001-rw"), nil, nil)
	if r.status != http.StatusOK {
		e.t.Fatalf("get chunk: %d", r.status)
	}
	return r.body
}

// onCreate is Blobs calling hook once before the first Create of key.
type onCreate struct {
	gateway.Blobs
	key  string
	once sync.Once
	hook func()
}

func (b *onCreate) Create(ctx context.Context, key string, r io.Reader, size int64, sum [32]byte) error {
	if key == b.key {
		b.once.Do(b.hook)
	}
	return b.Blobs.Create(ctx, key, r, size, sum)
}

// TestBatchUnrecordedChunks: a batch records only what it stored or found.
// An object in storage with no chunk record (left by a writer who hung up
// before the store recorded it: anyone's bytes) is recorded as found, and
// a commit on it is refused with chunks_present, as the single path
// would have the writer open it first; a chunk the batch skipped because
// the matter had it, collected before the batch reached the store, is not
// recorded again (its object is gone): a commit on it is refused as
// missing, never left pointing at nothing.
func TestBatchUnrecordedChunks(t *testing.T) {
	ctx := context.Background()
	const m = "2026-0001"
	var blobs *onCreate
	e := newEnv(t, envOpts{
		tune:      func(c *gateway.Config) { c.Limits.MaxBatchBytes = 1 << 20 },
		wrapBlobs: func(b gateway.Blobs) gateway.Blobs { blobs = &onCreate{Blobs: b}; return blobs },
	})
	tok := e.token("ent-alice", "matter-2026-0001-rw")
	alice, _ := client.New(e.url, client.StaticToken(tok), client.Options{Device: "LAPTOP-7"})

	// Scenario A: an object planted without a record.
	x, xb := e.chunk(m, 3000)
	key, err := blob.ChunkKey(m, x)
	if err != nil {
		t.Fatal(err)
	}
	planted := []byte("planted bytes, not what alice sealed")
	if _, err := e.minio.PutObject(ctx, e.bucket, key, bytes.NewReader(planted), int64(len(planted)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	f := e.newFile(m)
	res, err := alice.Batch(ctx, m, api.BatchRequest{
		Chunks:  []api.BatchChunk{{ID: x.String(), Sealed: xb}},
		Commits: []api.BatchCommit{{FileID: f.String(), Manifest: e.manifest(m, f, 1, x), Chunks: []string{x.String()}}},
	})
	if err != nil {
		t.Fatalf("Batch: %v", err)
	}
	if c := res.Chunks[0]; c.Created || c.Size != int64(len(planted)) {
		t.Fatalf("chunk over a planted object = %+v, want not created, the stored object's size %d", c, len(planted))
	}
	if r := res.Commits[0]; r.Status != http.StatusConflict || r.Error == nil || r.Error.Code != api.CodeChunksPresent ||
		!slices.Equal(r.Error.Present, []string{x.String()}) {
		t.Fatalf("commit on a planted object = %+v, want chunks_present naming it", r)
	}
	if _, err := alice.File(ctx, m, f.String(), 0); client.Code(err) != api.CodeNotFound {
		t.Fatalf("file committed on a planted object: %v", err)
	}

	// Scenario B: a stored, unreferenced chunk collected while the batch
	// stores its other chunk.
	old, oldBody := e.putChunk(m, tok, 2000)
	y, yb := e.chunk(m, 2500)
	if blobs.key, err = blob.ChunkKey(m, y); err != nil {
		t.Fatal(err)
	}
	oldKey, _ := blob.ChunkKey(m, old)
	blobs.hook = func() {
		r, err := e.store.Lifecycle.Collector.CollectBatch(ctx, store.Collect{Matter: m, Before: time.Now().Add(time.Hour), Limit: 100},
			&audit.Record{Time: time.Now(), Entity: "system", User: "mattersync-gateway", Matter: m, Action: "lifecycle.gc", Result: audit.ResultOK, Status: 200, RequestID: "gc"})
		if err != nil || r.Chunks != 2 {
			t.Errorf("CollectBatch = %+v, %v; want the old chunk and the planted one collected", r, err)
		}
		if err := e.minio.RemoveObject(ctx, e.bucket, oldKey, minio.RemoveObjectOptions{}); err != nil {
			t.Error(err)
		}
	}
	fo, fy := e.newFile(m), e.newFile(m)
	res, err = alice.Batch(ctx, m, api.BatchRequest{
		Chunks: []api.BatchChunk{{ID: old.String(), Sealed: oldBody}, {ID: y.String(), Sealed: yb}},
		Commits: []api.BatchCommit{
			{FileID: fo.String(), Manifest: e.manifest(m, fo, 1, old), Chunks: []string{old.String()}},
			{FileID: fy.String(), Manifest: e.manifest(m, fy, 1, y), Chunks: []string{y.String()}},
		},
	})
	if err != nil {
		t.Fatalf("Batch: %v", err)
	}
	if r := res.Commits[0]; r.Status != http.StatusConflict || r.Error == nil || r.Error.Code != api.CodeMissingChunks {
		t.Fatalf("commit on a chunk collected meanwhile = %+v, want missing_chunks", r)
	}
	if r := res.Commits[1]; r.Status != http.StatusCreated {
		t.Fatalf("commit on the chunk the batch stored = %+v", r)
	}
	if _, err := alice.File(ctx, m, fo.String(), 0); client.Code(err) != api.CodeNotFound {
		t.Fatalf("file committed on a collected chunk: %v", err)
	}
	if missing, err := alice.MissingChunks(ctx, m, []string{old.String()}); err != nil || len(missing) != 1 {
		t.Fatalf("collected chunk recorded again by the batch: missing %v, %v", missing, err)
	}
}

// TestBatchRateLimit: a batch takes a token of its user's bucket per
// chunk and per commit, as the requests it stands for would: one that
// does not fit is refused 429 with Retry-After, nothing stored, and takes
// only its request's token.
func TestBatchRateLimit(t *testing.T) {
	e := newEnv(t, envOpts{tune: func(c *gateway.Config) {
		c.Limits.MaxBatchBytes = 1 << 20
		// A token per 100 s: what the test spends does not come back.
		c.Limits.RequestsPerSecond, c.Limits.Burst, c.Limits.MaxBatchItems = 0.01, 6, 60
	}})
	ctx := context.Background()
	const m = "2026-0001"
	tok := e.token("ent-alice", "matter-2026-0001-rw")
	alice, _ := client.New(e.url, client.StaticToken(tok), client.Options{Device: "LAPTOP-7"})
	var req api.BatchRequest
	for range 30 {
		c, b := e.chunk(m, 100)
		f := e.newFile(m)
		req.Chunks = append(req.Chunks, api.BatchChunk{ID: c.String(), Sealed: b})
		req.Commits = append(req.Commits, api.BatchCommit{FileID: f.String(), Manifest: e.manifest(m, f, 1, c), Chunks: []string{c.String()}})
	}
	// 60 items, 20 to a token, of a bucket of 6: 3 tokens left.
	if _, err := alice.Batch(ctx, m, req); err != nil {
		t.Fatalf("first batch: %v", err)
	}
	before := e.snapshot(m)
	var second api.BatchRequest
	var files []format.ID
	for range 31 {
		c, b := e.chunk(m, 100)
		f := e.newFile(m)
		files = append(files, f)
		second.Chunks = append(second.Chunks, api.BatchChunk{ID: c.String(), Sealed: b})
		second.Commits = append(second.Commits, api.BatchCommit{FileID: f.String(), Manifest: e.manifest(m, f, 1, c), Chunks: []string{c.String()}})
	}
	body, _ := json.Marshal(second)
	r := e.do("POST", "/v1/matters/"+m+"/batch", tok, nil, body)
	if r.status != http.StatusTooManyRequests || r.apiError(t).Code != api.CodeRateLimited || r.header.Get("Retry-After") == "" {
		t.Fatalf("batch of 62 items (4 tokens) with 3 tokens left = %d %s (Retry-After %q), want 429 with Retry-After", r.status, r.body, r.header.Get("Retry-After"))
	}
	if after := e.snapshot(m); !equalSnap(before, after) {
		t.Fatalf("a rate-limited batch changed the store:\n%+v\n%+v", before, after)
	}
	for _, f := range files {
		if _, err := e.store.Files.Version(ctx, m, f, 0); err == nil {
			t.Fatalf("a rate-limited batch committed %s", f)
		}
	}
	// The refusal took its request's token only: two are left.
	for range 2 {
		if _, err := alice.File(ctx, m, req.Commits[0].FileID, 0); err != nil {
			t.Fatalf("request with a token left: %v", err)
		}
	}
	if _, err := alice.File(ctx, m, req.Commits[0].FileID, 0); client.Code(err) != api.CodeRateLimited {
		t.Fatalf("request with the bucket empty: %v, want rate_limited", err)
	}
}

// blockCreate is Blobs whose Create says it was entered and waits for
// release.
type blockCreate struct {
	gateway.Blobs
	entered chan struct{}
	release chan struct{}
}

func (b *blockCreate) Create(ctx context.Context, key string, r io.Reader, size int64, sum [32]byte) error {
	b.entered <- struct{}{}
	<-b.release
	return b.Blobs.Create(ctx, key, r, size, sum)
}

// TestBatchesPerUser: one user has at most four batches in flight; a fifth
// is refused 429 with Retry-After while they run.
func TestBatchesPerUser(t *testing.T) {
	blobs := &blockCreate{entered: make(chan struct{}, 16), release: make(chan struct{})}
	e := newEnv(t, envOpts{
		tune:      func(c *gateway.Config) { c.Limits.MaxBatchBytes = 1 << 20 },
		wrapBlobs: func(b gateway.Blobs) gateway.Blobs { blobs.Blobs = b; return blobs },
	})
	ctx := context.Background()
	const m = "2026-0001"
	tok := e.token("ent-alice", "matter-2026-0001-rw")
	alice, _ := client.New(e.url, client.StaticToken(tok), client.Options{Device: "LAPTOP-7"})
	batch := func() api.BatchRequest {
		c, b := e.chunk(m, 100)
		return api.BatchRequest{Chunks: []api.BatchChunk{{ID: c.String(), Sealed: b}}}
	}
	errs := make(chan error, 4)
	for range 4 {
		req := batch()
		go func() {
			_, err := alice.Batch(ctx, m, req)
			errs <- err
		}()
	}
	for range 4 {
		<-blobs.entered // each batch is storing its chunk
	}
	body, _ := json.Marshal(batch())
	r := e.do("POST", "/v1/matters/"+m+"/batch", tok, nil, body)
	if r.status != http.StatusTooManyRequests || r.apiError(t).Code != api.CodeRateLimited || r.header.Get("Retry-After") == "" {
		t.Fatalf("fifth batch in flight = %d %s, want 429 with Retry-After", r.status, r.body)
	}
	close(blobs.release)
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatalf("batch in flight: %v", err)
		}
	}
}
