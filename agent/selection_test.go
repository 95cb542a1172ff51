package agent_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/kms"
)

// The user removes a matter from this laptop while edits in it cannot be
// uploaded (the gateway is down): the folder stays, status says why; once
// the gateway is back the edits are uploaded first, then the folder goes.
// Adding the matter back brings it back, edits included.
func TestSelectiveSyncRemovesAfterUpload(t *testing.T) {
	eachWorld(t, func(w *world) {
		t := w.t
		aliceUser := w.member(kms.RoleRW)
		bob := w.agent(w.member(kms.RoleRW))
		alice := w.runningAgent(aliceUser)
		alice.write("Draft.docx", []byte("v1"))
		eventually(t, "Draft.docx at bob", func() error { bob.sync(); return bob.hasFile("Draft.docx", []byte("v1")) })

		w.gw.Down()
		alice.write("Draft.docx", []byte("v2, not uploaded yet"))
		alice.write("Notes/New.docx", []byte("new, not uploaded yet"))
		if err := agent.ChooseMatter(alice.cfg.DataDir, w.matter, false); err != nil {
			t.Fatal(err)
		}
		eventually(t, "alice's status says why the folder stays", func() error {
			st := alice.matterStatus()
			if st.State != "leaving" || len(st.Errors) == 0 || !strings.Contains(st.Errors[0], "not removed from this laptop yet") {
				return fmt.Errorf("status %q %q", st.State, st.Errors)
			}
			return nil
		})
		if err := alice.hasFile("Draft.docx", []byte("v2, not uploaded yet")); err != nil {
			t.Fatalf("the folder went with an edit not uploaded: %v", err)
		}

		w.gw.Up()
		eventually(t, "alice's folder removed", func() error {
			if _, err := os.Stat(alice.folder); !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("folder still there (%v), status %+v", err, alice.matterStatus())
			}
			if st := alice.matterStatus(); st.State != "unselected" {
				return fmt.Errorf("state %q", st.State)
			}
			return nil
		})
		bob.sync()
		if err := bob.hasFile("Draft.docx", []byte("v2, not uploaded yet")); err != nil {
			t.Fatalf("the edit was not uploaded before the folder went: %v", err)
		}
		if err := bob.hasFile("Notes/New.docx", []byte("new, not uploaded yet")); err != nil {
			t.Fatalf("the new file was not uploaded before the folder went: %v", err)
		}
		// Nothing was deleted for everyone.
		if n := w.auditCount("file.delete"); n != 0 {
			t.Fatalf("%d deletes sent", n)
		}

		if err := agent.ChooseMatter(alice.cfg.DataDir, w.matter, true); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the matter back on alice's laptop", func() error {
			if err := alice.hasFile("Draft.docx", []byte("v2, not uploaded yet")); err != nil {
				return err
			}
			return alice.hasFile("Notes/New.docx", []byte("new, not uploaded yet"))
		})
	})
}

// The firm's default (sync_matters: none) keeps a matter off a laptop
// until the user adds it; MatterList says which are here.
func TestSelectiveSyncDefaultNone(t *testing.T) {
	eachWorld(t, func(w *world) {
		t := w.t
		alice := w.agent(w.member(kms.RoleRW))
		alice.write("Brief.docx", []byte("brief"))
		alice.sync()
		u := w.member(kms.RoleRW)
		cfg := w.config(u, t.TempDir(), t.TempDir())
		cfg.SyncMatters = agent.MatterSelection{None: true}
		bob := w.agentWith(u, cfg)
		bob.sync()
		if _, err := os.Stat(bob.folder); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("sync_matters: none, yet the folder is here: %v", err)
		}
		ms, err := bob.MatterList(t.Context())
		if err != nil || len(ms) != 1 || ms[0].Here || ms[0].Selected {
			t.Fatalf("MatterList = %+v, %v", ms, err)
		}
		if err := agent.ChooseMatter(cfg.DataDir, w.matter, true); err != nil {
			t.Fatal(err)
		}
		bob.sync()
		if err := bob.hasFile("Brief.docx", []byte("brief")); err != nil {
			t.Fatal(err)
		}
		if ms, _ := bob.MatterList(t.Context()); len(ms) != 1 || !ms[0].Here || !ms[0].Selected || ms[0].Files != 1 || ms[0].Bytes != 5 {
			t.Fatalf("MatterList after add = %+v", ms)
		}
	})
}

// A removal that failed part-way (Windows: RemoveAll stops at a document
// open in Word, after deleting the files before it) must not turn into a
// delete for the firm when retried: a leaving matter's pass never sends a
// delete, the colleague's copy stays, and the folder still goes.
func TestSelectiveSyncPartialRemovalSendsNoDelete(t *testing.T) {
	w := newFakeWorld(t)
	alice := w.agent(w.member(kms.RoleRW))
	bob := w.agent(w.member(kms.RoleRW))
	alice.write("A.docx", []byte("a"))
	alice.write("Sub/B.docx", []byte("b"))
	alice.sync()
	bob.sync()
	if err := bob.hasFile("A.docx", []byte("a")); err != nil {
		t.Fatal(err)
	}
	// What a RemoveAll that failed on Sub/B.docx leaves behind.
	if err := os.Remove(filepath.Join(alice.folder, "A.docx")); err != nil {
		t.Fatal(err)
	}
	if err := agent.ChooseMatter(alice.cfg.DataDir, w.matter, false); err != nil {
		t.Fatal(err)
	}
	alice.sync()
	if n := w.auditCount("file.delete"); n != 0 {
		t.Fatalf("the retried removal sent %d deletes", n)
	}
	bob.sync()
	if err := bob.hasFile("A.docx", []byte("a")); err != nil {
		t.Fatalf("bob's copy: %v", err)
	}
	if _, err := os.Stat(alice.folder); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("alice's folder still here (%v), status %+v", err, alice.matterStatus())
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(alice.folder), ".mattersync-leaving-"+w.matter)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the moved-away folder is still here: %v", err)
	}
}

// Files never uploaded (ignored: temp files, Word autosaves) and documents
// open in an editor (an owner file) keep the folder, status says why in
// words; once they are gone the folder goes.
func TestSelectiveSyncKeepsIgnoredAndOpen(t *testing.T) {
	w := newFakeWorld(t)
	alice := w.agent(w.member(kms.RoleRW))
	alice.write("Brief.docx", []byte("a"))
	alice.sync()
	owner := filepath.Join(alice.folder, "~$Brief.docx")
	notes := filepath.Join(alice.folder, "Research notes.tmp")
	for _, p := range []string{owner, notes, filepath.Join(alice.folder, "desktop.ini")} {
		if err := os.WriteFile(p, []byte("hours of work"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := agent.ChooseMatter(alice.cfg.DataDir, w.matter, false); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		remove string
		want   string
	}{{owner, "close Brief.docx first"}, {notes, "Research notes.tmp"}, {"", ""}} {
		alice.sync()
		st := alice.matterStatus()
		if c.want == "" {
			if _, err := os.Stat(alice.folder); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("folder still here (%v), status %+v", err, st)
			}
			break
		}
		if _, err := os.Stat(notes); err != nil {
			t.Fatalf("a file never uploaded was deleted: %v", err)
		}
		if st.State != "leaving" || len(st.Errors) == 0 || !strings.Contains(st.Errors[0], c.want) {
			t.Fatalf("status %q %q, want it to say %q", st.State, st.Errors, c.want)
		}
		if err := os.Remove(c.remove); err != nil {
			t.Fatal(err)
		}
	}
}

// A removal interrupted after the folder was moved away and before it was
// checked (a crash; a file saved into it meanwhile) puts the folder back:
// what was not uploaded is uploaded before the folder goes.
func TestSelectiveSyncInterruptedRemovalPutBack(t *testing.T) {
	w := newFakeWorld(t)
	alice := w.agent(w.member(kms.RoleRW))
	bob := w.agent(w.member(kms.RoleRW))
	alice.write("A.docx", []byte("a"))
	alice.sync()
	if err := agent.ChooseMatter(alice.cfg.DataDir, w.matter, false); err != nil {
		t.Fatal(err)
	}
	gone := filepath.Join(filepath.Dir(alice.folder), ".mattersync-leaving-"+w.matter)
	if err := os.Rename(alice.folder, gone); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(gone, "New.docx"), []byte("saved late"), 0o644); err != nil {
		t.Fatal(err)
	}
	alice.sync()
	if _, err := os.Stat(gone); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the moved-away folder is still here: %v, status %+v", err, alice.matterStatus())
	}
	bob.sync()
	if err := bob.hasFile("New.docx", []byte("saved late")); err != nil {
		t.Fatalf("the file saved into the moved-away folder: %v", err)
	}
	if err := bob.hasFile("A.docx", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if n := w.auditCount("file.delete"); n != 0 {
		t.Fatalf("%d deletes sent", n)
	}
}
