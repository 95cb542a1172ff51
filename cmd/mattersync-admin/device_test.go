package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// TestDeviceList: `device list` shows the devices agents reported, in
// table, CSV and JSON, filtered by user, by staleness and by "revoked
// but still seen"; an unknown user and bad flags fail with their exit
// codes.
func TestDeviceList(t *testing.T) {
	env := kmstest.Setup(t)
	it, alice, bob := env.User(t, true), env.User(t, false), env.User(t, false)
	g, _, _ := testGateway(t, env)
	ctx := context.Background()
	report := func(u kmstest.User, id, host string) *client.Client {
		c, err := client.New(g.URL, client.StaticToken(env.IdentityToken(t, u).Raw), client.Options{Device: host, DeviceID: id})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ReportDevice(ctx, api.DeviceReport{DeviceID: id, Host: host, OS: "darwin/arm64", AgentVersion: "v1.4.0",
			DiskEncryption: api.DiskEncryption{State: api.DiskOn, Method: "FileVault"}, WipeOnRevoke: true, LastSync: time.Now()}, ""); err != nil {
			t.Fatal(err)
		}
		return c
	}
	report(alice, strings.Repeat("a", 32), "=HYPERLINK(1)")
	bc := report(bob, strings.Repeat("b", 32), "BOB-MAC")

	c := newCLI(t, env)
	c.environ["MATTERSYNC_GATEWAY_URL"] = g.URL
	c.environ["MATTERSYNC_GATEWAY_TOKEN"] = env.IdentityToken(t, it).Raw

	r := c.must(t, exitOK, "", "device", "list")
	if !strings.Contains(r.stdout, "BOB-MAC") || !strings.Contains(r.stdout, "on (FileVault)") || !strings.Contains(r.stdout, alice.Name) {
		t.Fatalf("device list:\n%s", r.stdout)
	}
	r = c.must(t, exitOK, "", "device", "list", "--user", bob.Name, "--format", "json")
	var out api.Devices
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Devices) != 1 || out.Devices[0].Host != "BOB-MAC" || !out.Devices[0].WipeOnRevoke {
		t.Fatalf("device list --user --format json: %v\n%s", err, r.stdout)
	}
	r = c.must(t, exitOK, "", "device", "list", "--format", "csv")
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][0] != "user" {
		t.Fatalf("csv: %v\n%s", err, r.stdout)
	}
	for _, row := range rows {
		if strings.HasPrefix(row[1], "=") {
			t.Fatalf("a host name is a formula in the CSV: %q", row[1])
		}
	}
	// Nobody is stale yet; nobody revoked.
	if r = c.must(t, exitOK, "", "device", "list", "--stale", "14d"); !strings.Contains(r.stdout, "no devices") {
		t.Fatalf("--stale 14d:\n%s", r.stdout)
	}
	if r = c.must(t, exitOK, "", "device", "list", "--revoked-seen"); !strings.Contains(r.stdout, "no devices") {
		t.Fatalf("--revoked-seen before a revocation:\n%s", r.stdout)
	}
	// Bob is revoked and his laptop still calls.
	c.must(t, exitOK, "", "deny", "add", bob.EntityID, "--name", bob.Name, "--reason", "left")
	if _, err := bc.Matters(ctx); client.Code(err) != api.CodeRevoked {
		t.Fatalf("revoked request: %v", err)
	}
	r = c.must(t, exitOK, "", "device", "list", "--revoked-seen")
	if !strings.Contains(r.stdout, "BOB-MAC") || strings.Contains(r.stdout, alice.Name) || !strings.Contains(r.stdout, "STILL SEEN") {
		t.Fatalf("--revoked-seen:\n%s", r.stdout)
	}

	c.must(t, exitUsage, "", "device", "list", "--stale", "soon")
	c.must(t, exitUsage, "", "device", "list", "--format", "xml")
	c.must(t, exitNotFound, "", "device", "list", "--user", "nobody-here")
}
