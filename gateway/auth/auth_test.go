package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/auth/authtest"
)

func newVerifier(t *testing.T, is *authtest.Issuer) *auth.Verifier {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := auth.NewVerifier(ctx, auth.Config{JWKSURL: is.URL, Issuer: is.Issuer, Audience: authtest.Audience, MinRefresh: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerify(t *testing.T) {
	is := authtest.New(t)
	v := newVerifier(t, is)
	if err := v.Ready(context.Background()); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	base := authtest.Claims{Subject: "ent-1", Username: "alice", Groups: []string{"matter-a-rw"}}
	with := func(f func(*authtest.Claims)) string {
		c := base
		f(&c)
		return is.Token(t, c)
	}
	noneToken := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, is.MapClaims(base))
		tok.Header["kid"] = is.KeyID()
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	hmacConfusion := func() string {
		der, _ := x509.MarshalPKIXPublicKey(is.PublicKey())
		return authtest.Sign(t, der, is.KeyID(), jwt.SigningMethodHS256, is.MapClaims(base))
	}
	tamperedPayload := func() string {
		parts := strings.Split(is.Token(t, base), ".")
		c := is.MapClaims(base)
		c["groups"] = []string{"mattersync-admins"}
		forged := strings.Split(authtest.Sign(t, other, is.KeyID(), jwt.SigningMethodRS256, c), ".")
		return parts[0] + "." + forged[1] + "." + parts[2]
	}
	cases := []struct {
		name  string
		token string
		want  error // nil: accepted
	}{
		{"valid", is.Token(t, base), nil},
		{"empty", "", auth.ErrNoToken},
		{"garbage", "not.a.jwt", auth.ErrInvalidToken},
		{"expired", with(func(c *authtest.Claims) {
			c.Expiry = time.Now().Add(-time.Minute)
			c.IssuedAt = time.Now().Add(-time.Hour)
		}), auth.ErrExpired},
		{"no expiry", with(func(c *authtest.Claims) { c.NoExpiry = true }), auth.ErrInvalidToken},
		{"no iat", with(func(c *authtest.Claims) { c.NoIssuedAt = true }), auth.ErrInvalidToken},
		{"lifetime above the maximum", with(func(c *authtest.Claims) { c.Expiry = time.Now().Add(16 * time.Minute) }), auth.ErrInvalidToken},
		{"old but within the maximum lifetime", with(func(c *authtest.Claims) {
			c.IssuedAt, c.Expiry = time.Now().Add(-14*time.Minute), time.Now().Add(time.Minute)
		}), nil},
		{"not yet valid", with(func(c *authtest.Claims) { c.NotBefore = time.Now().Add(time.Hour) }), auth.ErrInvalidToken},
		{"issued in the future", with(func(c *authtest.Claims) { c.IssuedAt = time.Now().Add(time.Hour) }), auth.ErrInvalidToken},
		{"wrong audience", with(func(c *authtest.Claims) { c.Audience = "someone-else" }), auth.ErrInvalidToken},
		{"wrong issuer", with(func(c *authtest.Claims) { c.Issuer = "https://evil.example/v1/identity/oidc" }), auth.ErrInvalidToken},
		{"no subject", with(func(c *authtest.Claims) { c.Subject = "" }), auth.ErrInvalidToken},
		{"signed by another key", authtest.Sign(t, other, is.KeyID(), jwt.SigningMethodRS256, is.MapClaims(base)), auth.ErrInvalidToken},
		{"unknown kid", authtest.Sign(t, other, "nope", jwt.SigningMethodRS256, is.MapClaims(base)), auth.ErrInvalidToken},
		{"payload swapped", tamperedPayload(), auth.ErrInvalidToken},
		{"alg none", noneToken(), auth.ErrInvalidToken},
		{"alg none, no signature part", strings.TrimSuffix(noneToken(), "."), auth.ErrInvalidToken},
		{"HS256 with the public key as secret", hmacConfusion(), auth.ErrInvalidToken},
		{"too long", strings.Repeat("a", auth.MaxTokenLen+1), auth.ErrInvalidToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := v.Verify(context.Background(), tc.token)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if id.Entity != "ent-1" || id.User != "alice" || id.Role("a") != auth.Write {
					t.Fatalf("identity = %+v", id)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, %v; want %v", id, err, tc.want)
			}
		})
	}
}

func TestKeyRotationRefetchesJWKS(t *testing.T) {
	is := authtest.New(t)
	v := newVerifier(t, is)
	if _, err := v.Verify(context.Background(), is.Token(t, authtest.Claims{Subject: "e"})); err != nil {
		t.Fatal(err)
	}
	before := is.Fetches()
	is.Rotate(t)
	if _, err := v.Verify(context.Background(), is.Token(t, authtest.Claims{Subject: "e"})); err != nil {
		t.Fatalf("token signed with the rotated key: %v", err)
	}
	if is.Fetches() <= before {
		t.Fatal("the JWKS was not refetched for an unknown kid")
	}
}

func TestNotReadyWithoutJWKS(t *testing.T) {
	v, err := auth.NewVerifier(context.Background(), auth.Config{JWKSURL: "http://127.0.0.1:1/keys", Issuer: "x", Audience: "y"})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Ready(context.Background()); err == nil {
		t.Fatal("Ready with an unreachable JWKS")
	}
}

func TestRolesFromGroups(t *testing.T) {
	cases := []struct {
		groups []string
		roles  map[string]auth.Role
		admin  bool
	}{
		{nil, map[string]auth.Role{}, false},
		{[]string{"matter-a-rw"}, map[string]auth.Role{"a": auth.Write}, false},
		{[]string{"matter-a-ro"}, map[string]auth.Role{"a": auth.Read}, false},
		{[]string{"matter-a-ro", "matter-a-rw"}, map[string]auth.Role{"a": auth.Write}, false},
		{[]string{"matter-a-rw", "matter-a-screened"}, map[string]auth.Role{}, false},
		{[]string{"matter-a-screened", "matter-a-ro", "matter-b-ro"}, map[string]auth.Role{"b": auth.Read}, false},
		{[]string{"matter-2026-0001-rw"}, map[string]auth.Role{"2026-0001": auth.Write}, false},
		{[]string{"mattersync-admins"}, map[string]auth.Role{}, true},
		// Nothing else grants anything.
		{[]string{"matter-a-admin", "matter--rw", "matter-A-rw", "matter-a/b-rw", "matter-../x-rw", "Matter-a-rw", "matter-a-rw ", "matter-a-RW", "rw", "matter-", "mattersync-admins-x", "default"}, map[string]auth.Role{}, false},
		// A screened group with an invalid ID screens nothing and grants nothing.
		{[]string{"matter-a-rw", "matter-A-screened"}, map[string]auth.Role{"a": auth.Write}, false},
	}
	for _, tc := range cases {
		roles, admin := auth.RolesFromGroups(tc.groups)
		if !maps.Equal(roles, tc.roles) || admin != tc.admin {
			t.Errorf("RolesFromGroups(%q) = %v, %v; want %v, %v", tc.groups, roles, admin, tc.roles, tc.admin)
		}
	}
}

// FuzzRolesFromGroups: whatever the groups, a role is only ever granted on
// a valid matter ID named by a matching rw/ro group, and never on a matter
// with a screened group.
func FuzzRolesFromGroups(f *testing.F) {
	f.Add("matter-a-rw", "matter-a-screened", "mattersync-admins")
	f.Add("matter-2026-0001-ro", "matter-x-rw", "matter--rw")
	f.Fuzz(func(t *testing.T, g1, g2, g3 string) {
		groups := []string{g1, g2, g3}
		roles, admin := auth.RolesFromGroups(groups)
		has := func(g string) bool { return g == g1 || g == g2 || g == g3 }
		if admin != has(auth.AdminGroup) {
			t.Fatalf("admin = %v for %q", admin, groups)
		}
		for m, r := range roles {
			if format.ValidateMatterID(m) != nil {
				t.Fatalf("role on invalid matter %q from %q", m, groups)
			}
			if has("matter-" + m + "-screened") {
				t.Fatalf("screened matter %q has role %v from %q", m, r, groups)
			}
			want := "matter-" + m + "-ro"
			if r == auth.Write {
				want = "matter-" + m + "-rw"
			}
			if !has(want) {
				t.Fatalf("role %v on %q not granted by %q", r, m, groups)
			}
		}
	})
}

// TestKnownKey: only a token whose header names a key already fetched is
// worth a signature check from a throttled source; asking never fetches.
func TestKnownKey(t *testing.T) {
	is := authtest.New(t)
	v := newVerifier(t, is)
	ctx := context.Background()
	tok := is.Token(t, authtest.Claims{Subject: "ent-1"})
	if !v.KnownKey(ctx, tok) {
		t.Fatal("a token under the current key is not known")
	}
	fetches := is.Fetches()
	is.Rotate(t)
	for _, bad := range []string{"", "garbage", "e30.e30.e30", is.Token(t, authtest.Claims{Subject: "ent-1"}), strings.Repeat("a", auth.MaxTokenLen+1)} {
		if v.KnownKey(ctx, bad) {
			t.Errorf("KnownKey(%.40q) = true", bad)
		}
	}
	if is.Fetches() != fetches {
		t.Fatal("KnownKey fetched the JWKS")
	}
}
