package agent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/kms"
)

func hasNotice(list []string, subs ...string) bool {
	for _, n := range list {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(n, s)
		}
		if ok {
			return true
		}
	}
	return false
}

// Issue 21: a lawyer renames a matter folder. The agent used to recreate
// the original, download everything again, and leave the edits made in the
// renamed copy unsynced forever. Now the name is put back, the edits are
// uploaded, nothing is downloaded again, and status says what happened.
// Files and folders put directly in Matters/ are reported, not ignored.
func TestRenamedMatterFolderAndStrays(t *testing.T) {
	eachWorld(t, func(w *world) {
		alice := w.agent(w.member(kms.RoleRW))
		ub := w.member(kms.RoleRW)
		bob, blog := w.loggedAgent(ub, w.config(ub, w.t.TempDir(), w.t.TempDir()))
		bob.sync()
		alice.write("Brief.docx", []byte("brief v1"))
		alice.write("Exhibits/A.pdf", []byte("exhibit A"))
		alice.sync()
		bob.sync()

		renamed := filepath.Join(bob.cfg.Root, "Smith - my copy")
		if err := os.Rename(bob.folder, renamed); err != nil {
			w.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(renamed, "Brief.docx"), []byte("brief v2, edited in the renamed folder"), 0o600); err != nil {
			w.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bob.cfg.Root, "Loose notes.txt"), []byte("notes"), 0o600); err != nil {
			w.t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(bob.cfg.Root, "Scans"), 0o700); err != nil {
			w.t.Fatal(err)
		}
		sum := bob.sync()
		if sum.Downloaded != 0 || sum.Uploaded != 1 {
			w.t.Fatalf("after the rename: %+v, want the edit uploaded and nothing downloaded", sum)
		}
		if _, err := os.Stat(renamed); !os.IsNotExist(err) {
			w.t.Fatalf("the renamed folder is still there: %v", err)
		}
		bob.wantFile("Brief.docx", []byte("brief v2, edited in the renamed folder"))
		bob.wantFile("Exhibits/A.pdf", []byte("exhibit A"))
		alice.sync()
		alice.wantFile("Brief.docx", []byte("brief v2, edited in the renamed folder"))

		st := bob.Status()
		for _, want := range [][]string{{"Smith - my copy", "put the name", "kept your edits"}, {"Loose notes.txt", "not synced"}, {"Scans", "not synced"}} {
			if !hasNotice(st.Notices, want...) {
				w.t.Errorf("status notices %q lack %q", st.Notices, want)
			}
		}
		if len(blog.lines("renamed", "matter="+w.matter)) == 0 || len(blog.lines("in no matter", "Loose notes.txt")) == 0 {
			w.t.Errorf("not logged:\n%s", blog)
		}
	})
}

// A matter folder the user deleted comes back from the gateway; it is
// never taken for "delete every file" (the listing of matters used to make
// the folder again, empty, before the pass looked).
func TestDeletedMatterFolderComesBack(t *testing.T) {
	eachWorld(t, func(w *world) {
		alice := w.agent(w.member(kms.RoleRW))
		bob := w.agent(w.member(kms.RoleRW))
		alice.write("Brief.docx", []byte("brief"))
		alice.sync()
		bob.sync()
		if err := os.RemoveAll(bob.folder); err != nil {
			w.t.Fatal(err)
		}
		if sum := bob.sync(); sum.Deleted != 0 || sum.Downloaded != 1 {
			w.t.Fatalf("after the folder was deleted: %+v", sum)
		}
		bob.wantFile("Brief.docx", []byte("brief"))
		alice.sync()
		alice.wantFile("Brief.docx", []byte("brief"))
	})
}
