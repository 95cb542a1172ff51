package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// cliHandler is the log of the one-shot commands (versions, restore,
// sync --once, login): a person reads their stderr, so it carries only
// errors, as one line of text each. Warnings and progress belong to the
// service's JSON log (`mattersync run`) and to `mattersync status`; what
// goes wrong in a one-shot command is its returned error.
type cliHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	attrs []slog.Attr
}

func newCLILogger(w io.Writer) *slog.Logger {
	return slog.New(cliHandler{mu: &sync.Mutex{}, w: w})
}

func (cliHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }

func (h cliHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("mattersync: ")
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		if !a.Equal(slog.Attr{}) {
			fmt.Fprintf(&b, "; %s: %v", a.Key, a.Value.Resolve())
		}
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h cliHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h.attrs = append(h.attrs[:len(h.attrs):len(h.attrs)], as...)
	return h
}

// WithGroup is flattened: the keys alone say enough on a terminal.
func (h cliHandler) WithGroup(string) slog.Handler { return h }
