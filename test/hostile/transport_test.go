package hostile

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/kms"
)

// An http:// gateway or Vault URL (a typo, a downgraded installer
// property, an attacker's edit of a machine-wide config) would send the
// Vault password and every token in clear. The agent refuses it unless the
// config says insecure_http, and even then only to loopback; it refuses
// before it contacts anything.
func TestPlainHTTPURLsRefused(t *testing.T) {
	var asked atomic.Int32
	listener := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.Error(w, "listening in clear", http.StatusTeapot)
	}))
	defer listener.Close()
	base := func() agent.Config {
		c := agent.DefaultConfig()
		c.Gateway.URL, c.Vault.Address, c.Vault.Username = listener.URL, listener.URL, "alice"
		c.Root, c.DataDir = t.TempDir(), t.TempDir()
		return c
	}
	auth := kms.UserpassAuth{Mount: "userpass", Username: "alice", Password: "the real password"}
	cases := []struct {
		name    string
		edit    func(*agent.Config)
		wantErr string
	}{
		{"http without insecure_http", func(*agent.Config) {}, "insecure_http"},
		{"http to a network host with insecure_http", func(c *agent.Config) {
			c.Gateway.URL, c.Vault.Address, c.InsecureHTTP = "http://gateway.firm.example", "http://vault.firm.example:8200", true
		}, "loopback"},
	}
	for _, c := range cases {
		cfg := base()
		c.edit(&cfg)
		_, err := agent.Open(context.Background(), cfg, auth, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%s: Open = %v, want an error naming %q", c.name, err, c.wantErr)
		}
	}
	if n := asked.Load(); n != 0 {
		t.Fatalf("the agent sent %d requests over plain http before refusing", n)
	}
	// The same rule holds for the config file itself.
	_, err := agent.ParseConfig([]byte("gateway: {url: \"http://gw.firm.example\"}\nvault: {address: \"https://v.firm.example\", username: alice}\nroot: " + t.TempDir() + "\n"))
	if err == nil || !strings.Contains(err.Error(), "gateway.url") {
		t.Fatalf("ParseConfig with an http gateway: %v", err)
	}
}
