package gateway_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
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
	"github.com/mattersync/mattersync/gateway/share"
	"github.com/mattersync/mattersync/gateway/store"
)

// TestDropObjectsCollected: drop objects are the lifecycle's to delete. A
// delivered drop's object goes once the grace has passed since it was
// delivered; a drop waiting for an agent, or left with a problem for an
// administrator, keeps its object (the client's only copy); an object no
// drop names (an orphan) goes once older than the grace; a held matter
// keeps them all; and shredding a matter deletes its drop objects,
// undelivered ones too, so its destruction record arrives.
func TestDropObjectsCollected(t *testing.T) {
	onBothStores(t, func(t *testing.T, o envOpts) {
		sc := share.DefaultConfig()
		sc.Default = share.PolicyOn
		sc.PublicURL = "https://share.firm.test/"
		sc.SMTP = share.SMTPConfig{Host: "127.0.0.1", Port: 9, From: "shares@firm.test", TLS: share.TLSNone}
		o.tune = func(c *gateway.Config) {
			c.Lifecycle.Poll = 100 * time.Millisecond
			c.Sharing = &sc
		}
		e := newEnv(t, o)
		ctx := context.Background()
		const m, held, shred = "2026-0531", "2026-0532", "2026-0533"
		tok := e.token("alice", "matter-"+m+"-rw", "matter-"+held+"-rw", "matter-"+shred+"-rw")
		admin := e.token("root", auth.AdminGroup)
		rec := func(action, matter string) *audit.Record {
			return &audit.Record{Time: time.Now(), Action: action, Matter: matter, Result: audit.ResultOK}
		}
		// request makes a request through the API and a grant for it in
		// the store (the code's e-mail is another test's).
		request := func(matter string) (string, [32]byte) {
			t.Helper()
			priv, epochKey := format.NewRequestKey(), make([]byte, 32)
			rand.Read(epochKey)
			wrapped, err := format.WrapRequestKey(matter, 1, epochKey, priv)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := json.Marshal(api.RequestCreate{To: "client@example.com", MaxFiles: 10, PublicKey: b64(priv.PublicKey().Bytes()), WrappedKey: b64(wrapped)})
			r := e.do("POST", "/v1/matters/"+matter+"/requests", tok, map[string]string{"Content-Type": "application/json"}, body)
			var q api.Request
			if r.status != http.StatusCreated || json.Unmarshal(r.body, &q) != nil {
				t.Fatalf("request: %d %s", r.status, r.body)
			}
			var code, grant [32]byte
			rand.Read(code[:])
			rand.Read(grant[:])
			now := time.Now()
			lim := store.CodeLimits{SentPerShare: 3, SentPerAddress: 100, WrongPerShare: 3, WrongPerAddress: 100}
			if err := e.store.Requests.AddRequestCode(ctx, store.ShareCode{Share: q.ID, Hash: code, Created: now, Expires: now.Add(time.Hour)}, lim, store.ShareRules{DefaultOn: true}, rec("request.code", matter)); err != nil {
				t.Fatal(err)
			}
			if _, err := e.store.Requests.VerifyRequestCode(ctx, q.ID, code, store.ShareGrant{Hash: grant, Expires: now.Add(time.Hour)}, now, lim, store.ShareRules{DefaultOn: true}, rec("request.verify", matter)); err != nil {
				t.Fatal(err)
			}
			return q.ID, grant
		}
		put := func(matter, id string) {
			t.Helper()
			key, _ := blob.DropKey(matter, id)
			if _, err := e.minio.PutObject(ctx, e.bucket, key, bytes.NewReader(make([]byte, 10)), 10, minio.PutObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		// drop stores a drop as the upload does: the object first, then
		// its record.
		drop := func(matter, q string, grant [32]byte) string {
			t.Helper()
			var b [16]byte
			rand.Read(b[:])
			id := hex.EncodeToString(b[:])
			put(matter, id)
			key, _ := blob.DropKey(matter, id)
			if err := e.store.Requests.AddDrop(ctx, store.Drop{ID: id, Request: q, Size: 10, ObjectKey: key, Uploaded: time.Now()}, grant, store.ShareRules{DefaultOn: true}, rec("request.upload", matter)); err != nil {
				t.Fatal(err)
			}
			return id
		}
		finish := func(matter, id string, done api.DropDone) {
			t.Helper()
			if r := e.do("POST", "/v1/matters/"+matter+"/drops/"+id+"/claim", tok, nil, nil); r.status != http.StatusOK {
				t.Fatalf("claim: %d %s", r.status, r.body)
			}
			body, _ := json.Marshal(done)
			if r := e.do("POST", "/v1/matters/"+matter+"/drops/"+id+"/done", tok, map[string]string{"Content-Type": "application/json"}, body); r.status != http.StatusOK {
				t.Fatalf("done: %d %s", r.status, r.body)
			}
		}
		delivered := api.DropDone{File: strings.Repeat("ab", 32)}
		want := func(what, matter string, ids ...string) {
			t.Helper()
			var got []string
			for _, k := range e.objects("m/" + matter + "/d/") {
				got = append(got, strings.TrimPrefix(k, "m/"+matter+"/d/"))
			}
			slices.Sort(got)
			slices.Sort(ids)
			if !slices.Equal(got, ids) {
				t.Fatalf("%s: drop objects %v, want %v", what, got, ids)
			}
		}

		q, grant := request(m)
		done, waiting, problem := drop(m, q, grant), drop(m, q, grant), drop(m, q, grant)
		finish(m, done, delivered)
		finish(m, problem, api.DropDone{Problem: "does not open with the request's key"})
		orphan := strings.Repeat("0f", 16)
		put(m, orphan)
		hq, hgrant := request(held)
		kept := drop(held, hq, hgrant)
		finish(held, kept, delivered)
		e.do("PUT", "/v1/admin/matters/"+held+"/hold", admin, nil, []byte(`{"reason": "litigation"}`))
		e.waitHoldStorage(held, admin, api.HoldStorageApplied)

		e.pass(lifecycle.PassOptions{}, 0)
		want("within the grace", m, done, waiting, problem, orphan)
		e.pass(lifecycle.PassOptions{}, 72*time.Hour)
		want("after the grace", m, waiting, problem)
		want("held matter after the grace", held, kept)

		// Shred: an undelivered drop's object goes too, and the
		// destruction record arrives.
		sq, sgrant := request(shred)
		drop(shred, sq, sgrant)
		if r := e.do("POST", "/v1/admin/matters/"+shred+"/close", admin, nil, []byte(`{"reason": "done"}`)); r.status >= 300 {
			t.Fatalf("close: %d %s", r.status, r.body)
		}
		if r := e.do("POST", "/v1/admin/matters/"+shred+"/shred", admin, nil, []byte(`{"reason": "file closed"}`)); r.status != http.StatusAccepted {
			t.Fatalf("shred: %d %s", r.status, r.body)
		}
		var sh api.Shred
		deadline := time.Now().Add(60 * time.Second)
		for sh.Destruction == nil {
			if time.Now().After(deadline) {
				t.Fatalf("no destruction record; objects left: %v", e.objects("m/"+shred+"/"))
			}
			time.Sleep(100 * time.Millisecond)
			r := e.do("GET", "/v1/admin/matters/"+shred+"/shred", admin, nil, nil)
			sh = api.Shred{}
			json.Unmarshal(r.body, &sh)
		}
		if left := e.objects("m/" + shred + "/"); len(left) != 0 {
			t.Fatalf("objects left after the destruction record: %v", left)
		}
	})
}
