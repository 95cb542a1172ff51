package agent

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfig(t *testing.T) {
	root := t.TempDir()
	good := `
gateway: {url: "https://gw.firm.example"}
vault: {address: "https://vault.firm.example:8200", auth: userpass, username: alice, password_env: MATTERSYNC_PASSWORD}
root: ` + root + `
device_name: LAPTOP-7
debounce: 250ms
ignore: ["*.bak"]
`
	c, err := LoadConfig(writeConfig(t, good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Root != root || c.Debounce.Milliseconds() != 250 || c.KeyCacheTTL.Minutes() != 15 || c.DeviceName != "LAPTOP-7" {
		t.Fatalf("config = %+v", c)
	}
	if p := c.IgnorePatterns(); p[len(p)-1] != "*.bak" || len(p) <= 1 {
		t.Fatalf("IgnorePatterns = %v", p)
	}

	bad := map[string]string{
		"unknown key":     good + "colour: blue\n",
		"misspelt nested": strings.Replace(good, "username:", "usrname:", 1),
		"missing gateway": strings.Replace(good, `gateway: {url: "https://gw.firm.example"}`, "", 1),
		"ftp gateway":     strings.Replace(good, "https://gw.firm.example", "ftp://gw", 1),
		"relative root":   strings.Replace(good, "root: "+root, "root: Matters", 1),
		"tiny debounce":   strings.Replace(good, "250ms", "1ns", 1),
		"bad ignore":      strings.Replace(good, `"*.bak"`, `"a/b"`, 1),
		"bad auth":        strings.Replace(good, "auth: userpass", "auth: kerberos", 1),
		"not yaml":        "gateway: [",
		"negative trash":  good + "trash_retention: -1h\n",
		"trash in days":   good + "trash_retention: 30d\n",
		"negative cap":    good + "trash_max_size: -1\n",
	}
	for name, body := range bad {
		if _, err := LoadConfig(writeConfig(t, body)); err == nil {
			t.Errorf("%s: LoadConfig accepted it", name)
		}
	}
	// Every problem is reported at once, each naming its key.
	_, err = LoadConfig(writeConfig(t, "root: rel\ndebounce: 1ns\n"))
	for _, key := range []string{"gateway.url", "vault.address", "root", "debounce"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v does not name %s", err, key)
		}
	}
}

// The example config in configs/ must always load (with its required
// placeholders), so the documentation never drifts from the code.
func TestExampleConfigLoads(t *testing.T) {
	if _, err := LoadConfig("../configs/agent.yaml"); err != nil {
		t.Fatal(err)
	}
}

// Plain http URLs need insecure_http, and even then only reach loopback:
// a config can never send tokens in clear over a network by accident.
func TestInsecureHTTP(t *testing.T) {
	cases := []struct {
		name, body, wantErr string
	}{
		{"https", `gateway: {url: "https://gw.example"}` + "\n" + `vault: {address: "https://v.example"}`, ""},
		{"http gateway without the flag", `gateway: {url: "http://gw.example"}` + "\n" + `vault: {address: "https://v.example"}`, "insecure_http"},
		{"http vault without the flag", `gateway: {url: "https://gw.example"}` + "\n" + `vault: {address: "http://127.0.0.1:8200"}`, "vault.address"},
		{"http loopback without the flag", `gateway: {url: "http://127.0.0.1:8080"}` + "\n" + `vault: {address: "https://v.example"}`, "gateway.url"},
		{"http to the network with the flag", `gateway: {url: "http://gw.example"}` + "\n" + `vault: {address: "https://v.example"}` + "\ninsecure_http: true", "loopback"},
		{"http loopback with the flag", `gateway: {url: "http://127.0.0.1:8080"}` + "\n" + `vault: {address: "http://localhost:8200"}` + "\ninsecure_http: true", ""},
		{"http ipv6 loopback with the flag", `gateway: {url: "http://[::1]:8080"}` + "\n" + `vault: {address: "https://v.example"}` + "\ninsecure_http: true", ""},
	}
	for _, c := range cases {
		body := strings.Replace(c.body, "vault: {address: ", "vault: {username: alice, address: ", 1) + "\nroot: " + t.TempDir() + "\n"
		_, err := ParseConfig([]byte(body))
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: error %v, want one naming %q", c.name, err, c.wantErr)
		}
	}
}

// wipe_on_revoke needs the gateway's public key, and a key that is not an
// Ed25519 PKIX PEM is refused with its name.
func TestWipeNeedsGatewayKey(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(priv.Public())
	good := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	indent := func(s string) string { return "  " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n    ") }
	base := "vault: {username: alice, address: \"https://v.example\"}\nroot: " + t.TempDir() + "\n"
	cases := []struct{ name, body, wantErr string }{
		{"wipe without key", "gateway: {url: \"https://gw.example\"}\nwipe_on_revoke: true\n", "wipe_on_revoke needs gateway.public_key"},
		{"wipe with key", "gateway:\n  url: \"https://gw.example\"\n  public_key: |\n  " + indent(good) + "\nwipe_on_revoke: true\n", ""},
		{"garbage key", "gateway:\n  url: \"https://gw.example\"\n  public_key: \"not a key\"\n", "gateway.public_key"},
	}
	for _, c := range cases {
		_, err := ParseConfig([]byte(c.body + base))
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: error %v, want one naming %q", c.name, err, c.wantErr)
		}
	}
}

func TestConfigSyncMatters(t *testing.T) {
	base := "gateway: {url: https://gw.example}\nvault: {address: https://vault.example}\n"
	for in, want := range map[string]string{
		"":                                       "all",
		"sync_matters: all\n":                    "all",
		"sync_matters: none\n":                   "none",
		"sync_matters: [2026-0001, 2026-0002]\n": "[2026-0001 2026-0002]",
	} {
		c, err := ParseConfig([]byte(base + in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		got := "all"
		switch {
		case c.SyncMatters.None:
			got = "none"
		case len(c.SyncMatters.List) > 0:
			got = fmt.Sprint(c.SyncMatters.List)
		}
		if got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
	for _, in := range []string{"sync_matters: some\n", "sync_matters: []\n", "sync_matters: [Bad ID]\n", "sync_matters: {a: b}\n"} {
		if _, err := ParseConfig([]byte(base + in)); err == nil || !strings.Contains(err.Error(), "sync_matters") {
			t.Errorf("%q accepted (%v)", in, err)
		}
	}
}
