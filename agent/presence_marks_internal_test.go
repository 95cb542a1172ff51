//go:build !windows

package agent

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mattersync/mattersync/agent/index"
)

// A mark a crashed run left stays read-only until the first presence list
// only while it was confirmed recently: one older than two TTLs and a
// minute is restored even if no list ever comes (offline, or a gateway
// without presence), and an agent without presence restores every one.
func TestPresenceLeftMarks(t *testing.T) {
	dir := t.TempDir()
	idx, err := index.Open(context.Background(), filepath.Join(dir, "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	a := &Agent{cfg: Config{DataDir: dir, Root: dir, PresenceTTL: 90 * time.Second}, idx: idx,
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), board: &statusBoard{}}
	recent, old := filepath.Join(dir, "Recent.docx"), filepath.Join(dir, "Old.docx")
	for _, p := range []string{recent, old} {
		if err := os.WriteFile(p, []byte("x"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	save := func(marks []*fileMark) {
		b, _ := json.Marshal(marks)
		if err := WriteFileAtomic(filepath.Join(dir, presenceMarksFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	save([]*fileMark{
		{Path: recent, Matter: "m", FileID: "f1", Prev: 0o644, Confirmed: time.Now().Add(-time.Minute)},
		{Path: old, Matter: "m", FileID: "f2", Prev: 0o644, Confirmed: time.Now().Add(-time.Hour)},
	})
	mode := func(p string) os.FileMode {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	p := newPresence(a, nil)
	p.loadMarks()
	p.reconcile(context.Background(), false) // no list yet
	if m := mode(old); m != 0o644 {
		t.Errorf("a mark confirmed an hour ago, no list since: %o, want 644", m)
	}
	if m := mode(recent); m != 0o444 {
		t.Errorf("a mark confirmed a minute ago, before the first list: %o, want 444 (kept)", m)
	}

	// Without presence at all, every left mark is restored.
	a.restoreLeftMarks(context.Background())
	if m := mode(recent); m != 0o644 {
		t.Errorf("agent without presence: %o, want 644", m)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, presenceMarksFile)); string(b) != "[]" {
		t.Errorf("marks left saved: %s", b)
	}
}
