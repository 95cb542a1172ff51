package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/agent"
)

// config init writes insecure_http only for a development stack on this
// machine (an http URL to loopback); http to any other host is refused.
func TestConfigInitInsecureHTTP(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.yaml")
	root := filepath.Join(dir, "Matters")
	if out, err := run(t, "", "config", "init", "--config", path, "--gateway-url", "http://127.0.0.1:8080", "--vault-addr", "https://vault.firm.example", "--root", root, "--auth", "userpass", "--username", "alice"); err != nil {
		t.Fatalf("loopback http: %v\n%s", err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), "insecure_http: true") {
		t.Fatalf("config for a loopback http gateway lacks insecure_http: %v\n%s", err, b)
	}
	if out, err := run(t, "", "config", "init", "--config", path, "--force", "--gateway-url", "https://gw.firm.example", "--vault-addr", "https://vault.firm.example", "--root", root, "--auth", "userpass", "--username", "alice"); err != nil {
		t.Fatalf("https: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(path); strings.Contains(string(b), "insecure_http") {
		t.Fatalf("an https config mentions insecure_http:\n%s", b)
	}
	_, err = run(t, "", "config", "init", "--config", path, "--force", "--gateway-url", "http://gw.firm.example", "--vault-addr", "https://vault.firm.example", "--root", root, "--auth", "userpass", "--username", "alice")
	if err == nil || !strings.Contains(err.Error(), "gateway.url") {
		t.Fatalf("config init with an http gateway on the network: %v", err)
	}
}

// Without --auth, config init writes what the installers write by
// default: sign-in through the firm's identity provider (vault.auth oidc),
// a config the agent accepts as it is.
func TestConfigInitDefaultsToOIDC(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.yaml")
	if out, err := run(t, "", "config", "init", "--config", path, "--gateway-url", "https://gw.firm.example", "--vault-addr", "https://vault.firm.example"); err != nil {
		t.Fatalf("config init: %v\n%s", err, out)
	}
	cfg, err := agent.LoadConfig(path)
	if err != nil {
		t.Fatalf("the agent refuses the default config: %v", err)
	}
	if cfg.Vault.Auth != "oidc" {
		t.Fatalf("default config: auth %q, want oidc", cfg.Vault.Auth)
	}
}
