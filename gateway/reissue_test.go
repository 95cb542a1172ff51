package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth/authtest"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/internal/testenv"
)

// refreshing is a token source like kms.Keyring: a cached token, and a
// new one on RefreshToken.
type refreshing struct {
	cached    string
	fresh     func() string
	refreshes atomic.Int32
}

func (r *refreshing) Token(context.Context) (string, error) { return r.cached, nil }

func (r *refreshing) RefreshToken(context.Context) (string, error) {
	r.refreshes.Add(1)
	r.cached = r.fresh()
	return r.cached, nil
}

// TestReissue: after `matter remove`/`screen`, the admin stamps the
// entity; every replica then refuses its tokens issued before, with 401,
// and the client fetches a new one (carrying the new groups) once.
func TestReissue(t *testing.T) {
	dsn := testenv.Postgres(t)
	a := newEnv(t, envOpts{postgresDSN: dsn})
	b := newEnv(t, envOpts{postgresDSN: dsn, bucket: a.bucket, issuer: a.issuer, key: a.key, sealer: a.sealer})
	admin := a.token("ent-admin", "mattersync-admins")
	old := a.issuer.Token(t, authtest.Claims{Subject: "ent-a", Username: "alice", Groups: []string{"matter-a-rw"}, IssuedAt: time.Now().Add(-10 * time.Second)})
	for _, r := range []*env{a, b} {
		if res := r.do("GET", "/v1/matters/a/changes", old, nil, nil); res.status != 200 {
			t.Fatalf("before the stamp: %d", res.status)
		}
	}
	res := a.do("POST", "/v1/admin/deny/ent-a/reissue", admin, nil, []byte(`{"reason":"removed from a"}`))
	var stamp api.Reissue
	if json.Unmarshal(res.body, &stamp); res.status != 200 || stamp.EntityID != "ent-a" || stamp.Reason != "removed from a" || stamp.SetBy != "user-ent-admin" || time.Since(stamp.NotBefore) > time.Minute {
		t.Fatalf("reissue: %d %s", res.status, res.body)
	}
	if rec := a.record(res.header.Get(api.HeaderRequestID)); rec == nil || rec.Action != "admin.deny.reissue" || rec.Object != "entity:ent-a" || rec.Status != 200 {
		t.Fatalf("audit record %+v", rec)
	}
	// This replica at once, the other within deny_max_staleness.
	res = a.do("GET", "/v1/matters/a/changes", old, nil, nil)
	if res.status != http.StatusUnauthorized || res.apiError(t).Code != api.CodeUnauthenticated || res.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("old token after the stamp: %d %s", res.status, res.body)
	}
	if rec := a.record(res.header.Get(api.HeaderRequestID)); rec == nil || rec.Entity != "ent-a" || rec.Result != audit.ResultDenied {
		t.Fatalf("refusal's audit record %+v", rec)
	}
	deadline := time.Now().Add(a.cfg.Limits.DenyMaxStaleness)
	for b.do("GET", "/v1/matters", old, nil, nil).status != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("the other replica still accepts the old token")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Other entities' tokens of the same age are fine.
	other := a.issuer.Token(t, authtest.Claims{Subject: "ent-b", Username: "bob", Groups: []string{"matter-a-rw"}, IssuedAt: time.Now().Add(-10 * time.Second)})
	if r := b.do("GET", "/v1/matters/a/changes", other, nil, nil); r.status != 200 {
		t.Fatalf("another entity: %d", r.status)
	}
	// A token issued after the stamp (iat is whole seconds: the next one).
	time.Sleep(time.Until(stamp.NotBefore.Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
	fresh := func() string {
		return a.issuer.Token(t, authtest.Claims{Subject: "ent-a", Username: "alice", Groups: []string{"matter-b-rw"}})
	}
	for _, r := range []*env{a, b} {
		if res := r.do("GET", "/v1/matters/a/changes", fresh(), nil, nil); res.status != http.StatusForbidden {
			t.Fatalf("new token, without the group: %d", res.status)
		}
	}
	// The list shows the stamp.
	var list api.DenyList
	if json.Unmarshal(b.do("GET", "/v1/admin/deny", admin, nil, nil).body, &list); len(list.Reissue) != 1 || list.Reissue[0].EntityID != "ent-a" || len(list.Entries) != 0 {
		t.Fatalf("deny list %+v", list)
	}

	// The Go client: a refreshing token source gets one new token and the
	// request (with its body) goes through; a static one gets the 401.
	src := &refreshing{cached: old, fresh: fresh}
	c, err := client.New(b.url, src, client.Options{Device: "LAPTOP-7"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	who, err := c.Matters(ctx)
	if err != nil || who.Entity != "ent-a" || len(who.Matters) != 1 || who.Matters[0].ID != "b" || src.refreshes.Load() != 1 {
		t.Fatalf("Matters with a refreshing source: %+v, %v, %d refreshes", who, err, src.refreshes.Load())
	}
	src.cached = old
	id, sealed := a.chunk("b", 1000)
	if err := c.PutChunk(ctx, "b", id.String(), sealed); err != nil || src.refreshes.Load() != 2 {
		t.Fatalf("PutChunk with a refreshing source: %v, %d refreshes", err, src.refreshes.Load())
	}
	if got, err := c.GetChunk(ctx, "b", id.String()); err != nil || len(got) != len(sealed) {
		t.Fatalf("chunk after the retried upload: %d bytes, %v", len(got), err)
	}
	sc, _ := client.New(b.url, client.StaticToken(old), client.Options{})
	if _, err := sc.Matters(ctx); client.Code(err) != api.CodeUnauthenticated {
		t.Fatalf("static old token: %v", err)
	}
	// A refresh that does not help: one retry, then the 401.
	stale := &refreshing{cached: old, fresh: func() string { return old }}
	sc, _ = client.New(b.url, stale, client.Options{})
	if _, err := sc.Matters(ctx); client.Code(err) != api.CodeUnauthenticated || stale.refreshes.Load() != 1 {
		t.Fatalf("refresh returning the old token: %v, %d refreshes", err, stale.refreshes.Load())
	}
	// Invalid entity, and admins only.
	if r := a.do("POST", "/v1/admin/deny/bad%20id/reissue", admin, nil, nil); r.status != 400 {
		t.Fatalf("bad entity: %d", r.status)
	}
	if r := a.do("POST", "/v1/admin/deny/ent-a/reissue", fresh(), nil, nil); r.status != 403 {
		t.Fatalf("non-admin: %d", r.status)
	}
	// Without a body, and moving the stamp forward.
	if r := a.do("POST", "/v1/admin/deny/ent-a/reissue", admin, nil, nil); r.status != 200 || !strings.Contains(string(r.body), `"entity_id":"ent-a"`) {
		t.Fatalf("reissue without a body: %d %s", r.status, r.body)
	}
	if r := a.do("GET", "/v1/matters", fresh(), nil, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("token of the old second after a second stamp: %d", r.status)
	}
}
