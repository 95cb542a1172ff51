package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
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

// login checks the password against the real Vault and keeps a renewable
// token, never the password, in the credential store (an in-memory store
// here: CI machines have no keychain daemon), where the agent's
// Authenticator finds it; logout revokes and removes it.
func TestLoginLogout(t *testing.T) {
	keyring.MockInit()
	ctx := context.Background()
	v := kmstest.Setup(t)
	u := v.User(t, false)
	m := v.Matter(t)
	v.Grant(t, m, u, kms.RoleRW)
	cfg, path := loginConfig(t, v, u)
	t.Setenv("MATTERSYNC_VAULT_PASSWORD", "")
	if out, err := run(t, "wrong-password\n", "login", "--config", path); err == nil || strings.Contains(out, "logged in") {
		t.Fatalf("a wrong password was accepted: %s", out)
	}
	if _, err := cfg.Authenticator(keychain{}); err == nil {
		t.Fatal("a refused login left a secret behind")
	}
	out, err := run(t, u.Password+"\n", "login", "--config", path)
	if err != nil || !strings.Contains(out, m) || !strings.Contains(out, "not your password") {
		t.Fatalf("login: %v\n%s", err, out)
	}
	// The store holds a token, not the password.
	for _, key := range []string{cfg.SecretKey(), cfg.TokenKey()} {
		if got, _ := keyring.Get(keychainService, key); got == u.Password {
			t.Fatalf("the password is in the credential store under %q", key)
		}
	}
	tok, err := keyring.Get(keychainService, cfg.TokenKey())
	if err != nil || tok == "" {
		t.Fatalf("no token stored: %v", err)
	}
	auth, err := cfg.Authenticator(keychain{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := auth.(kms.StoredTokenAuth); !ok {
		t.Fatalf("Authenticator = %T, want the stored token", auth)
	}
	kr, err := kms.Login(ctx, vaultConfig(cfg), auth)
	if err != nil {
		t.Fatalf("the agent cannot log in with the stored token: %v", err)
	}
	kr.Close()
	if _, err := run(t, "", "logout", "--config", path); err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Authenticator(keychain{}); err == nil || !strings.Contains(err.Error(), "mattersync login") {
		t.Fatalf("after logout: %v", err)
	}
	// logout revoked the token: a copy taken from the store is useless.
	if _, err := kms.Login(ctx, vaultConfig(cfg), kms.TokenAuth{Token: tok}); kms.KindOf(err) != kms.Denied {
		t.Fatalf("the token still works after logout: %v", err)
	}
}

// A password an older `mattersync login` kept is replaced by a token at the
// agent's next start.
func TestStoredPasswordMigrates(t *testing.T) {
	keyring.MockInit()
	v := kmstest.Setup(t)
	u := v.User(t, false)
	cfg, _ := loginConfig(t, v, u)
	t.Setenv("MATTERSYNC_VAULT_PASSWORD", "")
	if err := keyring.Set(keychainService, cfg.SecretKey(), u.Password); err != nil {
		t.Fatal(err)
	}
	auth, err := loginFor(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := auth.(kms.StoredTokenAuth); !ok {
		t.Fatalf("Authenticator after migration = %T", auth)
	}
	if pw, err := keyring.Get(keychainService, cfg.SecretKey()); err == nil {
		t.Fatalf("the password is still stored: %q", pw)
	}
	if _, err := kms.Login(context.Background(), vaultConfig(cfg), auth); err != nil {
		t.Fatal(err)
	}
}

// loginConfig writes an agent config for u on v's Vault.
func loginConfig(t *testing.T, v *kmstest.Env, u kmstest.User) (agent.Config, string) {
	t.Helper()
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
	return cfg, path
}

// Without an OS credential store (headless Linux: no D-Bus session),
// login says so before asking for the password and names the
// alternatives; --token-file keeps the renewable token (never the
// password) in a 0600 file in the data dir, where the agent finds it, and
// logout revokes and removes it.
func TestLoginWithoutCredentialStore(t *testing.T) {
	keyring.MockInitWithError(errors.New(`exec: "dbus-launch": executable file not found in $PATH`))
	t.Cleanup(keyring.MockInit)
	ctx := context.Background()
	v := kmstest.Setup(t)
	u := v.User(t, false)
	m := v.Matter(t)
	v.Grant(t, m, u, kms.RoleRW)
	cfg, path := loginConfig(t, v, u)
	t.Setenv("MATTERSYNC_VAULT_PASSWORD", "")
	// Before any login, the agent and the commands point to the way that works here.
	if _, err := loginFor(ctx, cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "`mattersync login --token-file`") {
		t.Errorf("no login yet, no credential store: %v", err)
	}
	_, err := run(t, u.Password+"\n", "login", "--config", path)
	if err == nil {
		t.Fatal("login without a credential store succeeded")
	}
	for _, want := range []string{"no OS credential store", "dbus-launch", "mattersync login --token-file", filepath.Join(cfg.DataDir, "vault-token"), "MATTERSYNC_VAULT_PASSWORD"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q:\n%v", want, err)
		}
	}
	out, err := run(t, u.Password+"\n", "login", "--token-file", "--config", path)
	if err != nil || !strings.Contains(out, m) {
		t.Fatalf("login --token-file: %v\n%s", err, out)
	}
	file := filepath.Join(cfg.DataDir, "vault-token")
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(file); strings.Contains(string(b), u.Password) {
		t.Fatal("the password is in the token file")
	}
	auth, err := loginFor(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := auth.(kms.StoredTokenAuth); !ok {
		t.Fatalf("Authenticator = %T, want the stored token", auth)
	}
	kr, err := kms.Login(ctx, vaultConfig(cfg), auth)
	if err != nil {
		t.Fatalf("the agent cannot log in with the token file: %v", err)
	}
	kr.Close()
	tf, err := readTokenFile(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	// A file others can read is refused, not used.
	if runtime.GOOS != "windows" {
		if err := os.Chmod(file, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := (credentials{dataDir: cfg.DataDir}).Get(cfg.TokenKey()); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("a token file readable by others: %v", err)
		}
		if err := os.Chmod(file, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := run(t, "", "logout", "--config", path); err != nil || !strings.Contains(out, "logged out") {
		t.Fatalf("logout: %v\n%s", err, out)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the token file survived logout: %v", err)
	}
	if _, err := kms.Login(ctx, vaultConfig(cfg), kms.TokenAuth{Token: tf.Token}); kms.KindOf(err) != kms.Denied {
		t.Fatalf("the token still works after logout: %v", err)
	}
}
