package main

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/mattersync/mattersync/agent"
)

// notes records the notifications shown.
type notes struct {
	mu   sync.Mutex
	seen []string
	fail bool
}

func (n *notes) Notify(title, message string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fail {
		return errors.New("no desktop session")
	}
	n.seen = append(n.seen, title+": "+message)
	return nil
}

func (n *notes) list() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.seen...)
}

// One notification each time syncing stops until the person acts, none
// while it goes on or is merely offline, and a new one after it resumed
// and stopped again.
func TestAttention(t *testing.T) {
	n := &notes{}
	a := &attention{n: n, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	login := agent.Status{State: "login needed", Message: "Vault refused the stored login: run `mattersync login`"}
	refused := agent.Status{State: "revoked", Message: "Vault refused this login (expired, or revoked): run `mattersync login`"}
	byIT := agent.Status{State: "revoked", Message: "access revoked by IT: sync stopped, keys wiped"}
	for _, st := range []agent.Status{{State: "starting"}, {State: "idle"}, {State: "offline", Message: "cannot reach Vault"},
		login, login, login, {State: "idle"}, refused, refused, {State: "syncing"}, byIT, byIT} {
		a.see(st)
	}
	got := n.list()
	if len(got) != 3 {
		t.Fatalf("notifications %q: want 3 (login needed, refused, revoked by IT)", got)
	}
	for i, want := range []string{"sign in again", "sign in again", "access ended"} {
		if !strings.Contains(got[i], want) {
			t.Errorf("notification %d %q does not say %q", i, got[i], want)
		}
	}
	// Without a desktop session nothing fails; status and log still say it.
	n.fail = true
	a.see(agent.Status{State: "idle"})
	a.see(login)
	if len(n.list()) != 3 {
		t.Fatalf("a failed notification was recorded")
	}
}
