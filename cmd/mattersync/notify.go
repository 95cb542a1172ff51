package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gen2brain/beeep"

	"github.com/mattersync/mattersync/agent"
)

// notifier shows a message to the person at the machine.
type notifier interface {
	Notify(title, message string) error
}

// desktop is the system's notification centre (Windows toast, macOS
// Notification Center, freedesktop D-Bus or notify-send on Linux).
type desktop struct{}

func (desktop) Notify(title, message string) error {
	beeep.AppName = "mattersync"
	return beeep.Notify(title, message, "")
}

// attention tells the person what needs them, from the agent's status: a
// lawyer reads neither `mattersync status` nor the log, and an agent
// running as a login item has no terminal. It announces
//
//   - once each time it happens, that syncing stopped until they act: their
//     sign-in ended (run `mattersync login`) or IT ended their access;
//   - per matter, new conflict copies, files that could not be synced, and a
//     matter halted for an integrity problem, grouped: at most one
//     notification per matter and kind every quietFor, however many files
//     a burst touched.
type attention struct {
	n   notifier
	log *slog.Logger

	mu   sync.Mutex
	last string // the agent state last announced; "" while all is well
	seen map[string]matterSeen
	now  func() time.Time // tests move the clock
}

// matterSeen is what was last seen and announced of one matter.
type matterSeen struct {
	conflicts int
	errors    []string
	halted    bool
	told      map[string]time.Time // kind -> when last announced
}

// quietFor is the least time between two notifications of one kind for
// one matter.
const quietFor = time.Minute

// needsPerson returns what to tell the person about st, or "" when
// syncing goes on (or stopped for a reason that fixes itself, such as
// being offline).
func needsPerson(st agent.Status) string {
	switch st.State {
	case "login needed", "revoked":
		return st.Message
	}
	return ""
}

// see announces what is new in st.
func (a *attention) see(st agent.Status) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if msg := needsPerson(st); msg == "" {
		a.last = ""
	} else if st.State != a.last {
		a.last = st.State
		title := "mattersync: access ended"
		if strings.Contains(msg, "mattersync login") {
			title = "mattersync: sign in again"
		}
		a.show(title, msg)
	}
	for _, m := range st.Matters {
		a.matter(m)
	}
}

// matter announces what changed in one matter since it was last seen.
func (a *attention) matter(m agent.MatterStatus) {
	if a.seen == nil {
		a.seen = map[string]matterSeen{}
	}
	now := time.Now()
	if a.now != nil {
		now = a.now()
	}
	prev, known := a.seen[m.ID]
	cur := matterSeen{conflicts: m.Conflicts, errors: m.Errors, halted: m.State == "halted", told: prev.told}
	if cur.told == nil {
		cur.told = map[string]time.Time{}
	}
	name := m.Name
	if name == "" {
		name = m.ID
	}
	tell := func(kind, title, msg string) {
		if t, ok := cur.told[kind]; ok && now.Sub(t) < quietFor {
			return
		}
		cur.told[kind] = now
		a.show(title, msg)
	}
	// What a matter holds at the agent's start is not news: status already
	// shows it.
	if known {
		if cur.halted && !prev.halted {
			msg := "Syncing of " + name + " stopped to protect your files"
			if len(m.Errors) > 0 {
				msg += ": " + m.Errors[0]
			}
			tell("halted", "mattersync: integrity problem", msg+". Your files are untouched; IT has been told.")
		}
		if n := m.Conflicts - prev.conflicts; n > 0 {
			tell("conflict", "mattersync: conflict copy", fmt.Sprintf("%s: %d file(s) were changed here and by a colleague at the same time; both versions are kept, yours as a copy named \"(conflict, ...)\".", name, n))
		}
		if fresh := newErrors(prev.errors, m.Errors); len(fresh) > 0 && !cur.halted {
			msg := fmt.Sprintf("%s: %s", name, fresh[0])
			if len(fresh) > 1 {
				msg += fmt.Sprintf(" (and %d more; see mattersync status)", len(fresh)-1)
			}
			tell("error", "mattersync: not synced", msg)
		}
	}
	a.seen[m.ID] = cur
}

// newErrors returns the entries of cur that were not in prev.
func newErrors(prev, cur []string) []string {
	var out []string
	for _, e := range cur {
		if !slices.Contains(prev, e) {
			out = append(out, e)
		}
	}
	return out
}

func (a *attention) show(title, msg string) {
	if err := a.n.Notify(title, msg); err != nil {
		// No desktop session (a server, SSH, CI): status and log remain.
		a.log.Debug("no desktop notification", "err", err)
		return
	}
	a.log.Info("desktop notification shown", "title", title)
}

// watch announces what the running agent's status asks of the person,
// until ctx ends.
func (a *attention) watch(ctx context.Context, ag *agent.Agent) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		a.see(ag.Status())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
