package devstack

import (
	"strings"
	"testing"
)

// The guide shows a newcomer every step the README's demo needs, including
// the one-time login that versions and restore take in a second terminal.
func TestGuideNamesTheLoginForVersions(t *testing.T) {
	s := &Stack{opts: Options{Dir: "/tmp/run", Users: []string{"alice", "bob"}, Matter: "2026-0001", Name: "Demo"},
		st: state{Admin: "itadmin"}, Agents: map[string]*Agent{}}
	for _, u := range s.opts.Users {
		s.Agents[u] = &Agent{User: u, Root: "/tmp/run/" + u + "/Matters", Config: "/tmp/run/" + u + "/agent.yaml", Folder: "/tmp/run/" + u + "/Matters/Demo [2026-0001]"}
	}
	g := s.Guide()
	for _, want := range []string{"login --token-file", "--config /tmp/run/alice/agent.yaml versions", "user revoke bob", "make clean-run"} {
		if !strings.Contains(g, want) {
			t.Errorf("guide lacks %q:\n%s", want, g)
		}
	}
}
