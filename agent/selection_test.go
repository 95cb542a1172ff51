package agent_test

import (
	"errors"
	"fmt"
	"os"
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
