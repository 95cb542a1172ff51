// Package authtest issues identity tokens shaped like Vault's, signed by a
// local key served from an httptest JWKS endpoint, for tests that must not
// depend on Vault.
package authtest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Audience is the audience Issuer tokens carry by default.
const Audience = "mattersync-test"

// Issuer signs tokens and serves its JWKS.
type Issuer struct {
	URL     string // JWKS URL
	Issuer  string // iss claim
	Server  *httptest.Server
	mu      sync.Mutex // guards key, kid
	key     *rsa.PrivateKey
	kid     string
	fetches int // guarded by mu
}

// New starts an issuer; it stops when t ends.
func New(t testing.TB) *Issuer {
	t.Helper()
	is := &Issuer{}
	is.Rotate(t)
	is.Server = httptest.NewServer(http.HandlerFunc(is.serveJWKS))
	t.Cleanup(is.Server.Close)
	is.URL = is.Server.URL + "/v1/identity/oidc/.well-known/keys"
	is.Issuer = is.Server.URL + "/v1/identity/oidc"
	return is
}

// Rotate replaces the signing key (and key ID), like a Vault key rotation.
func (is *Issuer) Rotate(t testing.TB) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	is.key = k
	b := make([]byte, 8)
	rand.Read(b)
	is.kid = base64.RawURLEncoding.EncodeToString(b)
}

// Fetches counts JWKS requests served.
func (is *Issuer) Fetches() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.fetches
}

func (is *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.fetches++
	pub := is.key.PublicKey
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": is.kid,
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// Claims are what a token says; zero fields get defaults (see Token).
type Claims struct {
	Subject    string
	Username   string
	Groups     []string
	Audience   string
	Issuer     string
	Expiry     time.Time
	NotBefore  time.Time
	IssuedAt   time.Time
	NoExpiry   bool
	NoIssuedAt bool
}

// Token signs c with the current key. Defaults: audience Audience, the
// issuer's iss, expiry in 5 minutes, issued now.
func (is *Issuer) Token(t testing.TB, c Claims) string {
	t.Helper()
	is.mu.Lock()
	key, kid := is.key, is.kid
	is.mu.Unlock()
	return Sign(t, key, kid, jwt.SigningMethodRS256, is.MapClaims(c))
}

// SignClaims signs arbitrary claims (say MapClaims(c) edited) with the
// current key, for tokens Claims cannot describe.
func (is *Issuer) SignClaims(t testing.TB, claims jwt.Claims) string {
	t.Helper()
	is.mu.Lock()
	key, kid := is.key, is.kid
	is.mu.Unlock()
	return Sign(t, key, kid, jwt.SigningMethodRS256, claims)
}

// MapClaims returns c with defaults applied, as JWT claims.
func (is *Issuer) MapClaims(c Claims) jwt.MapClaims {
	now := time.Now()
	if c.Audience == "" {
		c.Audience = Audience
	}
	if c.Issuer == "" {
		c.Issuer = is.Issuer
	}
	if c.Expiry.IsZero() {
		c.Expiry = now.Add(5 * time.Minute)
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = now
	}
	groups := c.Groups
	if groups == nil {
		groups = []string{}
	}
	m := jwt.MapClaims{
		"iss": c.Issuer, "aud": c.Audience, "sub": c.Subject, "iat": c.IssuedAt.Unix(),
		"username": c.Username, "groups": groups, "namespace": "root",
	}
	if !c.NoExpiry {
		m["exp"] = c.Expiry.Unix()
	}
	if c.NoIssuedAt {
		delete(m, "iat")
	}
	if !c.NotBefore.IsZero() {
		m["nbf"] = c.NotBefore.Unix()
	}
	return m
}

// Sign signs claims with key under kid.
func Sign(t testing.TB, key any, kid string, method jwt.SigningMethod, claims jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// KeyID returns the current key ID.
func (is *Issuer) KeyID() string {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.kid
}

// PublicKey returns the current public key, for
// algorithm-confusion tests that use it as an HMAC secret.
func (is *Issuer) PublicKey() *rsa.PublicKey {
	is.mu.Lock()
	defer is.mu.Unlock()
	return &is.key.PublicKey
}
