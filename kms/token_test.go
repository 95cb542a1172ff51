package kms_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// TestIdentityTokenVerifiesAgainstJWKS checks the identity token as the
// gateway will: signature against Vault's published keys, issuer, audience,
// expiry, and the sub/username/groups claims.
func TestIdentityTokenVerifiesAgainstJWKS(t *testing.T) {
	ctx := testCtx(t)
	env := kmstest.Setup(t)
	alice := env.User(t, true)
	m := env.Matter(t)
	env.Grant(t, m, alice, kms.RoleRW)
	other := env.Matter(t)
	env.Screen(t, other, alice)

	k := env.Login(t, alice)
	tok, err := k.IdentityToken(ctx)
	if err != nil {
		t.Fatalf("identity token: %v", err)
	}
	tc := env.TokenConfig(t)
	if tc.Audience != env.Config.Layout.Audience || tc.Issuer != env.Vault.Addr+"/v1/identity/oidc" || tc.JWKSURL != env.Vault.Addr+"/v1/identity/oidc/.well-known/keys" {
		t.Fatalf("token config %+v: want issuer %s/v1/identity/oidc, audience %s", tc, env.Vault.Addr, env.Config.Layout.Audience)
	}

	resp, err := http.Get(tc.JWKSURL)
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	defer resp.Body.Close()
	var jwks jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	jws, err := jose.ParseSigned(tok.Raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("parse token: %v", err)
	}
	keys := jwks.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("JWKS has %d keys with kid %q", len(keys), jws.Signatures[0].Header.KeyID)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	var c struct {
		Iss      string   `json:"iss"`
		Aud      string   `json:"aud"`
		Sub      string   `json:"sub"`
		Exp      int64    `json:"exp"`
		Iat      int64    `json:"iat"`
		Username string   `json:"username"`
		Groups   []string `json:"groups"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatalf("claims: %v", err)
	}
	if c.Iss != tc.Issuer || c.Aud != tc.Audience {
		t.Errorf("iss %q aud %q, want %q %q", c.Iss, c.Aud, tc.Issuer, tc.Audience)
	}
	if c.Sub != alice.EntityID || c.Username != alice.Name {
		t.Errorf("sub %q username %q, want %q %q", c.Sub, c.Username, alice.EntityID, alice.Name)
	}
	if life := time.Duration(c.Exp-c.Iat) * time.Second; life != kms.DefaultTokenTTL {
		t.Errorf("lifetime %v, want %v", life, kms.DefaultTokenTTL)
	}
	for _, g := range []string{kms.MatterGroup(m, kms.RoleRW), kms.MatterGroup(other, kms.RoleScreened), kms.AdminGroup} {
		if !slices.Contains(c.Groups, g) {
			t.Errorf("groups %v lack %s", c.Groups, g)
		}
	}
	// The parsed view the agent uses agrees with the verified claims.
	if tok.Subject != c.Sub || tok.Username != c.Username || !slices.Equal(tok.Groups, c.Groups) || tok.Expiry.Unix() != c.Exp {
		t.Errorf("IdentityToken %+v disagrees with verified claims %+v", tok, c)
	}

	// A tampered payload fails verification.
	tampered := []byte(tok.Raw)
	tampered[len(tampered)-5] ^= 1
	if jws2, err := jose.ParseSigned(string(tampered), []jose.SignatureAlgorithm{jose.RS256}); err == nil {
		if _, err := jws2.Verify(keys[0]); err == nil {
			t.Errorf("tampered token verified")
		}
	}
}

// TestIdentityTokenCache: the cached token is reused until half its life
// has passed, then fetched again.
func TestIdentityTokenCache(t *testing.T) {
	ctx := testCtx(t)
	env := kmstest.Setup(t)
	alice := env.User(t, false)
	var calls counter
	cfg := env.Config
	cfg.WrapTransport = calls.wrap
	k, err := kms.Login(ctx, cfg, env.Userpass(alice))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	now := time.Now()
	kms.SetClock(k, func() time.Time { return now })
	t1, err := k.IdentityToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := calls.n("/v1/identity/oidc/token/")
	for range 100 {
		if t2, err := k.IdentityToken(ctx); err != nil || t2.Raw != t1.Raw {
			t.Fatalf("cached token changed or failed: %v", err)
		}
	}
	if got := calls.n("/v1/identity/oidc/token/"); got != before {
		t.Fatalf("%d token fetches for 100 cached calls", got-before)
	}
	now = now.Add(kms.DefaultTokenTTL/2 + time.Second)
	if _, err := k.IdentityToken(ctx); err != nil {
		t.Fatal(err)
	}
	if got := calls.n("/v1/identity/oidc/token/"); got != before+1 {
		t.Fatalf("%d token fetches after half the lifetime, want 1", got-before)
	}
}
