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

// With SSO=1 the guide says how to sign in as alice: the login command,
// her password at the identity provider, and where the code comes from.
func TestGuideSSO(t *testing.T) {
	s := &Stack{opts: Options{Dir: "/tmp/run", Users: []string{"alice", "bob"}, Matter: "2026-0001", Name: "Demo", SSO: true},
		st: state{Admin: "itadmin", SSO: map[string]ssoUser{"alice": {IdPPassword: "pw-of-alice"}}}, Agents: map[string]*Agent{}}
	for _, u := range s.opts.Users {
		s.Agents[u] = &Agent{User: u, Root: "/tmp/run/" + u + "/Matters", Config: "/tmp/run/" + u + "/agent.yaml", Folder: "/tmp/run/" + u + "/Matters/Demo [2026-0001]"}
	}
	g := s.Guide()
	for _, want := range []string{"--config /tmp/run/alice/agent.yaml login --token-file", "user alice, password pw-of-alice", "--totp alice"} {
		if !strings.Contains(g, want) {
			t.Errorf("guide lacks %q:\n%s", want, g)
		}
	}
	if strings.Contains(g, "sed -n 's/.*\"alice\"") {
		t.Errorf("the SSO guide still pipes alice's userpass password into login:\n%s", g)
	}
}
