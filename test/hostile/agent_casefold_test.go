package hostile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/mattersync/mattersync/kms"
)

// Issue 19, case-insensitive delete. On a Windows or macOS disk, an
// insider publishes "brief.docx" with the content of the synced
// "Brief.docx", then deletes it: the victim's agent found "Brief.docx"
// under the deleted name, trashed it, and its next scan sent a delete of
// "Brief.docx" for everyone, sealed under the victim's name. The victim's
// disk is emulated case-insensitive (agent.FoldCase) unless the test
// machine's disk folds case itself.
func TestAgentCaseInsensitiveDelete(t *testing.T) {
	e := newEnv(t)
	mallory := e.forger(e.member(kms.RoleRW))
	bob := e.agent(e.member(kms.RoleRW), nil)
	if err := os.MkdirAll(bob.cfg.Root, 0o700); err != nil {
		t.Fatal(err)
	}
	probe := filepath.Join(bob.cfg.Root, "CaseProbe")
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(bob.cfg.Root, "caseprobe")); err != nil {
		bob.FoldCase()
	}
	os.Remove(probe)

	brief := []byte("the brief")
	mallory.file("Brief.docx", brief, 1, nil)
	bob.sync()
	mallory.file("brief.docx", brief, 1, nil)
	bob.sync()
	mallory.delete("brief.docx", 2)
	bob.sync()
	bob.sync()
	if got, err := bob.read("Brief.docx"); err != nil || string(got) != "the brief" {
		t.Fatalf("Brief.docx = %q, %v: the original was taken for the deleted copy", got, err)
	}
	if n := e.gw.hit("DELETE /v1/matters/{m}/files/{f}"); n != 0 {
		t.Fatalf("the agent sent %d deletes", n)
	}
	if _, err := os.Stat(filepath.Join(bob.folder, ".mattersync", "trash")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("something went to the trash: %v", err)
	}
}
