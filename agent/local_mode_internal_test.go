//go:build !windows

package agent

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A download over a copy marked read-only (0644 marked 0444) keeps the
// mark and the copy's read bits, so the restore gives back 0644, not 0600.
func TestInstallKeepsMarkedMode(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "Brief.docx")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	prev, marked, err := markReadOnly(p)
	if err != nil || !marked {
		t.Fatalf("mark: %v, %v", marked, err)
	}
	l, err := openLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	guard, err := l.lstat("Brief.docx")
	if err != nil {
		t.Fatal(err)
	}
	f, tmp, err := l.createTemp("Brief.docx")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("new"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := l.install(tmp, "Brief.docx", guard, time.Now()); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o444 {
		t.Fatalf("after the download: %v, %v; want 444 (marked, read bits kept)", fi.Mode(), err)
	}
	if err := restoreWritable(p, prev); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Fatalf("after the restore: %o, want 644", fi.Mode().Perm())
	}
}

// A symbolic link where a marked copy was is not followed: its target's
// mode stays as it is.
func TestMarkDoesNotFollowLinks(t *testing.T) {
	dir := t.TempDir()
	target, link := filepath.Join(dir, "elsewhere"), filepath.Join(dir, "Brief.docx")
	if err := os.WriteFile(target, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, marked, err := markReadOnly(link); err != nil || marked {
		t.Fatalf("mark of a link: %v, %v", marked, err)
	}
	if err := os.Chmod(target, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := restoreWritable(link, 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o444 {
		t.Fatalf("the link's target: %o, want 444 (untouched)", fi.Mode().Perm())
	}
}
