package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mattersync/mattersync/agent"
)

// `status --open` without a desktop prints a URL that opens the running
// agent's page once, and leaves the forwarding page for the browser
// readable by the user only.
func TestStatusOpen(t *testing.T) {
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	cfg := agent.DefaultConfig()
	cfg.Gateway.URL, cfg.Vault.Address, cfg.Vault.Username = "https://gateway.invalid", "https://vault.invalid:8200", "alice"
	cfg.Root, cfg.DataDir, cfg.DeviceName = t.TempDir(), t.TempDir(), "LAPTOP-7"
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "", "status", "--open", "--config", cfgPath); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Fatalf("status --open with no agent: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- agent.ServeStatus(ctx, cfg, agent.Status{State: "login needed", Message: "run `mattersync login`"})
	}()
	t.Cleanup(func() { cancel(); <-done })
	var out string
	for i := 0; ; i++ {
		if out, err = run(t, "", "status", "--open", "--config", cfgPath); err == nil {
			break
		}
		if i == 200 {
			t.Fatalf("status --open: %v\n%s", err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	u := lines[len(lines)-1]
	if !strings.HasPrefix(u, "http://127.0.0.1:") || !strings.Contains(u, "/open?t=") {
		t.Fatalf("status --open printed:\n%s", out)
	}
	fi, err := os.Stat(filepath.Join(cfg.DataDir, "status-page.html"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("forwarding page: %v %v", fi, err)
	}
	c := &http.Client{Transport: &http.Transport{}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer c.CloseIdleConnections()
	for i, want := range []int{http.StatusSeeOther, http.StatusForbidden} {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("opening the printed URL a %d. time: %s, want %d", i+1, resp.Status, want)
		}
	}
}
