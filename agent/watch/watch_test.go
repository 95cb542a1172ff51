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

func TestIgnore(t *testing.T) {
	ig, err := NewIgnore(DefaultIgnore)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]bool{
		"Brief.docx":                 false,
		"~$Brief.docx":               true,
		"~WRL0001.tmp":               true,
		"budget.TMP":                 true,
		".~lock.Brief.odt#":          true,
		".DS_Store":                  true,
		"thumbs.db":                  true,
		"Desktop.ini":                true,
		"a/b/.mattersync/trash/x":    true,
		"a/.mattersync-tmp-123":      true,
		"Notes on ~$ handling.txt":   false,
		"Pleadings/2026/Motion.pdf":  false,
		"Pleadings/~$Motion.docx":    true,
		"._Motion.docx":              true,
		"Correspondence/desktop.ini": true,
	}
	for p, want := range cases {
		if got := ig.MatchPath(p); got != want {
			t.Errorf("MatchPath(%q) = %v, want %v", p, got, want)
		}
	}
	for _, bad := range []string{"", "a/b", `a\b`, "[z-"} {
		if _, err := NewIgnore([]string{bad}); err == nil {
			t.Errorf("NewIgnore(%q) accepted a bad pattern", bad)
		}
	}
}

// next waits for one batch; the timeout only bounds a hung test.
func next(t *testing.T, ch <-chan Batch) Batch {
	t.Helper()
	select {
	case b := <-ch:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("no batch within 10s")
		return Batch{}
	}
}

func TestWatcherDebouncesAndFollowsNewFolders(t *testing.T) {
	root := t.TempDir()
	ig, _ := NewIgnore(DefaultIgnore)
	w, err := New(root, 100*time.Millisecond, ig, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Batch)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, out) }()
	defer func() { cancel(); <-done }()

	// Many writes to one file and an ignored lock file arrive as one batch
	// naming the file once and not the lock file.
	f := filepath.Join(root, "Brief.docx")
	for i := range 20 {
		if err := os.WriteFile(f, []byte{byte(i)}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "~$Brief.docx"), []byte("lock"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := next(t, out)
	if !slices.Equal(b.Paths, []string{f}) {
		t.Fatalf("batch = %v, want exactly [%s]", b.Paths, f)
	}

	// A new folder is watched: a file created inside it later is reported.
	sub := filepath.Join(root, "Pleadings", "2026")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	next(t, out) // the folder creation itself
	g := filepath.Join(sub, "Motion.pdf")
	if err := os.WriteFile(g, []byte("%PDF"), 0o644); err != nil {
		t.Fatal(err)
	}
	for {
		b = next(t, out)
		if slices.Contains(b.Paths, g) {
			break
		}
	}
}
