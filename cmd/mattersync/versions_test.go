package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
	"go.yaml.in/yaml/v3"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// versions and restore, as a lawyer runs them: with the login
// `mattersync login` kept (here the token file, on a machine without a
// credential store), no log lines, and the user's own versions shown as
// "you", another member's by user name (recorded by the gateway from the
// committer's token) and device.
func TestVersionsAndRestore(t *testing.T) {
	keyring.MockInitWithError(os.ErrPermission) // no credential store here
	t.Cleanup(keyring.MockInit)
	v := kmstest.Setup(t)
	gw := gatewaytest.Start(t, gatewaytest.Options{Vault: v})
	m := v.Matter(t)
	alice, bob := v.User(t, false), v.User(t, false)
	v.Grant(t, m, alice, kms.RoleRW)
	v.Grant(t, m, bob, kms.RoleRW)
	aliceCfg := cliConfig(t, v, alice, gw.URL)
	bobCfg := cliConfig(t, v, bob, gw.URL)

	t.Setenv("MATTERSYNC_VAULT_PASSWORD", "")
	if out, err := run(t, alice.Password+"\n", "login", "--token-file", "--config", aliceCfg); err != nil {
		t.Fatalf("login: %v\n%s", err, out)
	}
	syncOnce := func(cfgPath, password string) {
		t.Helper()
		t.Setenv("MATTERSYNC_VAULT_PASSWORD", password)
		if out, err := run(t, "", "sync", "--once", "--config", cfgPath); err != nil {
			t.Fatalf("sync: %v\n%s", err, out)
		}
		t.Setenv("MATTERSYNC_VAULT_PASSWORD", "")
	}
	syncOnce(aliceCfg, "") // alice by her token file
	aliceFile := filepath.Join(matterFolder(t, aliceCfg), "draft.txt")
	if err := os.WriteFile(aliceFile, []byte("first draft"), 0o600); err != nil {
		t.Fatal(err)
	}
	syncOnce(aliceCfg, "")
	syncOnce(bobCfg, bob.Password)
	bobFile := filepath.Join(matterFolder(t, bobCfg), "draft.txt")
	if err := os.WriteFile(bobFile, []byte("bob's rewrite"), 0o600); err != nil {
		t.Fatal(err)
	}
	syncOnce(bobCfg, bob.Password)

	out, err := run(t, "", "versions", "--config", aliceCfg, aliceFile)
	if err != nil {
		t.Fatalf("versions: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || strings.Contains(out, "{") {
		t.Fatalf("versions output (want a header and two versions, no log lines):\n%s", out)
	}
	if !strings.HasPrefix(lines[1], "2 ") || !strings.HasSuffix(lines[1], " "+bob.Name) || strings.Contains(lines[1], bob.EntityID) || !strings.Contains(lines[1], bob.Name+"-laptop") {
		t.Errorf("bob's version is not shown by his name and device:\n%s", out)
	}
	if !strings.HasPrefix(lines[2], "1 ") || !strings.HasSuffix(lines[2], "you") || strings.Contains(lines[2], alice.EntityID) {
		t.Errorf("alice's own version is not shown as \"you\":\n%s", out)
	}

	out, err = run(t, "", "restore", "--config", aliceCfg, aliceFile, "--version", "1")
	if err != nil || out != "restored version 1 of "+aliceFile+" as version 3\n" {
		t.Fatalf("restore: %v\n%q", err, out)
	}
	if b, _ := os.ReadFile(aliceFile); string(b) != "first draft" {
		t.Fatalf("after restore the file holds %q", b)
	}

	// The folder as it was at a date: listed, then restored; a file made
	// since is left alone.
	at := time.Now().Format(time.RFC3339Nano)
	if err := os.WriteFile(aliceFile, []byte("third draft"), 0o600); err != nil {
		t.Fatal(err)
	}
	newFile := filepath.Join(matterFolder(t, aliceCfg), "new.txt")
	if err := os.WriteFile(newFile, []byte("made since"), 0o600); err != nil {
		t.Fatal(err)
	}
	syncOnce(aliceCfg, "")
	out, err = run(t, "", "versions", "--config", aliceCfg, "--at", at, matterFolder(t, aliceCfg))
	if err != nil || !strings.Contains(out, "draft.txt") || !strings.Contains(out, "changed (version 4)") ||
		strings.Contains(out, "new.txt") || !strings.Contains(out, "1 files made since then are not listed") {
		t.Fatalf("versions --at: %v\n%s", err, out)
	}
	out, err = run(t, "", "restore", "--config", aliceCfg, "--at", at, matterFolder(t, aliceCfg))
	if err != nil || !strings.Contains(out, "restored draft.txt: version 3 restored as version 5") || !strings.Contains(out, "1 made since left alone") {
		t.Fatalf("restore --at: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(aliceFile); string(b) != "first draft" {
		t.Fatalf("after restore --at the file holds %q", b)
	}
	if b, _ := os.ReadFile(newFile); string(b) != "made since" {
		t.Fatalf("after restore --at the newer file holds %q", b)
	}
	if _, err := run(t, "", "restore", "--config", aliceCfg, "--at", "last Monday", matterFolder(t, aliceCfg)); err == nil || !strings.Contains(err.Error(), "not a date") {
		t.Fatalf("restore --at last Monday: %v", err)
	}
}

// cliConfig writes an agent config for u on v's Vault and the gateway at
// gwURL, and returns its path.
func cliConfig(t *testing.T, v *kmstest.Env, u kmstest.User, gwURL string) string {
	t.Helper()
	cfg := agent.DefaultConfig()
	cfg.Gateway.URL, cfg.Vault.Address, cfg.Vault.Username, cfg.Vault.Layout = gwURL, v.Config.Address, u.Name, v.Config.Layout
	cfg.Root, cfg.DataDir, cfg.DeviceName = t.TempDir(), t.TempDir(), u.Name+"-laptop"
	cfg.InsecureHTTP = true // the test Vault and gateway speak http on loopback
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// matterFolder is the one matter folder under the config's root.
func matterFolder(t *testing.T, cfgPath string) string {
	t.Helper()
	cfg, err := agent.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	es, err := os.ReadDir(cfg.Root)
	if err != nil || len(es) != 1 {
		t.Fatalf("matters root %s: %v %v", cfg.Root, es, err)
	}
	return filepath.Join(cfg.Root, es[0].Name())
}
