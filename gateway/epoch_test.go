package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/internal/testenv"
)

// TestEpochs: after an admin raises a matter's epoch, chunk uploads,
// commits and deletes sealed under an older one are refused with
// stale_epoch and change nothing; so are those under a newer one the
// gateway was not told of, which raise nothing (only the admin does);
// epochs never go down. On both stores.
func TestEpochs(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { epochs(t, newEnv(t, envOpts{})) })
	t.Run("postgres", func(t *testing.T) { epochs(t, newEnv(t, envOpts{postgresDSN: testenv.Postgres(t)})) })
}

func epochs(t *testing.T, e *env) {
	ctx := context.Background()
	const m = "2026-0007"
	rw := e.token("ent-rw", "matter-2026-0007-rw", "matter-b-rw")
	admin, err := client.New(e.url, client.StaticToken(e.token("ent-it", "mattersync-admins")), client.Options{Device: "IT"})
	if err != nil {
		t.Fatal(err)
	}
	files := "/v1/matters/" + m + "/files/"

	if ep, err := admin.Epoch(ctx, m); err != nil || ep != (api.Epoch{Matter: m}) {
		t.Fatalf("Epoch of a new matter = %+v, %v", ep, err)
	}
	c1, _ := e.putChunk(m, rw, 100)
	f := e.newFile(m)
	e.commit(m, rw, f, 0, c1)
	if ep, err := admin.Epoch(ctx, m); err != nil || ep.Epoch != 0 {
		t.Fatalf("Epoch after a commit at epoch 1 = %+v, %v; commits never raise it", ep, err)
	}
	if ep, err := admin.SetEpoch(ctx, m, 1); err != nil || ep != (api.Epoch{Matter: m, Epoch: 1, Previous: 0}) {
		t.Fatalf("SetEpoch(1) = %+v, %v", ep, err) // as `matter create` does
	}

	// Only admins see or set epochs; a member's attempt is audited.
	for _, tok := range []string{rw, e.token("ent-ro", "matter-2026-0007-ro")} {
		r := e.do("PUT", "/v1/admin/matters/"+m+"/epoch", tok, nil, []byte(`{"epoch":9}`))
		if r.status != 403 || r.apiError(t).Code != api.CodeForbidden {
			t.Fatalf("member sets epoch: %d %s", r.status, r.body)
		}
		if rec := e.record(r.header.Get(api.HeaderRequestID)); rec == nil || rec.Action != "admin.epoch.set" || rec.Result != audit.ResultDenied {
			t.Fatalf("audit record of a member's epoch set: %+v", rec)
		}
		if r := e.do("GET", "/v1/admin/matters/"+m+"/epoch", tok, nil, nil); r.status != 403 {
			t.Fatalf("member reads epoch: %d %s", r.status, r.body)
		}
	}

	// The admin raises it after a rotation; again is a no-op.
	ep, err := admin.SetEpoch(ctx, m, 2)
	if err != nil || ep != (api.Epoch{Matter: m, Epoch: 2, Previous: 1}) {
		t.Fatalf("SetEpoch(2) = %+v, %v", ep, err)
	}
	if ep, err := admin.SetEpoch(ctx, m, 2); err != nil || ep.Epoch != 2 || ep.Previous != 2 {
		t.Fatalf("SetEpoch(2) again = %+v, %v", ep, err)
	}
	var rec *audit.Record
	e.store.Audit.AuditRecords(ctx, audit.Query{Matter: m}, func(r *audit.Record) error {
		if r.Action == "admin.epoch.set" && r.Result == audit.ResultOK {
			c := *r
			rec = &c
		}
		return nil
	})
	if rec == nil || rec.Object != "epoch=2" || rec.User != "user-ent-it" || rec.Status != 200 {
		t.Fatalf("audit record of SetEpoch: %+v", rec)
	}

	// Lowering is refused, naming both epochs.
	_, err = admin.SetEpoch(ctx, m, 1)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusConflict || ce.Body.Code != api.CodeStaleEpoch || ce.Body.CurrentEpoch != 2 ||
		!strings.Contains(ce.Body.Message, "epoch 2") || !strings.Contains(ce.Body.Message, "never lowered") {
		t.Fatalf("SetEpoch(1) = %v", err)
	}
	if _, err := admin.SetEpoch(ctx, m, 0); !errors.Is(err, client.ErrInvalid) {
		t.Fatalf("SetEpoch(0) = %v", err)
	}
	for _, body := range []string{`{"epoch":0}`, `{}`, `{"epoch":-1}`, `{"epoch":4294967296}`, `{"epoch":1.5}`, `{"epoch":"3"}`, `{"epoch":3,"force":true}`, ``} {
		r := e.do("PUT", "/v1/admin/matters/"+m+"/epoch", admin2(e), nil, []byte(body))
		if r.status != 400 || r.apiError(t).Code != api.CodeInvalidRequest {
			t.Fatalf("SetEpoch body %q: %d %s", body, r.status, r.body)
		}
	}
	if r := e.do("PUT", "/v1/admin/matters/Not_A_Matter/epoch", admin2(e), nil, []byte(`{"epoch":3}`)); r.status != 400 {
		t.Fatalf("SetEpoch of a bad matter ID: %d %s", r.status, r.body)
	}

	// An agent with a warm cache still seals under epoch 1: refused, with
	// nothing stored.
	before := e.snapshot(m)
	stale := func(name string, r resp) {
		t.Helper()
		if r.status != http.StatusConflict {
			t.Fatalf("%s: %d %s, want 409", name, r.status, r.body)
		}
		b := r.apiError(t)
		if b.Code != api.CodeStaleEpoch || b.CurrentEpoch != 2 || !strings.Contains(b.Message, "epoch 1") || !strings.Contains(b.Message, "epoch 2") {
			t.Fatalf("%s: %s", name, r.body)
		}
		if rec := e.record(r.header.Get(api.HeaderRequestID)); rec == nil || rec.Result != audit.ResultConflict || rec.Status != 409 || rec.Bytes != 0 {
			t.Fatalf("%s: audit record %+v", name, rec)
		}
		if after := e.snapshot(m); !reflect.DeepEqual(before, after) {
			t.Fatalf("%s changed state:\nbefore %+v\nafter  %+v", name, before, after)
		}
	}
	id, body := e.chunk(m, 100)
	stale("chunk", e.do("PUT", "/v1/matters/"+m+"/chunks/"+id.String(), rw, map[string]string{api.HeaderChecksum: sumHex(body)}, body))
	stale("commit", e.do("PUT", files+f.String(), rw, map[string]string{"If-Match": `"1"`}, e.commitBody(m, f, 2, c1)))
	g := e.newFile(m)
	stale("new file", e.do("PUT", files+g.String(), rw, map[string]string{"If-None-Match": "*"}, e.commitBody(m, g, 1)))
	stale("delete", e.do("DELETE", files+f.String(), rw, map[string]string{"If-Match": `"1"`}, e.tombstoneBody(m, f, 2)))
	// A chunk the gateway already has is not read again, so not refused:
	// nothing new is stored, and a commit needs the current epoch anyway.
	if r := e.do("PUT", "/v1/matters/"+m+"/chunks/"+c1.String(), rw, map[string]string{api.HeaderChecksum: sumHex(body)}, body); r.status != 200 {
		t.Fatalf("re-upload of a stored chunk: %d %s", r.status, r.body)
	}

	// With the new key everything goes through, and each version records
	// its epoch; a manifest may still reference chunks of older epochs.
	e.sealer.UseEpoch(m, 2)
	c2, _ := e.putChunk(m, rw, 100)
	e.commit(m, rw, f, 1, c1, c2)
	tomb := e.sealer.TombstoneOf(t, m, f, 3)
	rwc, _ := client.New(e.url, client.StaticToken(rw), client.Options{})
	if d, err := rwc.Delete(ctx, m, f.String(), 2, tomb); err != nil || d.Version != 3 {
		t.Fatalf("delete at epoch 2 = %+v, %v", d, err)
	}
	vs, err := rwc.Versions(ctx, m, f.String())
	if err != nil || len(vs.Versions) != 3 || vs.Versions[0].Epoch != 2 || vs.Versions[1].Epoch != 2 || vs.Versions[2].Epoch != 1 {
		t.Fatalf("versions = %+v, %v; want epochs 2, 2, 1", vs, err)
	}

	// A chunk, commit or delete under an epoch the gateway does not know
	// yet (a rotation whose gateway step was not done; or a member sealing
	// under an epoch of its own invention) is refused and raises nothing:
	// only the admin's step does, so a member cannot lock the others out.
	e.sealer.UseEpoch(m, 3)
	before = e.snapshot(m)
	ahead := func(name string, r resp) {
		t.Helper()
		b := r.apiError(t)
		if r.status != http.StatusConflict || b.Code != api.CodeStaleEpoch || b.CurrentEpoch != 2 || !strings.Contains(b.Message, "does not know") || !strings.Contains(b.Message, "epoch set "+m+" 3") {
			t.Fatalf("%s under epoch 3: %d %s", name, r.status, r.body)
		}
		if after := e.snapshot(m); !reflect.DeepEqual(before, after) {
			t.Fatalf("%s under epoch 3 changed state", name)
		}
	}
	id3, body3 := e.chunk(m, 100)
	ahead("chunk", e.do("PUT", "/v1/matters/"+m+"/chunks/"+id3.String(), rw, map[string]string{api.HeaderChecksum: sumHex(body3)}, body3))
	ahead("commit", e.do("PUT", files+g.String(), rw, map[string]string{"If-None-Match": "*"}, e.commitBody(m, g, 1)))
	h := e.newFile(m)
	e.sealer.UseEpoch(m, 2)
	e.commit(m, rw, h, 0)
	e.sealer.UseEpoch(m, 3)
	before = e.snapshot(m)
	ahead("delete", e.do("DELETE", files+h.String(), rw, map[string]string{"If-Match": `"1"`}, e.tombstoneBody(m, h, 2)))
	if ep, err := admin.Epoch(ctx, m); err != nil || ep.Epoch != 2 {
		t.Fatalf("Epoch after uploads at 3 = %+v, %v; want 2", ep, err)
	}
	// Once the admin's step tells the gateway, epoch 3 goes through.
	if _, err := admin.SetEpoch(ctx, m, 3); err != nil {
		t.Fatal(err)
	}
	e.commit(m, rw, g, 0)

	// Other matters keep their own epoch (and commits set none).
	cb, _ := e.putChunk("b", rw, 100)
	e.commit("b", rw, e.newFile("b"), 0, cb)
	if ep, err := admin.Epoch(ctx, "b"); err != nil || ep.Epoch != 0 {
		t.Fatalf("Epoch(b) = %+v, %v", ep, err)
	}
}

func admin2(e *env) string { return e.token("ent-it2", "mattersync-admins") }

// TestTombstones: a delete stores its sealed tombstone in S3 like a
// manifest, refuses under legal hold before writing anything, and the
// tombstone is read back by version.
func TestTombstones(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	tok := e.token("ent-1", "matter-a-rw", "mattersync-admins")
	f := e.newFile("a")
	e.commit("a", tok, f, 0)
	e.commit("a", tok, f, 1)

	if r := e.do("PUT", "/v1/admin/matters/a/hold", tok, nil, []byte(`{"reason":"litigation"}`)); r.status != 200 {
		t.Fatalf("hold: %d %s", r.status, r.body)
	}
	before := e.snapshot("a")
	r := e.do("DELETE", "/v1/matters/a/files/"+f.String(), tok, map[string]string{"If-Match": `"2"`}, e.tombstoneBody("a", f, 3))
	if r.status != 409 || r.apiError(t).Code != api.CodeLegalHold {
		t.Fatalf("delete under hold: %d %s", r.status, r.body)
	}
	if after := e.snapshot("a"); !reflect.DeepEqual(before, after) {
		t.Fatalf("a refused delete wrote something:\nbefore %+v\nafter  %+v", before, after)
	}
	if r := e.do("DELETE", "/v1/admin/matters/a/hold", tok, nil, []byte(`{"reason":"settled"}`)); r.status != 200 {
		t.Fatalf("release: %d %s", r.status, r.body)
	}

	tomb := e.sealer.TombstoneOf(t, "a", f, 3)
	r = e.do("DELETE", "/v1/matters/a/files/"+f.String(), tok, map[string]string{"If-Match": `"2"`}, rawCommitBody(t, tomb))
	if r.status != 200 || r.header.Get("ETag") != `"3"` {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if rec := e.record(r.header.Get(api.HeaderRequestID)); rec == nil || rec.Action != "file.delete" || rec.Object != f.String()+"@3" || rec.Bytes != int64(len(tomb)) {
		t.Fatalf("audit record of the delete: %+v", rec)
	}
	v3, err := e.store.Files.Version(ctx, "a", f, 3)
	if err != nil {
		t.Fatal(err)
	}
	key := v3.ManifestKey
	obj, err := e.minio.GetObject(ctx, e.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var stored bytes.Buffer
	if _, err := stored.ReadFrom(obj); err != nil || !bytes.Equal(stored.Bytes(), tomb) {
		t.Fatalf("S3 object %s = %d bytes, %v; want the tombstone", key, stored.Len(), err)
	}
	for _, q := range []string{"", "?version=3"} {
		var fv api.FileVersion
		r := e.do("GET", "/v1/matters/a/files/"+f.String()+q, tok, nil, nil)
		if r.status != 200 || json.Unmarshal(r.body, &fv) != nil || !fv.Deleted || !bytes.Equal(fv.Manifest, tomb) || fv.Size != int64(len(tomb)) || fv.Epoch != 1 {
			t.Fatalf("GET tombstone%s: %d %s", q, r.status, r.body)
		}
	}
	// History continues on top of the tombstone.
	e.commit("a", tok, f, 3)
}
