package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// config init writes insecure_http only for a development stack on this
// machine (an http URL to loopback); http to any other host is refused.
func TestConfigInitInsecureHTTP(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.yaml")
	root := filepath.Join(dir, "Matters")
	if out, err := run(t, "", "config", "init", "--config", path, "--gateway-url", "http://127.0.0.1:8080", "--vault-addr", "https://vault.firm.example", "--root", root, "--username", "alice"); err != nil {
		t.Fatalf("loopback http: %v\n%s", err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), "insecure_http: true") {
		t.Fatalf("config for a loopback http gateway lacks insecure_http: %v\n%s", err, b)
	}
	if out, err := run(t, "", "config", "init", "--config", path, "--force", "--gateway-url", "https://gw.firm.example", "--vault-addr", "https://vault.firm.example", "--root", root, "--username", "alice"); err != nil {
		t.Fatalf("https: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(path); strings.Contains(string(b), "insecure_http") {
		t.Fatalf("an https config mentions insecure_http:\n%s", b)
	}
	_, err = run(t, "", "config", "init", "--config", path, "--force", "--gateway-url", "http://gw.firm.example", "--vault-addr", "https://vault.firm.example", "--root", root, "--username", "alice")
	if err == nil || !strings.Contains(err.Error(), "gateway.url") {
		t.Fatalf("config init with an http gateway on the network: %v", err)
	}
}
