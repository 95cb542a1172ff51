package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// TestVaultTokens runs the gateway against identity tokens issued by a real
// Vault (kms's layout: OIDC role, groups claim) verified with Vault's JWKS.
func TestVaultTokens(t *testing.T) {
	v := kmstest.Setup(t)
	alice, bob, carol, dave, it := v.User(t, false), v.User(t, false), v.User(t, false), v.User(t, false), v.User(t, true)
	m := v.Matter(t)
	v.Grant(t, m, alice, kms.RoleRW)
	v.Grant(t, m, bob, kms.RoleRO)
	v.Grant(t, m, carol, kms.RoleRW)
	v.Screen(t, m, carol)
	tc := v.TokenConfig(t)

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	verifier, err := auth.NewVerifier(ctx, auth.Config{JWKSURL: tc.JWKSURL, Issuer: tc.Issuer, Audience: tc.Audience})
	if err != nil {
		t.Fatal(err)
	}
	if err := verifier.Ready(ctx); err != nil {
		t.Fatalf("Vault JWKS: %v", err)
	}
	e := newEnv(t, envOpts{verifier: verifier})
	tok := map[string]string{}
	for name, u := range map[string]kmstest.User{"alice": alice, "bob": bob, "carol": carol, "dave": dave, "it": it} {
		tok[name] = v.IdentityToken(t, u).Raw
	}

	var who api.WhoAmI
	r := e.do("GET", "/v1/matters", tok["alice"], nil, nil)
	json.Unmarshal(r.body, &who)
	if r.status != 200 || who.Entity != alice.EntityID || who.User != alice.Name || len(who.Matters) != 1 || who.Matters[0] != (api.Matter{ID: m, Role: api.RoleWrite}) {
		t.Fatalf("alice: %d %s", r.status, r.body)
	}
	c, _ := e.putChunk(m, tok["alice"], 500)
	f := e.newFile(m)
	e.commit(m, tok["alice"], f, 0, c)

	chunkPath := "/v1/matters/" + m + "/chunks/" + c.String()
	newChunk, body := e.chunk(m, 10)
	cases := []struct {
		who, method, path string
		hdr               map[string]string
		body              []byte
		status            int
		code              api.Code
	}{
		{"bob", "GET", chunkPath, nil, nil, 200, ""},
		{"bob", "PUT", "/v1/matters/" + m + "/chunks/" + newChunk.String(), map[string]string{api.HeaderChecksum: sumHex(body)}, body, 403, api.CodeForbidden},
		{"bob", "GET", "/v1/matters/" + m + "/files/" + f.String(), nil, nil, 200, ""},
		{"carol", "GET", chunkPath, nil, nil, 403, api.CodeForbidden},
		{"carol", "GET", "/v1/matters/" + m + "/changes", nil, nil, 403, api.CodeForbidden},
		{"dave", "GET", chunkPath, nil, nil, 403, api.CodeForbidden},
		{"it", "GET", chunkPath, nil, nil, 403, api.CodeForbidden},
		{"it", "GET", "/v1/admin/matters/" + m + "/usage", nil, nil, 200, ""},
		{"alice", "GET", "/v1/admin/deny", nil, nil, 403, api.CodeForbidden},
		{"tampered", "GET", "/v1/matters", nil, nil, 401, api.CodeUnauthenticated},
	}
	raw := []byte(tok["alice"])
	raw[len(raw)-5] ^= 1 // a flipped bit in the signature
	tok["tampered"] = string(raw)
	for _, c := range cases {
		r := e.do(c.method, c.path, tok[c.who], c.hdr, c.body)
		if r.status != c.status || (c.code != "" && r.apiError(t).Code != c.code) {
			t.Errorf("%s %s %s: %d %s, want %d %s", c.who, c.method, c.path, r.status, r.body, c.status, c.code)
		}
		rec := e.record(r.header.Get(api.HeaderRequestID))
		if rec == nil || rec.Status != c.status {
			t.Errorf("%s %s %s: audit record %+v", c.who, c.method, c.path, rec)
		}
	}
	if rec := e.record(r.header.Get(api.HeaderRequestID)); rec == nil || rec.User != alice.Name || rec.Entity != alice.EntityID {
		t.Fatalf("alice's record: %+v", rec)
	}

	// Another audience's gateway refuses Vault's tokens.
	other, err := auth.NewVerifier(ctx, auth.Config{JWKSURL: tc.JWKSURL, Issuer: tc.Issuer, Audience: "another-app"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Verify(ctx, tok["alice"]); err == nil {
		t.Fatal("a token for another audience was accepted")
	}

	// Revocation: the gateway deny list cuts alice off while her token is
	// still valid; kms then disables her in Vault: no new tokens.
	if r := e.do("POST", "/v1/admin/deny", tok["it"], nil, []byte(`{"entity_id":"`+alice.EntityID+`","name":"`+alice.Name+`","reason":"left"}`)); r.status != http.StatusCreated {
		t.Fatalf("deny: %d %s", r.status, r.body)
	}
	if r := e.do("GET", chunkPath, tok["alice"], nil, nil); r.status != 403 || r.apiError(t).Code != api.CodeRevoked {
		t.Fatalf("revoked alice: %d %s", r.status, r.body)
	}
	if _, err := v.Admin.Revoke(ctx, alice.Name, nil); err != nil {
		t.Fatalf("kms revoke: %v", err)
	}
	if _, err := kms.Login(ctx, v.Config, v.Userpass(alice)); err == nil {
		t.Fatal("revoked alice logged in to Vault")
	}
}
