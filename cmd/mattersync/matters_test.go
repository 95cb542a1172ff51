package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/agent"
)

// config init --sync-matters (the installers' SYNC_MATTERS / SyncMatters
// / --sync-matters) writes the firm's default, which the agent reads back;
// a bad matter ID is refused.
func TestConfigInitSyncMatters(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.yaml")
	init := func(v string) error {
		_, err := run(t, "", "config", "init", "--config", path, "--force", "--gateway-url", "https://gw.firm.example",
			"--vault-addr", "https://vault.firm.example", "--root", filepath.Join(dir, "Matters"), "--sync-matters", v)
		return err
	}
	for v, check := range map[string]func(agent.MatterSelection) bool{
		"":                     func(s agent.MatterSelection) bool { return !s.None && len(s.List) == 0 },
		"all":                  func(s agent.MatterSelection) bool { return !s.None && len(s.List) == 0 },
		"none":                 func(s agent.MatterSelection) bool { return s.None },
		"2026-0001, 2026-0042": func(s agent.MatterSelection) bool { return slices.Equal(s.List, []string{"2026-0001", "2026-0042"}) },
	} {
		if err := init(v); err != nil {
			t.Fatalf("--sync-matters %q: %v", v, err)
		}
		c, err := agent.LoadConfig(path)
		if err != nil || !check(c.SyncMatters) {
			t.Fatalf("--sync-matters %q: read back %+v, %v", v, c.SyncMatters, err)
		}
	}
	if err := init("Smith v Jones"); err == nil || !strings.Contains(err.Error(), "sync_matters") {
		t.Fatalf("a bad matter ID was accepted: %v", err)
	}
}

func TestPrintMatters(t *testing.T) {
	var b strings.Builder
	printMatters(&b, []agent.MatterInfo{
		{ID: "2026-0001", Name: "Demo v. Example", Role: "rw", Selected: true, Here: true, Files: 2, Bytes: 2048},
		{ID: "2026-0002", Name: "Other", Role: "ro"},
		{ID: "2026-0003", Name: "Leaving", Role: "rw", Here: true},
	})
	out := b.String()
	for _, want := range []string{"2026-0001  Demo v. Example  rw    yes", "2KiB", "2026-0002  Other", "no", "yes (removing: uploads first)"} {
		if !strings.Contains(out, want) {
			t.Errorf("matters list lacks %q:\n%s", want, out)
		}
	}
}
