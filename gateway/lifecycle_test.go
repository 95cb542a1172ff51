package gateway_test

// The lifecycle end to end on the real MinIO and both stores: retention
// routes, purge and garbage collection as runs, the race between a
// collection and a commit in flight, the bucket down, a run killed
// halfway.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/lifecycle"
	"github.com/mattersync/mattersync/gateway/store"
	"github.com/mattersync/mattersync/internal/testenv"
)

// onBothStores runs f on SQLite and on PostgreSQL.
func onBothStores(t *testing.T, f func(t *testing.T, o envOpts)) {
	t.Run("sqlite", func(t *testing.T) { f(t, envOpts{}) })
	t.Run("postgres", func(t *testing.T) { f(t, envOpts{postgresDSN: testenv.Postgres(t)}) })
}

// objects lists the bucket's keys under prefix (every version's key, once).
func (e *env) objects(prefix string) []string {
	e.t.Helper()
	var out []string
	for o := range e.minio.ListObjects(context.Background(), e.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true, WithVersions: true}) {
		if o.Err != nil {
			e.t.Fatal(o.Err)
		}
		if len(out) == 0 || out[len(out)-1] != o.Key {
			out = append(out, o.Key)
		}
	}
	return out
}

// pass runs one lifecycle pass as of now+age and fails the test on error.
func (e *env) pass(o lifecycle.PassOptions, age time.Duration) lifecycle.Summary {
	e.t.Helper()
	o.Now = time.Now().Add(age)
	sum, err := e.srv.Lifecycle().Pass(context.Background(), o)
	if err != nil {
		e.t.Fatalf("lifecycle pass: %v", err)
	}
	if len(sum.Errors) > 0 {
		e.t.Fatalf("lifecycle pass errors: %v", sum.Errors)
	}
	return sum
}

// getChunk fetches a chunk and returns its status.
func (e *env) getChunk(matter, token string, id format.ID) int {
	e.t.Helper()
	return e.do("GET", "/v1/matters/"+matter+"/chunks/"+id.String(), token, nil, nil).status
}

// TestLifecycleCollectionBetweenUploadAndCommit is issue 13's race: a
// collection runs after an agent uploaded its chunks and before it
// commits; the commit succeeds and every chunk stays readable. Past the
// grace period the chunks are garbage: the commit is refused (missing
// chunks), never accepted over chunks that are gone, and succeeds once
// they are sent again.
func TestLifecycleCollectionBetweenUploadAndCommit(t *testing.T) {
	onBothStores(t, func(t *testing.T, o envOpts) {
		e := newEnv(t, o)
		const m = "2026-0013"
		tok := e.token("alice", "matter-"+m+"-rw")
		var ids []format.ID
		for range 3 {
			id, _ := e.putChunk(m, tok, 1000)
			ids = append(ids, id)
		}
		sum := e.pass(lifecycle.PassOptions{}, 0)
		if sum.CollectedChunks != 0 || sum.Orphans != 0 || sum.Deleted != 0 {
			t.Fatalf("a run within the grace period removed something: %+v", sum)
		}
		f := e.newFile(m)
		e.commit(m, tok, f, 0, ids...)
		for _, id := range ids {
			if st := e.getChunk(m, tok, id); st != http.StatusOK {
				t.Fatalf("chunk after commit: %d", st)
			}
		}

		// Two days later, fresh uploads not committed yet are garbage.
		var late []format.ID
		var bodies [][]byte
		for range 2 {
			id, body := e.putChunk(m, tok, 1000)
			late, bodies = append(late, id), append(bodies, body)
		}
		sum = e.pass(lifecycle.PassOptions{}, 48*time.Hour)
		if sum.CollectedChunks != 2 || sum.Deleted != 2 {
			t.Fatalf("run past the grace period: %+v", sum)
		}
		g := e.newFile(m)
		r := e.do("PUT", "/v1/matters/"+m+"/files/"+g.String(), tok, map[string]string{"If-None-Match": "*"}, e.commitBody(m, g, 1, late...))
		if r.status != http.StatusConflict || r.apiError(t).Code != api.CodeMissingChunks {
			t.Fatalf("commit over collected chunks: %d %s", r.status, r.body)
		}
		for i, id := range late {
			rr := e.do("PUT", "/v1/matters/"+m+"/chunks/"+id.String(), tok, map[string]string{api.HeaderChecksum: sumHex(bodies[i])}, bodies[i])
			if rr.status != http.StatusCreated {
				t.Fatalf("upload again: %d %s", rr.status, rr.body)
			}
		}
		e.commit(m, tok, g, 0, late...)
		for _, id := range append(ids, late...) {
			if st := e.getChunk(m, tok, id); st != http.StatusOK {
				t.Fatalf("chunk %s: %d", id, st)
			}
		}
	})
}

// TestLifecyclePurgeAndCollect purges old versions and a deleted file as
// the matter's policy says, collects their chunks and deletes their
// objects, audited as system actions; the firm's 90-day policy removes
// nothing of a day-old matter.
func TestLifecyclePurgeAndCollect(t *testing.T) {
	onBothStores(t, func(t *testing.T, o envOpts) {
		e := newEnv(t, o)
		const m = "2026-0042"
		tok := e.token("alice", "matter-"+m+"-rw")
		admin := e.token("root", auth.AdminGroup)
		f, gone := e.newFile(m), e.newFile(m)
		var chunks []format.ID
		for v := int64(0); v < 4; v++ {
			id, _ := e.putChunk(m, tok, 2000)
			chunks = append(chunks, id)
			e.commit(m, tok, f, v, id)
		}
		gc, _ := e.putChunk(m, tok, 3000)
		e.commit(m, tok, gone, 0, gc)
		e.del(m, tok, gone, 1)
		before := e.objects("m/" + m + "/")
		if len(before) != 4+4+1+2 {
			t.Fatalf("objects before: %d", len(before))
		}
		// The firm's default (90 days, 3 versions, 30 days) a day later.
		sum := e.pass(lifecycle.PassOptions{}, 24*time.Hour)
		if sum.PurgedVersions != 0 || sum.CollectedChunks != 0 || sum.Deleted != 0 {
			t.Fatalf("the 90-day policy removed something after a day: %+v", sum)
		}
		if got := e.objects("m/" + m + "/"); !slices.Equal(got, before) {
			t.Fatal("objects changed")
		}
		// Zero retention for this matter.
		r := e.do("PUT", "/v1/admin/matters/"+m+"/retention", admin, nil,
			[]byte(`{"versions_days": 0, "min_versions": 1, "deleted_days": 0, "reason": "client instruction 2026-11-02"}`))
		if r.status != http.StatusOK {
			t.Fatalf("set retention: %d %s", r.status, r.body)
		}
		sum = e.pass(lifecycle.PassOptions{Run: 7}, 72*time.Hour)
		if sum.PurgedVersions != 3+2 || sum.PurgedFiles != 1 || sum.CollectedChunks != 4 || sum.Deleted != 3+2+4 || sum.Queued != 0 {
			t.Fatalf("zero-retention run: %+v", sum)
		}
		// What is left is exactly the live version: its manifest and chunk.
		head, err := e.store.Files.Version(context.Background(), m, f, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"m/" + m + "/c/" + chunks[3].String(), head.ManifestKey}
		slices.Sort(want)
		if got := e.objects("m/" + m + "/"); !slices.Equal(got, want) {
			t.Fatalf("objects after = %v\nwant %v", got, want)
		}
		if st := e.getChunk(m, tok, chunks[3]); st != http.StatusOK {
			t.Fatalf("live chunk: %d", st)
		}
		// Audited as the system's actions, in run 7.
		var actions []string
		err = e.store.Audit.AuditRecords(context.Background(), audit.Query{Matter: m}, func(r *audit.Record) error {
			if strings.HasPrefix(r.Action, "lifecycle.") {
				if r.Entity != "system" || r.RequestID != "lifecycle-run-7" {
					t.Errorf("record %+v", r)
				}
				actions = append(actions, r.Action)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []string{"lifecycle.purge", "lifecycle.gc", "lifecycle.delete"} {
			if !slices.Contains(actions, a) {
				t.Fatalf("no %s record among %v", a, actions)
			}
		}
		// A second run finds nothing.
		if sum := e.pass(lifecycle.PassOptions{}, 72*time.Hour); sum.PurgedVersions+sum.CollectedChunks+sum.Orphans+sum.Deleted != 0 {
			t.Fatalf("second run: %+v", sum)
		}
	})
}

// TestLifecycleRetentionRoutes: show, set (nonsense refused with the
// problem named), back to the firm's; every change audited with who and
// why; only administrators.
func TestLifecycleRetentionRoutes(t *testing.T) {
	e := newEnv(t, envOpts{})
	const m = "2026-0042"
	admin := e.token("root", auth.AdminGroup)
	get := func() api.Retention {
		t.Helper()
		r := e.do("GET", "/v1/admin/matters/"+m+"/retention", admin, nil, nil)
		if r.status != http.StatusOK {
			t.Fatalf("get: %d %s", r.status, r.body)
		}
		var out api.Retention
		json.Unmarshal(r.body, &out)
		return out
	}
	if got := get(); got.Source != api.RetentionFirm || got.VersionsDays != 90 || got.MinVersions != 3 || got.DeletedDays != 30 {
		t.Fatalf("firm policy = %+v", got)
	}
	for body, want := range map[string]string{
		`{"versions_days": -1, "reason": "x"}`:   "versions_days must be from 0 to 36500 days, not -1",
		`{"min_versions": 0, "reason": "x"}`:     "min_versions must be from 1",
		`{"deleted_days": 40000, "reason": "x"}`: "deleted_days must be from 0 to 36500 days, not 40000",
		`{"versions_days": 10}`:                  "reason is required",
		`{"reason": "x"}`:                        "give at least one",
	} {
		r := e.do("PUT", "/v1/admin/matters/"+m+"/retention", admin, nil, []byte(body))
		if r.status != http.StatusBadRequest || !strings.Contains(r.apiError(t).Message, want) {
			t.Fatalf("PUT %s: %d %s (want 400 naming %q)", body, r.status, r.body, want)
		}
	}
	if got := get(); got.Source != api.RetentionFirm {
		t.Fatal("a refused policy was stored")
	}
	r := e.do("PUT", "/v1/admin/matters/"+m+"/retention", admin, nil, []byte(`{"versions_days": 365, "reason": "engagement letter, clause 9"}`))
	if r.status != http.StatusOK {
		t.Fatalf("set: %d %s", r.status, r.body)
	}
	rec := e.record(r.header.Get(api.HeaderRequestID))
	if rec == nil || rec.User != "user-root" || rec.Action != "admin.retention.set" ||
		rec.Object != `matter=2026-0042 versions_days=365 min_versions=3 deleted_days=30 reason="engagement letter, clause 9"` {
		t.Fatalf("audit record = %+v", rec)
	}
	if got := get(); got.Source != api.RetentionMatter || got.VersionsDays != 365 || got.MinVersions != 3 || got.SetBy != "user-root" || got.Reason != "engagement letter, clause 9" {
		t.Fatalf("matter policy = %+v", got)
	}
	lawyer := e.token("alice", "matter-"+m+"-rw")
	if r := e.do("PUT", "/v1/admin/matters/"+m+"/retention", lawyer, nil, []byte(`{"versions_days": 0, "reason": "x"}`)); r.status != http.StatusForbidden {
		t.Fatalf("lawyer set retention: %d", r.status)
	}
	r = e.do("DELETE", "/v1/admin/matters/"+m+"/retention", admin, nil, []byte(`{"reason": "back to the firm's"}`))
	if r.status != http.StatusOK {
		t.Fatalf("clear: %d %s", r.status, r.body)
	}
	if got := get(); got.Source != api.RetentionFirm {
		t.Fatalf("after clear = %+v", got)
	}
	if r := e.do("DELETE", "/v1/admin/matters/"+m+"/retention", admin, nil, []byte(`{"reason": "again"}`)); r.status != http.StatusNotFound {
		t.Fatalf("second clear: %d", r.status)
	}
}

// TestLifecycleRuns asks for runs through the API: the gateway's runner
// takes them, shows progress and a summary; a dry run changes nothing.
func TestLifecycleRuns(t *testing.T) {
	e := newEnv(t, envOpts{tune: func(c *gateway.Config) { c.Lifecycle.Poll = 100 * time.Millisecond }})
	const m = "2026-0077"
	tok := e.token("alice", "matter-"+m+"-rw")
	admin := e.token("root", auth.AdminGroup)
	// An object no record names: a chunk whose record failed.
	orphan := "m/" + m + "/c/" + randomID(t).String()
	if _, err := e.minio.PutObject(context.Background(), e.bucket, orphan, bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	e.putChunk(m, tok, 100)
	run := func(body string) api.RunSummary {
		t.Helper()
		r := e.do("POST", "/v1/admin/storage/runs", admin, nil, []byte(body))
		if r.status != http.StatusAccepted {
			t.Fatalf("start run: %d %s", r.status, r.body)
		}
		var got api.Run
		json.Unmarshal(r.body, &got)
		deadline := time.Now().Add(30 * time.Second)
		for got.State != api.RunDone && got.State != api.RunFailed {
			if time.Now().After(deadline) {
				t.Fatalf("run %d still %s", got.ID, got.State)
			}
			time.Sleep(50 * time.Millisecond)
			r := e.do("GET", fmt.Sprintf("/v1/admin/storage/runs/%d", got.ID), admin, nil, nil)
			if r.status != http.StatusOK {
				t.Fatalf("get run: %d %s", r.status, r.body)
			}
			got = api.Run{}
			json.Unmarshal(r.body, &got)
		}
		if got.State != api.RunDone || got.Summary == nil || got.RequestedBy != "user-root" {
			t.Fatalf("run = %+v", got)
		}
		return *got.Summary
	}
	// Within the grace period nothing is garbage yet.
	if sum := run(`{"matter": "` + m + `", "dry_run": true}`); sum.Orphans+sum.CollectedChunks+sum.Deleted != 0 || sum.Matters != 1 {
		t.Fatalf("dry run = %+v", sum)
	}
	if r := e.do("POST", "/v1/admin/storage/runs", tok, nil, []byte(`{}`)); r.status != http.StatusForbidden {
		t.Fatalf("a lawyer started a run: %d", r.status)
	}
	if r := e.do("POST", "/v1/admin/storage/runs", admin, nil, []byte(`{"matter": "Bad/ID"}`)); r.status != http.StatusBadRequest {
		t.Fatalf("bad matter: %d", r.status)
	}
	r := e.do("GET", "/v1/admin/storage/runs", admin, nil, nil)
	var runs api.Runs
	json.Unmarshal(r.body, &runs)
	if r.status != http.StatusOK || len(runs.Runs) != 1 {
		t.Fatalf("runs: %d %s", r.status, r.body)
	}
	// Past the grace period (the runner's own clock cannot be moved:
	// the same pass, run directly, as of two days on).
	sum := e.pass(lifecycle.PassOptions{Matter: m, DryRun: true}, 48*time.Hour)
	if sum.Orphans != 1 || sum.CollectedChunks != 1 || sum.Deleted != 0 {
		t.Fatalf("dry pass two days on = %+v", sum)
	}
	if got := e.objects("m/" + m + "/"); len(got) != 2 {
		t.Fatalf("a dry run deleted objects: %v", got)
	}
	sum = e.pass(lifecycle.PassOptions{Matter: m}, 48*time.Hour)
	if sum.Orphans != 1 || sum.CollectedChunks != 1 || sum.Deleted != 2 || sum.DeletedBytes < 1 {
		t.Fatalf("pass two days on = %+v", sum)
	}
	if got := e.objects("m/" + m + "/"); len(got) != 0 {
		t.Fatalf("objects left: %v", got)
	}
}

// failing is the bucket as the lifecycle uses it, with deletions (and
// listings, if down) failing while down is set: MinIO unavailable.
type failing struct {
	lifecycle.Blobs
	down    atomic.Bool
	deletes atomic.Int64
}

var errDown = errors.New("dial tcp: connection refused")

func (f *failing) Versions(ctx context.Context, prefix, after string, fn func(blob.ObjectVersion) error) error {
	if f.down.Load() {
		return errDown
	}
	return f.Blobs.Versions(ctx, prefix, after, fn)
}

func (f *failing) KeyVersions(ctx context.Context, key string) ([]blob.ObjectVersion, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.Blobs.KeyVersions(ctx, key)
}

func (f *failing) Delete(ctx context.Context, vs []blob.ObjectVersion) []error {
	errs := make([]error, len(vs))
	if f.down.Load() {
		for i := range errs {
			errs[i] = errDown
		}
		return errs
	}
	f.deletes.Add(int64(len(vs)))
	return f.Blobs.Delete(ctx, vs)
}

// TestLifecycleBucketDown: with the bucket unavailable (on SQLite and
// PostgreSQL) a run removes
// records and queues their objects whole (nothing half removed), deletes
// nothing, and says so; the next run, with the bucket back, deletes them.
func TestLifecycleBucketDown(t *testing.T) {
	onBothStores(t, testLifecycleBucketDown)
}

func testLifecycleBucketDown(t *testing.T, o envOpts) {
	e := newEnv(t, o)
	const m = "2026-0099"
	tok := e.token("alice", "matter-"+m+"-rw")
	f := e.newFile(m)
	for v := int64(0); v < 3; v++ {
		id, _ := e.putChunk(m, tok, 500)
		e.commit(m, tok, f, v, id)
	}
	bs, err := blob.New(blob.Config{Endpoint: testenv.MinIO(t).Endpoint, Bucket: e.bucket, AccessKey: testenv.MinIO(t).AccessKey, SecretKey: testenv.MinIO(t).SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	fb := &failing{Blobs: bs}
	cfg := e.cfg.Lifecycle
	cfg.Retention = store.Retention{MinVersions: 1} // keep the current version only
	var shift atomic.Int64
	r, err := lifecycle.New(cfg, e.store.Lifecycle, fb, lifecycle.Options{Now: func() time.Time { return time.Now().Add(time.Duration(shift.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	before := e.objects("m/" + m + "/")
	fb.down.Store(true)
	sum, err := r.Pass(context.Background(), lifecycle.PassOptions{Now: time.Now().Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if sum.PurgedVersions != 2 || sum.CollectedChunks != 2 || sum.Deleted != 0 || sum.Failed == 0 || sum.Queued != 4 || len(sum.Errors) != 1 {
		t.Fatalf("run with the bucket down = %+v", sum)
	}
	if got := e.objects("m/" + m + "/"); !slices.Equal(got, before) {
		t.Fatal("objects deleted while the bucket was down")
	}
	// The records are gone whole: versions 1 and 2 and their chunks.
	vs, err := e.store.Files.Versions(context.Background(), m, f, 0, 10)
	if err != nil || len(vs) != 1 || vs[0].Version != 3 {
		t.Fatalf("versions = %+v, %v", vs, err)
	}
	fb.down.Store(false)
	// Deletions whose outcome is unknown stay claimed (a chunk upload of
	// theirs is refused meanwhile) until the claim is stale: twice the
	// lease later, the next run takes them.
	sum, err = r.Pass(context.Background(), lifecycle.PassOptions{Now: time.Now().Add(48 * time.Hour)})
	if err != nil || sum.Deleted != 0 || sum.Queued != 4 {
		t.Fatalf("run with the bucket back, claims fresh = %+v, %v", sum, err)
	}
	shift.Store(int64(2*cfg.Lease + time.Minute))
	sum, err = r.Pass(context.Background(), lifecycle.PassOptions{Now: time.Now().Add(48 * time.Hour)})
	if err != nil || sum.Deleted != 4 || sum.Queued != 0 || len(sum.Errors) != 0 {
		t.Fatalf("run with the bucket back = %+v, %v", sum, err)
	}
	if got := e.objects("m/" + m + "/"); len(got) != 2 {
		t.Fatalf("objects left = %v, want the current version's two", got)
	}
}

// waitHoldStorage waits for the gateway's runner to carry matter's hold to
// the storage (state want).
func (e *env) waitHoldStorage(matter, admin, want string) api.HoldStorage {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := e.do("GET", "/v1/admin/matters/"+matter+"/hold/storage", admin, nil, nil)
		if r.status != http.StatusOK {
			e.t.Fatalf("hold storage: %d %s", r.status, r.body)
		}
		var h api.HoldStorage
		json.Unmarshal(r.body, &h)
		if h.State == want {
			return h
		}
		if h.State == api.HoldStorageFailed || time.Now().After(deadline) {
			e.t.Fatalf("hold storage = %+v, want %q", h, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// legalHold reads the S3 legal hold of every version of every object
// under prefix, by key: MinIO's own answer.
func (e *env) legalHold(prefix string) map[string]bool {
	e.t.Helper()
	out := map[string]bool{}
	for o := range e.minio.ListObjects(context.Background(), e.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true, WithVersions: true}) {
		if o.Err != nil {
			e.t.Fatal(o.Err)
		}
		st, err := e.minio.GetObjectLegalHold(context.Background(), e.bucket, o.Key, minio.GetObjectLegalHoldOptions{VersionID: o.VersionID})
		held := err == nil && st != nil && *st == minio.LegalHoldEnabled
		if err != nil && minio.ToErrorResponse(err).Code != "NoSuchObjectLockConfiguration" {
			e.t.Fatalf("legal hold of %s: %v", o.Key, err)
		}
		out[o.Key] = out[o.Key] || held
	}
	return out
}

// TestLegalHoldInTheStorage: a hold sets the S3 legal hold on every
// object of the matter and on every object written while it lasts; MinIO
// itself then refuses to delete them, even to its root user; purge and
// garbage collection leave the matter alone; lifting the hold clears
// them, and the next run may remove what retention no longer keeps.
func TestLegalHoldInTheStorage(t *testing.T) {
	onBothStores(t, func(t *testing.T, o envOpts) {
		o.tune = func(c *gateway.Config) { c.Lifecycle.Poll = 100 * time.Millisecond }
		e := newEnv(t, o)
		const m = "2026-0500"
		tok := e.token("alice", "matter-"+m+"-rw")
		admin := e.token("root", auth.AdminGroup)
		f := e.newFile(m)
		for v := int64(0); v < 3; v++ {
			id, _ := e.putChunk(m, tok, 1000)
			e.commit(m, tok, f, v, id)
		}
		e.putChunk(m, tok, 1000) // garbage
		other := "2026-0501"
		otok := e.token("bob", "matter-"+other+"-rw")
		e.putChunk(other, otok, 1000)

		r := e.do("PUT", "/v1/admin/matters/"+m+"/hold", admin, nil, []byte(`{"reason": "preservation notice", "case": "CV-1"}`))
		if r.status != http.StatusOK {
			t.Fatalf("hold on: %d %s", r.status, r.body)
		}
		h := e.waitHoldStorage(m, admin, api.HoldStorageApplied)
		if h.Objects != 3+3+1 {
			t.Fatalf("held objects = %d, want 7", h.Objects)
		}
		// Written while held: held from the start.
		id, _ := e.putChunk(m, tok, 1000)
		e.commit(m, tok, f, 3, id)
		held := e.legalHold("m/" + m + "/")
		if len(held) != 9 {
			t.Fatalf("objects = %d, want 9", len(held))
		}
		for k, on := range held {
			if !on {
				t.Fatalf("%s is not under legal hold", k)
			}
		}
		for k, on := range e.legalHold("m/" + other + "/") {
			if on {
				t.Fatalf("another matter's object %s is held", k)
			}
		}
		// MinIO refuses the root user's deletion of every version.
		for o := range e.minio.ListObjects(context.Background(), e.bucket, minio.ListObjectsOptions{Prefix: "m/" + m + "/", Recursive: true, WithVersions: true}) {
			err := e.minio.RemoveObject(context.Background(), e.bucket, o.Key, minio.RemoveObjectOptions{VersionID: o.VersionID})
			if err == nil {
				t.Fatalf("MinIO deleted held %s (version %s) for its root user", o.Key, o.VersionID)
			}
			err = e.minio.RemoveObject(context.Background(), e.bucket, o.Key, minio.RemoveObjectOptions{VersionID: o.VersionID, GovernanceBypass: true, ForceDelete: true})
			if err == nil {
				t.Fatalf("MinIO deleted held %s with governance bypass and force", o.Key)
			}
		}
		// The gateway's own deletion is refused as held.
		bs, err := blob.New(blob.Config{Endpoint: testenv.MinIO(t).Endpoint, Bucket: e.bucket, AccessKey: testenv.MinIO(t).AccessKey, SecretKey: testenv.MinIO(t).SecretKey})
		if err != nil {
			t.Fatal(err)
		}
		vs, err := bs.KeyVersions(context.Background(), "m/"+m+"/c/"+id.String())
		if err != nil || len(vs) != 1 {
			t.Fatalf("versions = %+v, %v", vs, err)
		}
		if errs := bs.Delete(context.Background(), vs); !errors.Is(errs[0], blob.ErrHeld) {
			t.Fatalf("gateway's deletion of a held object: %v", errs[0])
		}
		// A deletion without a version only hides the object behind a
		// delete marker: its data stays, and deleting the marker brings it
		// back (docs/LIFECYCLE.md, "Someone deleted objects around the
		// gateway").
		key := "m/" + m + "/c/" + id.String()
		if err := e.minio.RemoveObject(context.Background(), e.bucket, key, minio.RemoveObjectOptions{}); err != nil {
			t.Fatalf("delete marker: %v", err)
		}
		if st := e.getChunk(m, tok, id); st != http.StatusInternalServerError {
			t.Fatalf("chunk behind a delete marker: %d", st)
		}
		for o := range e.minio.ListObjects(context.Background(), e.bucket, minio.ListObjectsOptions{Prefix: key, WithVersions: true}) {
			if o.IsDeleteMarker {
				if err := e.minio.RemoveObject(context.Background(), e.bucket, key, minio.RemoveObjectOptions{VersionID: o.VersionID}); err != nil {
					t.Fatalf("remove the delete marker: %v", err)
				}
			}
		}
		if st := e.getChunk(m, tok, id); st != http.StatusOK {
			t.Fatalf("chunk after its delete marker went: %d", st)
		}
		// Retention and garbage collection skip the matter.
		e.do("PUT", "/v1/admin/matters/"+m+"/retention", admin, nil, []byte(`{"versions_days": 0, "min_versions": 1, "deleted_days": 0, "reason": "test"}`))
		sum := e.pass(lifecycle.PassOptions{}, 72*time.Hour)
		if !slices.Contains(sum.Held, m) || sum.PurgedVersions != 0 || sum.CollectedChunks != 1 || sum.Deleted != 1 {
			t.Fatalf("run under hold = %+v (only the other matter's garbage goes)", sum)
		}
		if got := e.objects("m/" + m + "/"); len(got) != 9 {
			t.Fatalf("objects of the held matter = %d", len(got))
		}
		// Released: cleared, and the next run purges.
		r = e.do("DELETE", "/v1/admin/matters/"+m+"/hold", admin, nil, []byte(`{"reason": "settled"}`))
		if r.status != http.StatusOK {
			t.Fatalf("hold off: %d %s", r.status, r.body)
		}
		e.waitHoldStorage(m, admin, api.HoldStorageNone)
		for k, on := range e.legalHold("m/" + m + "/") {
			if on {
				t.Fatalf("%s still held after release", k)
			}
		}
		sum = e.pass(lifecycle.PassOptions{}, 72*time.Hour)
		if sum.PurgedVersions != 3 || sum.CollectedChunks != 4 || sum.Deleted != 7 {
			t.Fatalf("run after release = %+v", sum)
		}
		// Audited: the passes, as the system's actions.
		var actions []string
		e.store.Audit.AuditRecords(context.Background(), audit.Query{Matter: m}, func(r *audit.Record) error {
			actions = append(actions, r.Action)
			return nil
		})
		for _, a := range []string{"lifecycle.hold.apply", "lifecycle.hold.clear"} {
			if !slices.Contains(actions, a) {
				t.Fatalf("no %s record among %v", a, actions)
			}
		}
	})
}

// TestShred: shredding a closed matter is refused under hold; then every
// record and every object of the matter goes (orphans and what was
// already queued included), the audit records stay, and a destruction
// record signed with the gateway's audit key says what was destroyed.
func TestShred(t *testing.T) {
	onBothStores(t, func(t *testing.T, o envOpts) {
		o.tune = func(c *gateway.Config) { c.Lifecycle.Poll = 100 * time.Millisecond }
		e := newEnv(t, o)
		const m, other = "2026-0666", "2026-0667"
		tok := e.token("alice", "matter-"+m+"-rw", "matter-"+other+"-rw")
		admin := e.token("root", auth.AdminGroup)
		f := e.newFile(m)
		for v := int64(0); v < 3; v++ {
			id, _ := e.putChunk(m, tok, 2000)
			e.commit(m, tok, f, v, id)
		}
		orphan := "m/" + m + "/c/" + randomID(t).String()
		if _, err := e.minio.PutObject(context.Background(), e.bucket, orphan, bytes.NewReader(make([]byte, 10)), 10, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		oid, _ := e.putChunk(other, tok, 500)
		e.commit(other, tok, e.newFile(other), 0, oid)
		var inBucket int64
		for o := range e.minio.ListObjects(context.Background(), e.bucket, minio.ListObjectsOptions{Prefix: "m/" + m + "/", Recursive: true, WithVersions: true}) {
			inBucket += o.Size
		}

		e.do("PUT", "/v1/admin/matters/"+m+"/hold", admin, nil, []byte(`{"reason": "r"}`))
		r := e.do("POST", "/v1/admin/matters/"+m+"/shred", admin, nil, []byte(`{"reason": "file closed"}`))
		if r.status != http.StatusConflict || r.apiError(t).Code != api.CodeLegalHold {
			t.Fatalf("shred under hold: %d %s", r.status, r.body)
		}
		e.waitHoldStorage(m, admin, api.HoldStorageApplied)
		e.do("DELETE", "/v1/admin/matters/"+m+"/hold", admin, nil, []byte(`{"reason": "released for closing"}`))
		e.waitHoldStorage(m, admin, api.HoldStorageNone)
		if r := e.do("POST", "/v1/admin/matters/"+m+"/shred", admin, nil, []byte(`{}`)); r.status != http.StatusBadRequest {
			t.Fatalf("shred without a reason: %d", r.status)
		}
		r = e.do("POST", "/v1/admin/matters/"+m+"/shred", admin, nil, []byte(`{"reason": "file closed 2026-01-31"}`))
		if r.status != http.StatusAccepted {
			t.Fatalf("shred: %d %s", r.status, r.body)
		}
		var sh api.Shred
		json.Unmarshal(r.body, &sh)
		if sh.Files != 1 || sh.Versions != 3 || sh.Chunks != 3 || sh.Run == 0 || sh.By != "user-root" {
			t.Fatalf("shred = %+v", sh)
		}
		deadline := time.Now().Add(60 * time.Second)
		for sh.Destruction == nil {
			if time.Now().After(deadline) {
				t.Fatalf("no destruction record: %+v", sh)
			}
			time.Sleep(100 * time.Millisecond)
			r := e.do("GET", "/v1/admin/matters/"+m+"/shred", admin, nil, nil)
			sh = api.Shred{}
			json.Unmarshal(r.body, &sh)
		}
		if got := e.objects("m/" + m + "/"); len(got) != 0 {
			t.Fatalf("objects left: %v", got)
		}
		if got := e.objects("m/" + other + "/"); len(got) != 2 {
			t.Fatalf("the other matter's objects: %v", got)
		}
		rec, err := lifecycle.VerifyDestruction(e.key.Public().(ed25519.PublicKey), sh.Destruction.Record, sh.Destruction.Signature)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Matter != m || rec.ShreddedBy != "user-root" || rec.Reason != "file closed 2026-01-31" || rec.Objects != 7 || rec.Bytes != inBucket {
			t.Fatalf("destruction record = %+v (bucket held %d bytes)", rec, inBucket)
		}
		if sh.Destruction.KeyID != audit.KeyID(e.key.Public().(ed25519.PublicKey)) {
			t.Fatalf("key ID %s", sh.Destruction.KeyID)
		}
		if _, err := lifecycle.VerifyDestruction(e.key.Public().(ed25519.PublicKey), bytes.Replace(sh.Destruction.Record, []byte(`"objects_destroyed":7`), []byte(`"objects_destroyed":6`), 1), sh.Destruction.Signature); err == nil {
			t.Fatal("an edited destruction record verified")
		}
		// The audit records stay.
		var actions []string
		e.store.Audit.AuditRecords(context.Background(), audit.Query{Matter: m}, func(r *audit.Record) error {
			actions = append(actions, r.Action)
			return nil
		})
		for _, a := range []string{"file.commit", "admin.shred", "lifecycle.shred", "lifecycle.delete", "lifecycle.shred.done"} {
			if !slices.Contains(actions, a) {
				t.Fatalf("no %s record among %v", a, actions)
			}
		}
	})
}
