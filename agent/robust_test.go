package agent_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// A deleted index is rebuilt from the disk and the gateway: nothing is
// uploaded again, no conflict copy is made, nothing is lost.
func TestIndexRebuild(t *testing.T) {
	w := newWorld(t)
	alice := w.agent(w.member(kms.RoleRW))
	bobUser := w.member(kms.RoleRW)
	root := t.TempDir()
	bob := w.agentAt(bobUser, root, t.TempDir())
	alice.write("Brief.docx", []byte("brief v1"))
	alice.write("Exhibits/A.pdf", []byte("exhibit A"))
	alice.sync()
	bob.sync()
	bob.write("Bob's notes.txt", []byte("notes"))
	bob.sync()

	// bob's laptop loses its index (a new data dir) but keeps its files,
	// and one file was edited meanwhile.
	bob.write("Exhibits/A.pdf", []byte("exhibit A, annotated offline"))
	bob2 := w.agentAt(bobUser, root, t.TempDir())
	sum := bob2.sync()
	if sum.Conflicts != 1 || sum.Uploaded != 1 {
		// Only the edited file differs from the gateway: it is kept as a
		// conflict copy (never overwritten) and uploaded as such.
		t.Fatalf("rebuild: %+v", sum)
	}
	for rel, want := range map[string]string{"Brief.docx": "brief v1", "Bob's notes.txt": "notes", "Exhibits/A.pdf": "exhibit A"} {
		if got, err := bob2.read(rel); err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", rel, got, err, want)
		}
	}
	if again := bob2.sync(); again.Uploaded+again.Downloaded+again.Conflicts != 0 {
		t.Fatalf("a second pass after the rebuild still did work: %+v", again)
	}
}

// A full disk is a clear problem with the file that did not fit; the old
// local copy is untouched, no partial file is left, and the rest syncs.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	w := newWorld(t)
	alice := w.agent(w.member(kms.RoleRW))
	root := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", root).CombinedOutput(); err != nil {
		if testenv.InCI() {
			t.Fatalf("mount tmpfs: %v: %s", err, out)
		}
		t.Skipf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", root).Run() })
	bob := w.agentAt(w.member(kms.RoleRW), root, t.TempDir())
	alice.write("Brief.txt", []byte("brief v1"))
	alice.sync()
	bob.sync()

	big := make([]byte, 4<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(r.Uint32())
	}
	alice.write("Brief.txt", big) // does not fit on bob's disk
	alice.write("Small.txt", []byte("fits"))
	alice.sync()
	sum := bob.sync()
	if got, _ := bob.read("Brief.txt"); !bytes.Equal(got, []byte("brief v1")) {
		t.Fatalf("the old copy was touched: %d bytes", len(got))
	}
	if got, _ := bob.read("Small.txt"); string(got) != "fits" {
		t.Fatalf("the rest did not sync: %q", got)
	}
	errs := strings.Join(bob.Status().Matters[0].Errors, "\n")
	if !strings.Contains(errs, "no space left") {
		t.Fatalf("no clear error: %q (summary %+v)", errs, sum)
	}
	leftovers, _ := filepath.Glob(filepath.Join(strings.ReplaceAll(bob.folder, "[", "[[]"), ".mattersync-tmp-*"))
	if len(leftovers) != 0 {
		t.Fatalf("partial files left: %v", leftovers)
	}
}

// When IT revokes a user, the gateway answers "revoked": the agent stops
// and drops its keys. Under wipe_on_revoke it removes the local matter
// folders once Vault refuses its login too (the gateway's word alone never
// deletes anything); by default it keeps them.
func TestRevokedAgentWipes(t *testing.T) {
	w := newWorld(t)
	w.seedBrief()
	for _, wipe := range []bool{false, true} {
		u, b := w.syncedMember(wipe)
		w.deny(u)
		_, err := b.SyncOnce(context.Background())
		if !errors.Is(err, agent.ErrRevoked) {
			t.Fatalf("sync after deny: %v, want ErrRevoked", err)
		}
		if st := b.Status(); st.State != "revoked" {
			t.Fatalf("status %q, want revoked", st.State)
		}
		b.wantWiped(false)
		w.disable(u)
		if _, err := b.SyncOnce(context.Background()); !errors.Is(err, agent.ErrRevoked) {
			t.Fatalf("sync after Vault revoke: %v, want ErrRevoked", err)
		}
		b.wantWiped(wipe)
	}
}

// When Vault refuses the login before the gateway is asked (the usual order
// after `user revoke`), the agent still applies wipe_on_revoke if the
// gateway confirms the revocation; if only Vault refuses (an expired login),
// files stay.
func TestVaultRefusalWipesOnlyIfGatewayConfirms(t *testing.T) {
	w := newWorld(t)
	w.seedBrief()
	for _, confirmed := range []bool{false, true} {
		u, b := w.syncedMember(true)
		if confirmed {
			w.deny(u)
		}
		w.disable(u) // Vault refuses from now on
		if _, err := b.SyncOnce(context.Background()); !errors.Is(err, agent.ErrRevoked) {
			t.Fatalf("confirmed=%v: sync = %v, want ErrRevoked", confirmed, err)
		}
		b.wantWiped(confirmed)
	}
}

// A file that could not be written stays a problem across a restart of the
// agent, and arrives once the obstacle is gone.
func TestProblemSurvivesRestart(t *testing.T) {
	w := newWorld(t)
	alice := w.agent(w.member(kms.RoleRW))
	bobUser := w.member(kms.RoleRW)
	root, data := t.TempDir(), t.TempDir()
	bob := w.agentAt(bobUser, root, data)
	bob.sync()
	if err := os.MkdirAll(bob.path("Notes/keep"), 0o755); err != nil {
		t.Fatal(err)
	}
	alice.write("Notes", []byte("a file named Notes"))
	alice.sync()
	bob.sync()
	// Restart: a new agent on the same folder and index.
	bob2 := w.agentAt(bobUser, root, data)
	bob2.sync()
	if !hasProblem(bob2.Status().Matters[0].Errors, "not applied") {
		t.Fatalf("problem forgotten after restart: %q", bob2.Status().Matters[0].Errors)
	}
	if err := os.RemoveAll(bob2.path("Notes")); err != nil {
		t.Fatal(err)
	}
	bob2.sync()
	if got, _ := bob2.read("Notes"); string(got) != "a file named Notes" {
		t.Fatalf("after the folder is gone: %q", got)
	}
	if errs := bob2.Status().Matters[0].Errors; len(errs) != 0 {
		t.Fatalf("problem not cleared: %q", errs)
	}
}

// After an index rebuild, a local copy of a file a colleague deleted
// meanwhile is not uploaded again (which would undelete it for everyone);
// a copy edited locally is (edit beats delete).
func TestRebuildDoesNotUndelete(t *testing.T) {
	w := newWorld(t)
	alice := w.agent(w.member(kms.RoleRW))
	bobUser := w.member(kms.RoleRW)
	root := t.TempDir()
	bob := w.agentAt(bobUser, root, t.TempDir())
	alice.write("Old.txt", []byte("old"))
	alice.write("Edited.txt", []byte("v1"))
	alice.sync()
	bob.sync()
	for _, f := range []string{"Old.txt", "Edited.txt"} {
		if err := os.Remove(alice.path(f)); err != nil {
			t.Fatal(err)
		}
	}
	alice.sync()
	bob.write("Edited.txt", []byte("v1 plus bob's offline edit"))
	bob2 := w.agentAt(bobUser, root, t.TempDir()) // bob's index is lost
	bob2.sync()
	alice.sync()
	if _, err := alice.read("Old.txt"); err == nil {
		t.Fatal("the rebuilt index undeleted Old.txt")
	}
	if _, err := bob2.read("Old.txt"); err == nil {
		t.Fatal("bob still has the deleted Old.txt")
	}
	if got, _ := alice.read("Edited.txt"); string(got) != "v1 plus bob's offline edit" {
		t.Fatalf("bob's edit did not beat the delete: %q", got)
	}
}

// A member removed from a matter stops syncing it; the folder stays by
// default and is removed under wipe_on_revoke (the gateway agreeing too).
func TestLostMatter(t *testing.T) {
	w := newWorld(t)
	w.seedBrief()
	for _, wipe := range []bool{false, true} {
		u, b := w.syncedMember(wipe)
		if _, err := w.vault.Admin.Remove(context.Background(), w.matter, u.Name); err != nil {
			t.Fatal(err)
		}
		b.sync()
		var state string
		for _, m := range b.Status().Matters {
			if m.ID == w.matter {
				state = m.State
			}
		}
		if state != "removed" {
			t.Fatalf("wipe=%v: matter state %q, want removed", wipe, state)
		}
		b.wantWiped(wipe)
	}
}

// seedBrief has a first member commit Brief.docx, so later members have a
// synced file to lose or keep.
func (w *world) seedBrief() {
	alice := w.agent(w.member(kms.RoleRW))
	alice.write("Brief.docx", []byte("brief"))
	alice.sync()
}

// syncedMember adds an rw member whose agent runs with wipe_on_revoke set
// to wipe and has synced once (it holds Brief.docx).
func (w *world) syncedMember(wipe bool) (kmstest.User, *testAgent) {
	w.t.Helper()
	u := w.member(kms.RoleRW)
	cfg := w.config(u, w.t.TempDir(), w.t.TempDir())
	cfg.WipeOnRevoke = wipe
	if wipe {
		_, pub, err := gateway.MarshalKeys(w.gw.SigningKey)
		if err != nil {
			w.t.Fatal(err)
		}
		cfg.Gateway.PublicKey = string(pub)
	}
	if !wipe {
		cfg.OnAccessLost = agent.AccessLostKeep
	}
	b := w.agentWith(u, cfg)
	b.sync()
	if got, _ := b.read("Brief.docx"); string(got) != "brief" {
		w.t.Fatalf("%s has not synced Brief.docx: %q", u.Name, got)
	}
	return u, b
}

// wantWiped checks that Brief.docx is gone (wiped) or still there.
func (a *testAgent) wantWiped(wiped bool) {
	a.w.t.Helper()
	_, err := os.Stat(a.path("Brief.docx"))
	if wiped != errors.Is(err, os.ErrNotExist) {
		a.w.t.Fatalf("%s: want wiped=%v, Brief.docx stat = %v", a.user.Name, wiped, err)
	}
}
