package hostile

import (
	"net/http"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/auth/authtest"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// TestGatewayRefusesOtherOIDCRoles: every OIDC role in mattersync's Vault
// namespace signs with keys of the one JWKS the gateway trusts, and Vault
// lets a role reuse another's client_id: whoever may write a role could
// mint tokens with aud = mattersync's client ID and a static groups claim
// naming mattersync-admins. The gateway now takes only tokens shaped by
// the mattersync role's template (Vault's claims, username and groups,
// nothing else) with exactly one audience, its configured client ID.
func TestGatewayRefusesOtherOIDCRoles(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Vault")
	}
	v := kmstest.Setup(t)
	g := gatewaytest.Start(t, gatewaytest.Options{Vault: v})
	root := v.Vault.Client(t)
	rogue := testenv.RandomName("t-rogue-")
	write := func(path string, data map[string]any) {
		t.Helper()
		if _, err := root.Logical().Write(path, data); err != nil {
			t.Fatalf("vault write %s: %v", path, err)
		}
	}
	// A role written by someone who may write OIDC roles: mattersync's
	// client ID, its own key, a token lifetime the gateway accepts, a
	// static groups claim.
	write("identity/oidc/key/"+rogue, map[string]any{"algorithm": "RS256", "allowed_client_ids": "*"})
	write("identity/oidc/role/"+rogue, map[string]any{"key": rogue, "client_id": v.Config.Layout.Audience, "ttl": "5m",
		"template": `{"groups": ["` + auth.AdminGroup + `"], "mattersync": true}`})
	write("sys/policies/acl/"+rogue, map[string]any{"policy": `path "identity/oidc/token/` + rogue + `" { capabilities = ["read"] }`})
	write("auth/"+v.Config.Layout.Userpass+"/users/"+rogue, map[string]any{"password": "pw-" + rogue, "policies": rogue})
	login, err := root.Logical().Write("auth/"+v.Config.Layout.Userpass+"/login/"+rogue, map[string]any{"password": "pw-" + rogue})
	if err != nil {
		t.Fatal(err)
	}
	mallory, err := root.Clone()
	if err != nil {
		t.Fatal(err)
	}
	mallory.SetToken(login.Auth.ClientToken)
	sec, err := mallory.Logical().Read("identity/oidc/token/" + rogue)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := sec.Data["token"].(string)
	res, body := send(t, g, "GET", "/v1/admin/deny", map[string]string{"Authorization": "Bearer " + forged})
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a token of another OIDC role naming %s: %d %s", auth.AdminGroup, res.StatusCode, body)
	}
	// The real role's tokens still work.
	admin := v.User(t, true)
	res, body = send(t, g, "GET", "/v1/admin/deny", map[string]string{"Authorization": "Bearer " + v.IdentityToken(t, admin).Raw})
	if res.StatusCode != 200 {
		t.Fatalf("the mattersync role's token: %d %s", res.StatusCode, body)
	}
}

// TestGatewayRefusesAudienceLists: Vault writes aud as the role's one
// client ID; a token whose aud is a list that merely contains it (which
// the JWT library accepts) did not come from the mattersync role, nor did
// one with claims the role's template does not make.
func TestGatewayRefusesAudienceLists(t *testing.T) {
	g := startGateway(t, nil, nil)
	claims := func(edit func(jwt.MapClaims)) string {
		c := g.Issuer.MapClaims(authtest.Claims{Subject: "ent-a", Username: "alice", Groups: []string{auth.AdminGroup}})
		edit(c)
		return g.Issuer.SignClaims(t, c)
	}
	for name, tok := range map[string]string{
		"aud list":    claims(func(c jwt.MapClaims) { c["aud"] = []string{"another-app", authtest.Audience} }),
		"extra claim": claims(func(c jwt.MapClaims) { c["role"] = "other" }),
		"no username": claims(func(c jwt.MapClaims) { delete(c, "username") }),
		"no groups":   claims(func(c jwt.MapClaims) { delete(c, "groups") }),
	} {
		if res, body := send(t, g, "GET", "/v1/matters", map[string]string{"Authorization": "Bearer " + tok}); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d %s", name, res.StatusCode, body)
		}
	}
	if res, body := send(t, g, "GET", "/v1/matters", map[string]string{"Authorization": "Bearer " + claims(func(jwt.MapClaims) {})}); res.StatusCode != 200 {
		t.Fatalf("the template's shape: %d %s", res.StatusCode, body)
	}
}
