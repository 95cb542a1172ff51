package main

import (
	"context"
	"encoding/base64"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// TestRequestCommand: `mattersync request` as a member with rw prints the
// link, whose fragment is the public key the gateway recorded (with the
// bounds asked); as an ro member it is refused with the reason, and bad
// flags are refused before anything is asked. The client's side and the
// delivery are agent/incoming_test.go's.
func TestRequestCommand(t *testing.T) {
	keyring.MockInitWithError(os.ErrPermission) // no credential store here
	t.Cleanup(keyring.MockInit)
	v := kmstest.Setup(t)
	gw := gatewaytest.Start(t, gatewaytest.Options{Vault: v, Config: func(c *gateway.Config) {
		c.Sharing = gatewaytest.SharingConfig(t, "https://files.firm.test", "127.0.0.1:9")
	}})
	m := v.Matter(t)
	alice, bob := v.User(t, false), v.User(t, false)
	v.Grant(t, m, alice, kms.RoleRW)
	v.Grant(t, m, bob, kms.RoleRO)
	aliceCfg, bobCfg := cliConfig(t, v, alice, gw.URL), cliConfig(t, v, bob, gw.URL)
	for _, u := range []struct {
		cfg, pw string
	}{{aliceCfg, alice.Password}, {bobCfg, bob.Password}} {
		t.Setenv("MATTERSYNC_VAULT_PASSWORD", u.pw)
		if out, err := run(t, "", "sync", "--once", "--config", u.cfg); err != nil {
			t.Fatalf("sync: %v\n%s", err, out)
		}
	}

	t.Setenv("MATTERSYNC_VAULT_PASSWORD", alice.Password)
	folder := matterFolder(t, aliceCfg)
	for _, bad := range [][]string{{"--expires", "soon"}, {"--max-files", "-1"}, {}} {
		args := append([]string{"request", "--config", aliceCfg, folder}, bad...)
		if len(bad) > 0 {
			args = append(args, "--from", "client@example.com")
		}
		if out, err := run(t, "", args...); err == nil {
			t.Fatalf("request %v: no error\n%s", bad, out)
		}
	}
	out, err := run(t, "", "request", "--config", aliceCfg, folder, "--from", "client@example.com", "--expires", "2d", "--max-files", "5")
	if err != nil {
		t.Fatalf("request: %v\n%s", err, out)
	}
	link, _, _ := strings.Cut(out, "\n")
	rest, ok := strings.CutPrefix(link, "https://files.firm.test/r/")
	id, frag, _ := strings.Cut(rest, "#")
	if !ok || len(id) != 32 || len(frag) != 43 {
		t.Fatalf("request printed %q", out)
	}
	q, err := gw.Stores.Requests.Request(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if base64.RawURLEncoding.EncodeToString(q.PublicKey) != frag || q.Recipient != "client@example.com" || q.MaxFiles != 5 ||
		q.Expires.Sub(q.Created).Round(time.Hour) != 48*time.Hour || q.User != alice.Name || len(q.WrappedKey) != 65 {
		t.Fatalf("recorded %+v for link %s", q, link)
	}

	t.Setenv("MATTERSYNC_VAULT_PASSWORD", bob.Password)
	out, err = run(t, "", "request", "--config", bobCfg, matterFolder(t, bobCfg), "--from", "client@example.com")
	if err == nil || !strings.Contains(err.Error(), "only members who may edit") {
		t.Fatalf("ro member's request: %v\n%s", err, out)
	}
}
