package hostile

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/auth/authtest"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
)

// countingVerifier counts the signature checks the gateway asks for.
type countingVerifier struct {
	*auth.Verifier
	n atomic.Int64
}

func (c *countingVerifier) Verify(ctx context.Context, tok string) (*auth.Identity, error) {
	c.n.Add(1)
	return c.Verifier.Verify(ctx, tok)
}

// TestGatewaySharedAddressNotLockedOut: failed logins from one address
// used to refuse every request from it, valid tokens included, so one
// client sending garbage locked out a whole office behind its NAT address
// (or the whole firm behind a balancer missing from trusted_proxies): five
// garbage requests a second refused ten valid ones out of ten. Valid
// tokens are now served whatever the address's failures, while the
// garbage is still throttled, unverified, and cannot make the gateway
// refetch Vault's keys.
func TestGatewaySharedAddressNotLockedOut(t *testing.T) {
	iss := authtest.New(t)
	v, err := auth.NewVerifier(context.Background(), auth.Config{JWKSURL: iss.URL, Issuer: iss.Issuer, Audience: authtest.Audience})
	if err != nil {
		t.Fatal(err)
	}
	cv := &countingVerifier{Verifier: v}
	g := gatewaytest.Start(t, gatewaytest.Options{Issuer: iss, Verifier: cv, Config: func(c *gateway.Config) {
		// The production burst of 50 failures, refilled so slowly that
		// a slow (loaded, -race) run cannot earn a garbage request a
		// new token while the test goes on: no timing in the test.
		d := gateway.DefaultConfig().Limits
		c.Limits.UnauthenticatedPerSecond, c.Limits.UnauthenticatedBurst = 0.001, d.UnauthenticatedBurst
	}})
	valid := g.Token(t, "ent-colleague", "matter-2026-0001-rw")
	// Garbage of every kind from the shared address, until it is throttled.
	unknownKid := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"no-such-key"}`)) + ".e30.c2ln"
	garbage := []map[string]string{
		{"Authorization": "Bearer not-a-token"},
		{"Authorization": "Bearer " + unknownKid},
		{},
		{"Authorization": "Basic dXNlcjpwYXNz"},
	}
	throttled := 0
	for i := 0; throttled < 20; i++ {
		if i > 1000 {
			t.Fatal("the address was never throttled")
		}
		res, _ := send(t, g, "GET", "/v1/matters", garbage[i%len(garbage)])
		switch res.StatusCode {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			throttled++
		default:
			t.Fatalf("garbage %d: %d", i, res.StatusCode)
		}
	}
	fetches, verified := iss.Fetches(), cv.n.Load()
	// The colleague behind the same address, while the garbage goes on.
	for i := range 10 {
		res, body := send(t, g, "GET", "/v1/matters", map[string]string{"Authorization": "Bearer " + valid})
		if res.StatusCode != 200 {
			t.Fatalf("valid request %d from the flooded address: %d %s", i, res.StatusCode, body)
		}
		for _, h := range garbage {
			if res, _ := send(t, g, "GET", "/v1/matters", h); res.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("garbage while throttled: %d", res.StatusCode)
			}
		}
	}
	if got := cv.n.Load() - verified; got != 10 {
		t.Fatalf("%d signature checks while throttled, want only the 10 valid tokens'", got)
	}
	if iss.Fetches() != fetches {
		t.Fatalf("unknown key IDs from a throttled address made the gateway refetch the JWKS (%d -> %d)", fetches, iss.Fetches())
	}
	// A token under a known key with a forged signature is checked, and
	// refused as what it is.
	forged := valid[:strings.LastIndex(valid, ".")+1] + strings.Repeat("A", 342)
	if res, _ := send(t, g, "GET", "/v1/matters", map[string]string{"Authorization": "Bearer " + forged}); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged signature: %d", res.StatusCode)
	}
}
