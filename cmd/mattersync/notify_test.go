package main

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

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

// Per matter: what it holds when the agent starts is not news; new
// conflict copies, files that could not be synced and an integrity halt
// are, grouped (one notification for a burst of files) and at most one of
// a kind per matter a minute.
func TestAttentionMatters(t *testing.T) {
	n := &notes{}
	clock := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	a := &attention{n: n, log: slog.New(slog.NewTextHandler(io.Discard, nil)), now: func() time.Time { return clock }}
	st := func(ms ...agent.MatterStatus) agent.Status { return agent.Status{State: "idle", Matters: ms} }
	m := agent.MatterStatus{ID: "2026-0001", Name: "Smith v. Jones", State: "idle", Conflicts: 2, Errors: []string{"old problem"}}
	a.see(st(m)) // at start: nothing new
	if got := n.list(); len(got) != 0 {
		t.Fatalf("start-up notifications %q", got)
	}
	m.Conflicts = 5 // three conflict copies in one pass
	a.see(st(m))
	m.Conflicts = 6 // and one more within the minute: held back
	clock = clock.Add(10 * time.Second)
	a.see(st(m))
	m.Errors = []string{"old problem", "Brief.docx: the disk is full", "Memo.docx: the disk is full"}
	a.see(st(m))
	got := n.list()
	if len(got) != 2 || !strings.Contains(got[0], "Smith v. Jones: 3 file(s)") ||
		!strings.Contains(got[1], "Brief.docx: the disk is full (and 1 more") {
		t.Fatalf("notifications %q: want one for the 3 conflicts, one for the 2 new problems", got)
	}
	clock = clock.Add(2 * time.Minute)
	m.Conflicts = 7
	m.State, m.Errors = "halted", []string{"the gateway's feed went backwards (restored from a backup?)"}
	a.see(st(m))
	got = n.list()
	if len(got) != 4 || !strings.Contains(got[2], "integrity problem") || !strings.Contains(got[2], "went backwards") ||
		!strings.Contains(got[3], "1 file(s)") {
		t.Fatalf("notifications %q: want the halt, then the conflict after the quiet minute", got)
	}
}
