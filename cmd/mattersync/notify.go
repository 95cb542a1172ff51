package main

import (
	"context"
	"log/slog"
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

// attention tells the person, once each time it happens, that syncing
// stopped until they act: their sign-in ended (run `mattersync login`) or
// IT ended their access. Status and log say it too, but a lawyer does not
// read either; an agent running as a login item has no terminal.
type attention struct {
	n   notifier
	log *slog.Logger

	mu   sync.Mutex
	last string // the state last announced; "" while all is well
}

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

// see announces st if it is a new reason to act.
func (a *attention) see(st agent.Status) {
	msg := needsPerson(st)
	a.mu.Lock()
	defer a.mu.Unlock()
	if msg == "" {
		a.last = ""
		return
	}
	if st.State == a.last {
		return
	}
	a.last = st.State
	title := "mattersync: access ended"
	if strings.Contains(msg, "mattersync login") {
		title = "mattersync: sign in again"
	}
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
