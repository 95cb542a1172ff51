package hostile

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/auth/authtest"
)

// TestGatewayReissueFloorSurvivesVaultClockAhead: a reissue stamp (after a
// member is removed from a matter) refuses the entity's tokens issued
// before it, but the stamp is the gateway's clock and a token's iat is
// Vault's. With Vault's clock ahead, a token issued before the stamp
// carried a later iat and passed, groups of before the change included.
// The floor now reaches vault.reissue_leeway past the stamp.
func TestGatewayReissueFloorSurvivesVaultClockAhead(t *testing.T) {
	const leeway = 2 * time.Second
	g := startGateway(t, func(c *gateway.Config) { c.Vault.ReissueLeeway = leeway }, nil)
	admin := g.Token(t, "ent-admin", auth.AdminGroup)
	res, body := send(t, g, "POST", "/v1/admin/deny/ent-a/reissue", map[string]string{"Authorization": "Bearer " + admin})
	var stamp api.Reissue
	if err := json.Unmarshal([]byte(body), &stamp); err != nil || res.StatusCode != 200 {
		t.Fatalf("reissue: %d %s", res.StatusCode, body)
	}
	token := func(iat time.Time) string {
		return g.Issuer.Token(t, authtest.Claims{Subject: "ent-a", Username: "alice", Groups: []string{"matter-2026-0001-rw"}, IssuedAt: iat})
	}
	// iat is whole seconds. A token Vault issued just before the stamp,
	// by a clock about 1.5 s ahead: its iat is after the stamp, within
	// the leeway.
	base := stamp.NotBefore.Truncate(time.Second)
	ahead := base.Add(leeway)
	fresh := base.Add(leeway + time.Second)
	time.Sleep(time.Until(fresh) + 50*time.Millisecond) // both iat in the past
	if res, body := send(t, g, "GET", "/v1/matters", map[string]string{"Authorization": "Bearer " + token(ahead)}); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a token of before the stamp from a Vault clock ahead (iat %s, stamp %s): %d %s",
			ahead.Format(time.RFC3339), stamp.NotBefore.Format(time.RFC3339Nano), res.StatusCode, body)
	}
	if res, body := send(t, g, "GET", "/v1/matters", map[string]string{"Authorization": "Bearer " + token(fresh)}); res.StatusCode != 200 {
		t.Fatalf("a token issued past the leeway: %d %s", res.StatusCode, body)
	}
}
