package gateway_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth/authtest"
	"github.com/mattersync/mattersync/internal/testenv"
)

// TestPermissionMatrix asserts every cell of {identity} x {operation}: the
// status, the error code, and the audit record (result, status, entity).
func TestPermissionMatrix(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { permissionMatrix(t, newEnv(t, envOpts{})) })
	t.Run("postgres", func(t *testing.T) { permissionMatrix(t, newEnv(t, envOpts{postgresDSN: testenv.Postgres(t)})) })
}

func permissionMatrix(t *testing.T, e *env) {
	const matter = "a"
	rwTok := e.token("ent-owner", "matter-a-rw")
	adminTok := e.token("ent-admin", "mattersync-admins")
	// The denied identity is a full member whose entity is on the deny list.
	if r := e.do("POST", "/v1/admin/deny", adminTok, nil, []byte(`{"entity_id":"ent-denied","name":"dave","reason":"left the firm"}`)); r.status != http.StatusCreated {
		t.Fatalf("deny: %d %s", r.status, r.body)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	base := authtest.Claims{Subject: "ent-x", Username: "x", Groups: []string{"matter-a-rw", "mattersync-admins"}}
	mod := func(f func(*authtest.Claims)) string {
		c := base
		f(&c)
		return e.issuer.Token(t, c)
	}
	noneTok := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, e.issuer.MapClaims(base))
		tok.Header["kid"] = e.issuer.KeyID()
		s, _ := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		return s
	}()

	type identity struct {
		name   string
		token  string
		entity string // "" when the token must not be believed
	}
	ids := []identity{
		{"rw", rwTok, "ent-owner"},
		{"ro", e.token("ent-ro", "matter-a-ro"), "ent-ro"},
		{"screened", e.token("ent-scr", "matter-a-rw", "matter-a-screened"), "ent-scr"},
		{"non-member", e.token("ent-nm", "matter-b-rw"), "ent-nm"},
		{"denied", e.token("ent-denied", "matter-a-rw", "mattersync-admins"), "ent-denied"},
		{"admin", adminTok, "ent-admin"},
		{"expired", mod(func(c *authtest.Claims) {
			c.Expiry = time.Now().Add(-2 * time.Minute)
			c.IssuedAt = time.Now().Add(-time.Hour)
		}), ""},
		{"wrong audience", mod(func(c *authtest.Claims) { c.Audience = "vault" }), ""},
		{"bad signature", authtest.Sign(t, other, e.issuer.KeyID(), jwt.SigningMethodRS256, e.issuer.MapClaims(base)), ""},
		{"alg none", noneTok, ""},
	}

	// An operation prepares what it needs with the owner's token, then
	// makes the request under test.
	type op struct {
		name string
		run  func(tok string) resp
	}
	ops := []op{
		{"list", func(tok string) resp { return e.do("GET", "/v1/matters", tok, nil, nil) }},
		{"read chunk", func(tok string) resp {
			id, _ := e.putChunk(matter, rwTok, 100)
			return e.do("GET", "/v1/matters/a/chunks/"+id.String(), tok, nil, nil)
		}},
		{"write chunk", func(tok string) resp {
			id, body := e.chunk(matter, 100)
			return e.do("PUT", "/v1/matters/a/chunks/"+id.String(), tok, map[string]string{api.HeaderChecksum: sumHex(body)}, body)
		}},
		{"commit", func(tok string) resp {
			id, _ := e.putChunk(matter, rwTok, 100)
			f := e.newFile(matter)
			return e.do("PUT", "/v1/matters/a/files/"+f.String(), tok, map[string]string{"If-None-Match": "*"}, e.commitBody(matter, f, 1, id))
		}},
		{"delete", func(tok string) resp {
			f := e.newFile(matter)
			e.commit(matter, rwTok, f, 0)
			return e.do("DELETE", "/v1/matters/a/files/"+f.String(), tok, map[string]string{"If-Match": `"1"`}, e.tombstoneBody(matter, f, 2))
		}},
		{"changes", func(tok string) resp { return e.do("GET", "/v1/matters/a/changes?since=0", tok, nil, nil) }},
		{"admin", func(tok string) resp { return e.do("GET", "/v1/admin/deny", tok, nil, nil) }},
	}
	const (
		ok  = 0
		no  = http.StatusForbidden
		rev = -1 // 403 revoked
		una = http.StatusUnauthorized
	)
	success := map[string]int{"list": 200, "read chunk": 200, "write chunk": 201, "commit": 201, "delete": 200, "changes": 200, "admin": 200}
	actions := map[string]string{"list": "matters.list", "read chunk": "chunk.get", "write chunk": "chunk.put", "commit": "file.commit",
		"delete": "file.delete", "changes": "changes", "admin": "admin.deny.list"}
	// want[identity] lists the outcome per op, in ops order.
	want := map[string][7]int{
		"rw":             {ok, ok, ok, ok, ok, ok, no},
		"ro":             {ok, ok, no, no, no, ok, no},
		"screened":       {ok, no, no, no, no, no, no},
		"non-member":     {ok, no, no, no, no, no, no},
		"denied":         {rev, rev, rev, rev, rev, rev, rev},
		"admin":          {ok, no, no, no, no, no, ok},
		"expired":        {una, una, una, una, una, una, una},
		"wrong audience": {una, una, una, una, una, una, una},
		"bad signature":  {una, una, una, una, una, una, una},
		"alg none":       {una, una, una, una, una, una, una},
	}
	for _, id := range ids {
		for i, o := range ops {
			t.Run(fmt.Sprintf("%s/%s", id.name, o.name), func(t *testing.T) {
				r := o.run(id.token)
				wantStatus, wantCode, wantResult := success[o.name], api.Code(""), audit.ResultOK
				switch w := want[id.name][i]; w {
				case no:
					wantStatus, wantCode, wantResult = 403, api.CodeForbidden, audit.ResultDenied
				case rev:
					wantStatus, wantCode, wantResult = 403, api.CodeRevoked, audit.ResultDenied
				case una:
					wantStatus, wantCode, wantResult = 401, api.CodeUnauthenticated, audit.ResultDenied
				}
				if r.status != wantStatus {
					t.Fatalf("status %d, want %d: %s", r.status, wantStatus, r.body)
				}
				if wantCode != "" {
					if got := r.apiError(t).Code; got != wantCode {
						t.Fatalf("code %q, want %q", got, wantCode)
					}
				}
				rec := e.record(r.header.Get(api.HeaderRequestID))
				if rec == nil {
					t.Fatalf("no audit record for request %s", r.header.Get(api.HeaderRequestID))
				}
				if rec.Result != wantResult || rec.Status != wantStatus || rec.Entity != id.entity || rec.Device != "TEST-DEVICE" || rec.Source == "" {
					t.Fatalf("audit record %+v: want result %s, status %d, entity %q", rec, wantResult, wantStatus, id.entity)
				}
				if rec.Action != actions[o.name] {
					t.Fatalf("audit action %q, want %q", rec.Action, actions[o.name])
				}
				if o.name != "list" && o.name != "admin" && rec.Matter != matter {
					t.Fatalf("audit matter %q, want %q", rec.Matter, matter)
				}
				if id.entity == "" && rec.User != "" {
					t.Fatalf("an unverified token's user %q was recorded", rec.User)
				}
			})
		}
	}
	// Screened and non-member see the matter nowhere in their list.
	for _, name := range []string{"screened", "non-member"} {
		for _, id := range ids {
			if id.name == name {
				r := e.do("GET", "/v1/matters", id.token, nil, nil)
				if bytes.Contains(r.body, []byte(`"id":"a"`)) {
					t.Errorf("%s sees matter a: %s", name, r.body)
				}
			}
		}
	}
}
