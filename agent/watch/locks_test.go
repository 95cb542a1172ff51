package watch

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestIsLockFile(t *testing.T) {
	for name, want := range map[string]bool{
		"~$Brief.docx": true, "~$cument.docx": true, ".~lock.Brief.odt#": true,
		"~$": false, ".~lock.#": false, ".~lock.Brief.odt": false, "Brief.docx": false, "~WRL0001.tmp": false,
	} {
		if got := IsLockFile(name); got != want {
			t.Errorf("IsLockFile(%q) = %v, want %v", name, got, want)
		}
	}
}

// Owner and lock files go to the LockFiles channel (created and removed),
// never into a batch.
func TestWatcherLockFiles(t *testing.T) {
	root := t.TempDir()
	ig, _ := NewIgnore(DefaultIgnore)
	w, err := New(root, 50*time.Millisecond, ig, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	locks := make(chan string, 16)
	w.LockFiles(locks)
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Batch, 16)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, out) }()
	defer func() { cancel(); <-done }()

	owner := filepath.Join(root, "~$Brief.docx")
	lo := filepath.Join(root, ".~lock.Notes.odt#")
	for _, p := range []string{owner, lo} {
		if err := os.WriteFile(p, []byte("alice"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(owner); err != nil {
		t.Fatal(err)
	}
	var got []string
	deadline := time.After(10 * time.Second)
	for !slices.Contains(got, owner) || !slices.Contains(got, lo) || len(got) < 3 {
		select {
		case p := <-locks:
			got = append(got, p)
		case b := <-out:
			t.Fatalf("a lock file reached a batch: %v", b.Paths)
		case <-deadline:
			t.Fatalf("lock events = %v", got)
		}
	}
}
