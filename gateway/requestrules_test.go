package gateway_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/alerts"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/share"
	"github.com/mattersync/mattersync/gateway/store"
	"github.com/mattersync/mattersync/internal/testenv"
)

// TestRequestRulesAtUse: a file request whose maker was screened after it
// was made, or whose matter's epoch was rotated since its key was wrapped,
// refuses the upload under a grant already given with request_revoked and
// is revoked with a request.revoke record naming the reason (the maker's
// request list shows it); the wrong codes over a request's life revoke it
// with the alert's marker (hostile review request-1, findings 2, 3, 4).
func TestRequestRulesAtUse(t *testing.T) {
	bothEngines(t, testRequestRulesAtUse)
}

func testRequestRulesAtUse(t *testing.T, pg bool) {
	e := startSharing(t, shareOpts{postgres: pg, tune: func(c *share.Config) { c.Codes.WrongPerShareTotal = 3 }})
	ctx := context.Background()
	g := e.g
	admin := g.Client(t, g.Token(t, "ent-root", auth.AdminGroup), "ADMIN")
	request := func(entity, m string) (api.Request, string, func() api.Request) {
		t.Helper()
		c := g.Client(t, g.Token(t, entity, "matter-"+m+"-rw"), "LAPTOP")
		epochKey := make([]byte, 32)
		rand.Read(epochKey)
		priv := format.NewRequestKey()
		wrapped, err := format.WrapRequestKey(m, 1, epochKey, priv)
		if err != nil {
			t.Fatal(err)
		}
		addr := testenv.RandomName("client") + "@example.com"
		q, err := c.CreateRequest(ctx, m, api.RequestCreate{To: addr, MaxFiles: 3, PublicKey: b64(priv.PublicKey().Bytes()), WrappedKey: b64(wrapped)})
		if err != nil {
			t.Fatal(err)
		}
		return q, addr, func() api.Request {
			t.Helper()
			list, err := admin.Requests(ctx, m, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, got := range list {
				if got.ID == q.ID {
					return got
				}
			}
			t.Fatalf("request %s not listed", q.ID)
			return api.Request{}
		}
	}
	grantOf := func(id, addr string) string {
		t.Helper()
		r := e.recipientVerify(id, e.requestCode(id, addr))
		var grant api.RequestGrant
		if r.status != http.StatusOK || json.Unmarshal(r.body, &grant) != nil {
			t.Fatalf("verify %d %s", r.status, r.body)
		}
		return grant.Grant
	}
	upload := func(id, grant string) resp {
		t.Helper()
		obj := object(1000)
		sum := sha256.Sum256(obj)
		return e.recipient("POST", "/r/"+id+"/drops", map[string]string{"Authorization": "Grant " + grant,
			api.HeaderChecksum: hex.EncodeToString(sum[:]), "Content-Type": "application/octet-stream"}, obj)
	}
	revokedFor := func(q api.Request, now func() api.Request, mark, reason string) {
		t.Helper()
		recs := e.records("request.revoke", "request="+q.ID)
		if len(recs) != 1 || !strings.Contains(recs[0].Object, reason) || !strings.HasPrefix(recs[0].Object, mark) {
			t.Fatalf("request.revoke records of %s: %+v, want one with %q", q.ID, recs, reason)
		}
		if got := now(); got.State != api.RequestRevoked || got.RevokeReason != reason {
			t.Fatalf("request after the refusal: %s %q, want revoked %q", got.State, got.RevokeReason, reason)
		}
		r := e.recipient("GET", "/r/"+q.ID+"/info", nil, nil)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"state":"revoked"`) {
			t.Fatalf("info of a revoked request: %d %s", r.status, r.body)
		}
	}

	// Finding 3: the maker screened (membership recorded, no hook) after
	// the client was given a grant.
	a, addr, now := request("ent-alice", "2026-0711")
	grant := grantOf(a.ID, addr)
	if _, err := admin.RecordMembership(ctx, "2026-0711", api.MembershipSnapshot{Source: "vault",
		Members: []api.Member{{Entity: "ent-bob", Name: "bob", Role: "rw"}, {Entity: "ent-alice", Name: "alice", Role: "screened"}}}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "upload after the maker was screened", upload(a.ID, grant), http.StatusGone, api.CodeRequestRevoked)
	revokedFor(a, now, "request=", "creator screened from the matter")

	// Finding 2: the matter's epoch rotated after the request's key was
	// wrapped (at epoch 1).
	b, addr, now := request("ent-bob", "2026-0712")
	grant = grantOf(b.ID, addr)
	if _, err := admin.SetEpoch(ctx, "2026-0712", 2); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "upload after the epoch rotated", upload(b.ID, grant), http.StatusGone, api.CodeRequestRevoked)
	revokedFor(b, now, "request=", store.ReasonEpochRotated)

	// Finding 4: wrong codes over the request's life, the third revokes it.
	c, addr, now := request("ent-carol", "2026-0713")
	e.requestCode(c.ID, addr)
	for i, want := range []api.Code{api.CodeCodeWrong, api.CodeCodeWrong, api.CodeRequestRevoked} {
		r := e.recipientVerify(c.ID, "000000")
		if r.status < 400 || r.apiError(t).Code != want {
			// 000000 may be the code itself: one in a million.
			t.Fatalf("wrong code %d: %d %s, want %s", i+1, r.status, r.body, want)
		}
	}
	revokedFor(c, now, alerts.ObjectCodeCap+" ", "3 wrong codes")
}
