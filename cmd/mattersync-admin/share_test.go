package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/gateway/share"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// TestShareCommands: `matter sharing on|off|show`, `share list` (table,
// CSV, JSON, by matter and by user) and `share revoke`, against a gateway
// that shares (off by default) and trusts a real Vault.
func TestShareCommands(t *testing.T) {
	env := kmstest.Setup(t)
	it, alice := env.User(t, true), env.User(t, false)
	m := env.Matter(t)
	env.Grant(t, m, alice, kms.RoleRW)
	sc := share.DefaultConfig()
	sc.PublicURL = "https://share.firm.test"
	sc.SMTP = share.SMTPConfig{Host: "127.0.0.1", Port: 9, From: "shares@firm.test", TLS: share.TLSNone}
	g := gatewaytest.Start(t, gatewaytest.Options{Vault: env, Config: func(c *gateway.Config) { c.Sharing = &sc }})
	ctx := context.Background()
	ac, _ := client.New(g.URL, client.StaticToken(env.IdentityToken(t, alice).Raw), client.Options{Device: "LAPTOP-7"})
	sealer := gatewaytest.NewSealer(t)
	id, sealed := sealer.Chunk(t, m, 100)
	if err := ac.PutChunk(ctx, m, id.String(), sealed); err != nil {
		t.Fatal(err)
	}
	f := sealer.NewFile(t, m)
	if _, err := ac.Commit(ctx, m, f.String(), 0, api.CommitRequest{Manifest: sealer.ManifestOf(t, m, f, 1, id), Chunks: []string{id.String()}}); err != nil {
		t.Fatal(err)
	}
	obj := make([]byte, 1000)
	rand.Read(obj)
	create := func(to string) (api.Share, error) {
		return ac.CreateShare(ctx, m, api.ShareRequest{File: f.String(), Version: 1, To: to}, bytes.NewReader(obj), int64(len(obj)))
	}

	c := newCLI(t, env)
	c.environ["MATTERSYNC_GATEWAY_URL"] = g.URL
	c.environ["MATTERSYNC_GATEWAY_TOKEN"] = env.IdentityToken(t, it).Raw

	if r := c.must(t, exitOK, "", "matter", "sharing", "show", m); !strings.Contains(r.stdout, "sharing off (set: default)") {
		t.Fatalf("sharing show:\n%s", r.stdout)
	}
	if _, err := create("client@example.com"); client.Code(err) != api.CodeSharingOff {
		t.Fatalf("share with sharing off: %v", err)
	}
	if r := c.must(t, exitOK, "", "matter", "sharing", "on", m); !strings.Contains(r.stdout, "sharing on (set: on)") {
		t.Fatalf("sharing on:\n%s", r.stdout)
	}
	c.must(t, exitNotFound, "", "matter", "sharing", "on", "no-such-matter")
	c.must(t, exitUsage, "", "matter", "sharing", "maybe", m)
	one, err := create("client@example.com")
	if err != nil {
		t.Fatal(err)
	}
	two, err := create("counsel@example.org")
	if err != nil {
		t.Fatal(err)
	}

	r := c.must(t, exitOK, "", "share", "list", "--matter", m)
	if !strings.Contains(r.stdout, one.ID) || !strings.Contains(r.stdout, "counsel@example.org") || !strings.Contains(r.stdout, alice.Name) || !strings.Contains(r.stdout, "0/3") {
		t.Fatalf("share list:\n%s", r.stdout)
	}
	r = c.must(t, exitOK, "", "share", "list", "--user", alice.Name, "--format", "json")
	var out api.ShareList
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Shares) != 2 || out.Shares[0].Recipient != "client@example.com" || out.Shares[0].State != api.ShareOK {
		t.Fatalf("share list --user --format json: %v\n%s", err, r.stdout)
	}
	c.must(t, exitNotFound, "", "share", "list", "--user", "nobody-"+alice.Name)

	if r := c.must(t, exitOK, "", "share", "revoke", one.ID, "--reason", "sent to the wrong client"); !strings.Contains(r.stdout, "client@example.com revoked") {
		t.Fatalf("share revoke:\n%s", r.stdout)
	}
	if r := c.must(t, exitOK, "", "share", "revoke", one.ID); !strings.Contains(r.stdout, "already") {
		t.Fatalf("share revoke again:\n%s", r.stdout)
	}
	c.must(t, exitUsage, "", "share", "revoke", "xyz")
	r = c.must(t, exitOK, "", "share", "list", "--format", "csv")
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][0] != "id" || rows[1][10] != "revoked" || rows[1][13] != "sent to the wrong client" || rows[2][10] != "ok" {
		t.Fatalf("csv: %v\n%s", err, r.stdout)
	}

	// Off revokes the live ones.
	c.must(t, exitOK, "", "matter", "sharing", "off", m)
	r = c.must(t, exitOK, "", "share", "list", "--matter", m, "--format", "json")
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Shares) != 2 || out.Shares[1].ID != two.ID || out.Shares[1].State != api.ShareRevoked {
		t.Fatalf("after sharing off: %v\n%s", err, r.stdout)
	}
}
