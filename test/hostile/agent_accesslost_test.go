package hostile

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/kms"
)

// Issue 21, the local copy after a wall or a removal: the folder goes
// (unsynced work quarantined first, the default on_access_lost) only when
// both witnesses agree. The gateway alone saying "not a member" (a
// compromised gateway, a proxy) does nothing while Vault still gives the
// matter; Vault alone dropping it does nothing while the gateway still
// serves it.
func TestAgentAccessLostNeedsBothWitnesses(t *testing.T) {
	e := newEnv(t)
	mallory := e.forger(e.member(kms.RoleRW))
	u := e.member(kms.RoleRW)
	bob := e.agent(u, nil)
	mallory.file("Brief.docx", []byte("brief"), 1, nil)
	bob.sync()
	intact := func(when string) {
		t.Helper()
		for rel, want := range map[string]string{"Brief.docx": "brief"} {
			if got, err := bob.read(rel); err != nil || string(got) != want {
				t.Fatalf("%s: %s = %q, %v", when, rel, got, err)
			}
		}
	}

	e.gw.setMatters() // the gateway lies: "not a member"
	bob.sync()
	intact("the gateway alone says the user lost the matter")
	e.gw.setMatters(api.Matter{ID: e.matter, Role: api.RoleWrite})
	bob.write("Draft.docx", []byte("bob's unsynced draft")) // from here on, nothing uploads it

	if _, err := e.vault.Admin.Remove(context.Background(), e.matter, u.Name); err != nil {
		t.Fatal(err)
	}
	bob.sync()
	intact("Vault alone says the user lost the matter")
	if got, err := bob.read("Draft.docx"); err != nil || string(got) != "bob's unsynced draft" {
		t.Fatalf("the draft: %q, %v", got, err)
	}

	e.gw.setMatters()
	bob.sync()
	if _, err := os.Stat(bob.folder); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("both agree, the folder is still there: %v", err)
	}
	q, _ := filepath.Glob(filepath.Join(bob.cfg.DataDir, "quarantine", "*", "*", "Draft.docx"))
	if len(q) != 1 {
		t.Fatalf("the unsynced draft is not in the quarantine: %v", q)
	}
	errs := bob.errors()
	if len(errs) != 1 || !strings.Contains(errs[0], "access removed by the firm") || !strings.Contains(errs[0], "kept for IT") {
		t.Fatalf("status: %q", errs)
	}
}
