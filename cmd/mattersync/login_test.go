package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
	"go.yaml.in/yaml/v3"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// run runs the CLI with args and stdin, returning its output.
func run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.Execute()
	return out.String(), err
}

// login checks the password against the real Vault and keeps it in the
// credential store (an in-memory store here: CI machines have no keychain
// daemon), where the agent's Authenticator finds it; logout removes it.
func TestLoginLogout(t *testing.T) {
	keyring.MockInit()
	v := kmstest.Setup(t)
	u := v.User(t, false)
	m := v.Matter(t)
	v.Grant(t, m, u, kms.RoleRW)
	cfg := agent.DefaultConfig()
	cfg.Gateway.URL, cfg.Vault.Address, cfg.Vault.Username, cfg.Vault.Layout = "https://gw.invalid", v.Config.Address, u.Name, v.Config.Layout
	cfg.Root, cfg.DataDir = t.TempDir(), t.TempDir()
	cfg.InsecureHTTP = true // the test Vault speaks http on loopback
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MATTERSYNC_VAULT_PASSWORD", "")

	if out, err := run(t, "wrong-password\n", "login", "--config", path); err == nil || strings.Contains(out, "logged in") {
		t.Fatalf("a wrong password was accepted: %s", out)
	}
	if _, err := cfg.Authenticator(keychain{}); err == nil {
		t.Fatal("a refused login left a secret behind")
	}
	out, err := run(t, u.Password+"\n", "login", "--config", path)
	if err != nil || !strings.Contains(out, m) {
		t.Fatalf("login: %v\n%s", err, out)
	}
	auth, err := cfg.Authenticator(keychain{})
	if err != nil {
		t.Fatal(err)
	}
	if up, ok := auth.(kms.UserpassAuth); !ok || up.Password != u.Password || up.Username != u.Name {
		t.Fatalf("Authenticator = %v", auth)
	}
	if _, err := run(t, "", "logout", "--config", path); err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Authenticator(keychain{}); err == nil || !strings.Contains(err.Error(), "mattersync login") {
		t.Fatalf("after logout: %v", err)
	}
}
