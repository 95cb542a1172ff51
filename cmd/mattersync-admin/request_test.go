package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/gateway/share"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// TestRequestCommands: `request list` (table, JSON, by matter and user)
// and `request revoke`, against a gateway that takes file requests and
// trusts a real Vault.
func TestRequestCommands(t *testing.T) {
	env := kmstest.Setup(t)
	it, alice := env.User(t, true), env.User(t, false)
	m := env.Matter(t)
	env.Grant(t, m, alice, kms.RoleRW)
	sc := share.DefaultConfig()
	sc.Default, sc.PublicURL = share.PolicyOn, "https://files.firm.test"
	sc.SMTP = share.SMTPConfig{Host: "127.0.0.1", Port: 9, From: "files@firm.test", TLS: share.TLSNone}
	g := gatewaytest.Start(t, gatewaytest.Options{Vault: env, Config: func(c *gateway.Config) { c.Sharing = &sc }})
	ctx := context.Background()
	ac, _ := client.New(g.URL, client.StaticToken(env.IdentityToken(t, alice).Raw), client.Options{Device: "LAPTOP-7"})
	key := make([]byte, 32)
	priv := format.NewRequestKey()
	wrapped, err := format.WrapRequestKey(m, 1, key, priv)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	q, err := ac.CreateRequest(ctx, m, api.RequestCreate{To: "client@example.com", MaxFiles: 4, PublicKey: b64(priv.PublicKey().Bytes()), WrappedKey: b64(wrapped)})
	if err != nil {
		t.Fatal(err)
	}

	c := newCLI(t, env)
	c.environ["MATTERSYNC_GATEWAY_URL"] = g.URL
	c.environ["MATTERSYNC_GATEWAY_TOKEN"] = env.IdentityToken(t, it).Raw
	r := c.must(t, exitOK, "", "request", "list", "--matter", m)
	if !strings.Contains(r.stdout, q.ID) || !strings.Contains(r.stdout, "client@example.com") || !strings.Contains(r.stdout, alice.Name) || !strings.Contains(r.stdout, "0/4") {
		t.Fatalf("request list:\n%s", r.stdout)
	}
	r = c.must(t, exitOK, "", "request", "list", "--user", alice.Name, "--format", "json")
	var l api.RequestList
	if err := json.Unmarshal([]byte(r.stdout), &l); err != nil || len(l.Requests) != 1 || l.Requests[0].State != api.RequestOK {
		t.Fatalf("request list json: %v\n%s", err, r.stdout)
	}
	if r := c.must(t, exitOK, "", "request", "revoke", q.ID, "--reason", "wrong client"); !strings.Contains(r.stdout, "client@example.com revoked") {
		t.Fatalf("request revoke:\n%s", r.stdout)
	}
	if r := c.must(t, exitOK, "", "request", "revoke", q.ID); !strings.Contains(r.stdout, "already") {
		t.Fatalf("request revoke again:\n%s", r.stdout)
	}
	c.must(t, exitUsage, "", "request", "revoke", "xyz")
	if r := c.must(t, exitOK, "", "request", "drops", "--matter", m); !strings.Contains(r.stdout, "no undelivered uploads") {
		t.Fatalf("request drops:\n%s", r.stdout)
	}
	if r := c.must(t, exitOK, "", "request", "list", "--matter", m); !strings.Contains(r.stdout, "revoked (wrong client)") {
		t.Fatalf("request list after revoke:\n%s", r.stdout)
	}
}
