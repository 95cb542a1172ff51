package agent

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Activity is one decision about a file, as the log recorded it, for the
// status page's "recent activity".
type Activity struct {
	Time    time.Time
	Level   slog.Level
	Message string // the log's message: "file uploaded", "conflict: local edit kept as a copy", ...
	Matter  string
	Path    string
	Detail  string // the copy, the reason, the version, when the record has one
}

// activityLog keeps the newest file decisions of the agent's log in
// memory. The log already says every decision about a file (docs/AGENT.md,
// "The log"); the page shows the same lines instead of keeping a second
// record that could disagree with it.
type activityLog struct {
	mu   sync.Mutex // guards ring and next
	ring []Activity
	next int
}

const activityKept = 200

func (l *activityLog) add(e Activity) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ring) < activityKept {
		l.ring = append(l.ring, e)
		return
	}
	l.ring[l.next] = e
	l.next = (l.next + 1) % activityKept
}

// recent returns up to n entries, newest first.
func (l *activityLog) recent(n int) []Activity {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Activity, 0, min(n, len(l.ring)))
	for i := 0; i < len(l.ring) && len(out) < n; i++ {
		j := (l.next - 1 - i + 2*len(l.ring)) % len(l.ring)
		out = append(out, l.ring[j])
	}
	return out
}

// handler returns a slog.Handler that passes everything to next and keeps
// the records about a file (those with a matter and a path) at info and
// above.
func (l *activityLog) handler(next slog.Handler) slog.Handler {
	return &activityHandler{log: l, next: next}
}

type activityHandler struct {
	log   *activityLog
	next  slog.Handler
	attrs []slog.Attr // from WithAttrs (no groups: the agent uses none)
	group bool        // inside a group: attrs are not the file's
}

func (h *activityHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h *activityHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelInfo && !h.group {
		e := Activity{Time: r.Time, Level: r.Level, Message: r.Message}
		take := func(a slog.Attr) bool {
			switch a.Key {
			case "matter":
				e.Matter = a.Value.String()
			case "path":
				e.Path = a.Value.String()
			case "copy", "reason", "trash", "keep":
				if e.Detail != "" {
					e.Detail += "; "
				}
				e.Detail += a.Key + " " + a.Value.String()
			case "version", "as":
				if e.Detail != "" {
					e.Detail += "; "
				}
				e.Detail += a.Key + " " + a.Value.String()
			}
			return true
		}
		for _, a := range h.attrs {
			take(a)
		}
		r.Attrs(take)
		if e.Matter != "" && e.Path != "" {
			h.log.add(e)
		}
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *activityHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	if !h.group {
		c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	}
	return &c
}

func (h *activityHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	c.group = true
	return &c
}
