package agent_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/kms"
)

// Issue 21: a wall or a removal left the full plaintext copy on the laptop
// unless wipe_on_revoke was set. Now on_access_lost decides, once Vault
// and the gateway both confirm: quarantine (the default) keeps unsynced
// work for IT and removes the rest, remove removes everything, keep keeps
// the folder; the trash goes in every case, and status says what happened
// in a sentence, with no stale role. Granted again, the matter comes back
// from the gateway without a single delete sent.
func TestAccessLostPolicy(t *testing.T) {
	for _, policy := range []string{"", agent.AccessLostRemove, agent.AccessLostKeep} {
		t.Run("policy="+policy, func(t *testing.T) {
			eachWorld(t, func(w *world) {
				alice := w.agent(w.member(kms.RoleRW))
				alice.write("Brief.docx", []byte("brief"))
				alice.write("Gone.docx", []byte("deleted later"))
				alice.sync()
				u := w.member(kms.RoleRW)
				cfg := w.config(u, w.t.TempDir(), w.t.TempDir())
				if policy != "" {
					cfg.OnAccessLost = policy
				}
				bob := w.agentWith(u, cfg)
				bob.sync()
				if err := os.Remove(alice.path("Gone.docx")); err != nil {
					w.t.Fatal(err)
				}
				alice.sync()
				bob.sync()
				bob.trashed("Gone.docx")
				bob.write("Drafts/New.docx", []byte("bob's unsynced draft"))

				w.v.Remove(w.t, w.matter, u)
				bob.sync()

				st := bob.matterStatus()
				if st.State != "removed" || st.Role != "" || len(st.Errors) != 1 || !strings.Contains(st.Errors[0], "access removed by the firm on "+time.Now().Format("2006-01-02")[:4]) {
					w.t.Fatalf("status after the removal: %+v", st)
				}
				if _, err := os.Stat(filepath.Join(bob.folder, ".mattersync", "trash")); !errors.Is(err, fs.ErrNotExist) {
					w.t.Fatalf("the trash of a lost matter is still there: %v", err)
				}
				quarantined := filepath.Join(bob.cfg.DataDir, "quarantine", "*", filepath.Base(bob.folder), "Drafts", "New.docx")
				q, _ := filepath.Glob(strings.ReplaceAll(quarantined, "[", "[[]"))
				_, ferr := os.Stat(bob.folder)
				switch policy {
				case agent.AccessLostKeep:
					bob.wantFile("Brief.docx", []byte("brief"))
					bob.wantFile("Drafts/New.docx", []byte("bob's unsynced draft"))
					if !strings.Contains(st.Errors[0], "kept") || len(q) != 0 {
						w.t.Fatalf("keep: %q, quarantine %v", st.Errors[0], q)
					}
				case agent.AccessLostRemove:
					if !errors.Is(ferr, fs.ErrNotExist) || len(q) != 0 || !strings.Contains(st.Errors[0], "1 unsynced files") {
						w.t.Fatalf("remove: folder %v, quarantine %v, status %q", ferr, q, st.Errors[0])
					}
				default:
					if !errors.Is(ferr, fs.ErrNotExist) {
						w.t.Fatalf("quarantine: the folder is still there: %v", ferr)
					}
					if len(q) != 1 || !strings.Contains(st.Errors[0], "your unsynced edits (1 files) were kept for IT in") {
						w.t.Fatalf("quarantine: %v, status %q", q, st.Errors[0])
					}
					if b, err := os.ReadFile(q[0]); err != nil || string(b) != "bob's unsynced draft" {
						w.t.Fatalf("quarantined draft = %q, %v", b, err)
					}
				}

				// Granted again: everything comes back, nothing is deleted.
				w.v.Grant(w.t, w.matter, u, kms.RoleRW)
				if sum := bob.sync(); sum.Deleted != 0 {
					w.t.Fatalf("granted again, bob's agent deleted %d files", sum.Deleted)
				}
				bob.wantFile("Brief.docx", []byte("brief"))
				alice.sync()
				alice.wantFile("Brief.docx", []byte("brief"))
				if st := bob.matterStatus(); st.State != "idle" || st.Role != "rw" {
					w.t.Fatalf("granted again: %+v", st)
				}
			})
		})
	}
}
