package hostile

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/kms"
)

// Issue 21: a revoked user's laptop kept every deleted client file in the
// matters' trash forever. Without wipe_on_revoke the folders stay (IT
// decides), but the trash is emptied, and only once Vault confirms: the
// gateway's word alone empties nothing.
func TestAgentRevokedTrashEmptiedWhenVaultConfirms(t *testing.T) {
	e := newEnv(t)
	mallory := e.forger(e.member(kms.RoleRW))
	u := e.member(kms.RoleRW)
	bob := e.agent(u, nil)
	mallory.file("Brief.docx", []byte("brief"), 1, nil)
	mallory.file("Gone.docx", []byte("deleted by a colleague"), 1, nil)
	bob.sync()
	mallory.delete("Gone.docx", 2)
	bob.sync()
	trash := filepath.Join(bob.folder, ".mattersync", "trash")
	pattern := filepath.Join(strings.ReplaceAll(trash, "[", "[[]"), "*", "Gone.docx")
	if got, _ := filepath.Glob(pattern); len(got) != 1 {
		t.Fatalf("Gone.docx not in the trash: %v", got)
	}

	e.gw.setRevoked(true)
	if _, err := bob.SyncOnce(context.Background()); !errors.Is(err, agent.ErrRevoked) {
		t.Fatalf("sync = %v, want ErrRevoked", err)
	}
	if got, _ := filepath.Glob(pattern); len(got) != 1 {
		t.Fatalf("the gateway's word alone emptied the trash: %v", got)
	}
	if _, err := e.vault.Admin.Revoke(context.Background(), u.Name, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.SyncOnce(context.Background()); !errors.Is(err, agent.ErrRevoked) {
		t.Fatalf("sync after Vault revoke = %v", err)
	}
	if _, err := os.Stat(trash); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the trash is still there after a confirmed revocation: %v", err)
	}
	if got, err := bob.read("Brief.docx"); err != nil || string(got) != "brief" {
		t.Fatalf("without wipe_on_revoke the folder must stay: %q, %v", got, err)
	}
}
