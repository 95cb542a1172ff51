package hostile

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/kms"
)

// On a machine with several accounts, matter folders and files the agent
// creates must be the user's alone: before, they were 0755/0644 and any
// local account could read every synced document (and the index naming
// them). Windows folders inherit the profile's ACL instead.
func TestLocalCopiesArePrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("mode bits: Unix only")
	}
	e := newEnv(t)
	mallory := e.forger(e.member(kms.RoleRW))
	bob := e.agent(e.member(kms.RoleRW), nil)
	// A root the user made earlier with default permissions is tightened.
	if err := os.MkdirAll(bob.cfg.Root, 0o755); err != nil {
		t.Fatal(err)
	}
	mallory.file("Pleadings/Brief.docx", []byte("privileged"), 1, nil)
	mallory.file("Old.txt", []byte("old"), 1, nil)
	bob.sync()
	mallory.delete("Old.txt", 2)
	// bob's word processor saves with the usual umask.
	if err := os.Chmod(bob.path("Pleadings/Brief.docx"), 0o644); err != nil {
		t.Fatal(err)
	}
	bob.write("Pleadings/Brief.docx", []byte("bob's draft"))
	mallory.file("Pleadings/Brief.docx", []byte("mallory's v2"), 2, nil) // bob's draft becomes a conflict copy
	bob.sync()

	var checked int
	check := func(p string, want fs.FileMode) {
		t.Helper()
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got&0o077 != 0 || got&want != want {
			t.Errorf("%s: mode %v, want %v (nothing for group or others)", p, got, want)
		}
		checked++
	}
	check(bob.cfg.Root, 0o700)
	check(bob.cfg.DataDir, 0o700)
	check(filepath.Join(bob.cfg.DataDir, "index.db"), 0o600)
	err := filepath.WalkDir(bob.folder, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			check(p, 0o700)
		} else {
			check(p, 0o600)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The walk saw the download, the conflict copy and the trash.
	var names []string
	filepath.WalkDir(bob.folder, func(p string, d fs.DirEntry, err error) error { names = append(names, d.Name()); return nil })
	all := strings.Join(names, "|")
	for _, want := range []string{"Brief.docx", "conflict", "trash", "Old.txt"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in the matter folder (%s): the test did not reach it", want, all)
		}
	}
}
