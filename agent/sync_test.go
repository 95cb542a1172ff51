package agent_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/kms"
)

// The everyday sync paths (upload, download, conflict, delete, the offline
// queue), each written once and run in a fake world (go test -short, in
// seconds) and a real one (Vault, MinIO).

// marker is in every file's content: the storage must never hold it.
const marker = "PRIVILEGED-AND-CONFIDENTIAL-7d1e"

// content returns n bytes of deterministic noise carrying marker.
func content(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	copy(b, marker)
	return b
}

// Files made on one laptop arrive on the other, an edit there comes back,
// a settled pair does no more work, and the storage never holds a name or
// content in clear.
func TestSyncUpAndDown(t *testing.T) {
	eachWorld(t, func(w *world) {
		alice := w.agent(w.member(kms.RoleRW))
		bob := w.agent(w.member(kms.RoleRW))
		files := map[string][]byte{
			"Brief.docx":        []byte(marker + " brief v1"),
			"Exhibits/A.pdf":    []byte(marker + " exhibit A"),
			"Exhibits/Big.bin":  content(1, 5<<20), // several chunks
			"Notes/Empty notes": {},
		}
		for rel, b := range files {
			alice.write(rel, b)
		}
		if sum := alice.sync(); sum.Uploaded != len(files) {
			w.t.Fatalf("alice uploaded %+v, want %d files", sum, len(files))
		}
		if sum := bob.sync(); sum.Downloaded != len(files) {
			w.t.Fatalf("bob downloaded %+v, want %d files", sum, len(files))
		}
		for rel, want := range files {
			bob.wantFile(rel, want)
		}

		v2 := []byte(marker + " brief v2, edited by bob")
		bob.write("Brief.docx", v2)
		if sum := bob.sync(); sum.Uploaded != 1 {
			w.t.Fatalf("bob's edit: %+v", sum)
		}
		if sum := alice.sync(); sum.Downloaded != 1 {
			w.t.Fatalf("alice after bob's edit: %+v", sum)
		}
		alice.wantFile("Brief.docx", v2)
		for _, a := range []*testAgent{alice, bob} {
			if sum := a.sync(); sum.Uploaded+sum.Downloaded+sum.Deleted+sum.Conflicts != 0 {
				w.t.Fatalf("%s: a settled folder still did work: %+v", a.user.Name, sum)
			}
		}

		objs := w.objects()
		if len(objs) == 0 {
			w.t.Fatal("nothing reached the storage")
		}
		for key, b := range objs {
			for _, clear := range []string{marker, "Brief", "Exhibits"} {
				if strings.Contains(key, clear) || bytes.Contains(b, []byte(clear)) {
					w.t.Fatalf("object %s holds %q in clear", key, clear)
				}
			}
		}
	})
}

// Concurrent edits keep both versions: the one that reached the gateway
// first keeps the name, the other becomes a conflict copy naming its
// author and device, on both laptops. Identical edits make no conflict.
func TestSyncConflict(t *testing.T) {
	eachWorld(t, func(w *world) {
		alice := w.agent(w.member(kms.RoleRW))
		bob := w.agent(w.member(kms.RoleRW))
		alice.write("Brief.docx", []byte("brief v1"))
		alice.write("Same.txt", []byte("same v1"))
		alice.sync()
		bob.sync()

		aliceEdit, bobEdit := []byte("brief v2 by alice"), []byte("brief v2 by bob, offline on a plane")
		alice.write("Brief.docx", aliceEdit)
		bob.write("Brief.docx", bobEdit)
		alice.write("Same.txt", []byte("the same edit on both"))
		bob.write("Same.txt", []byte("the same edit on both"))
		alice.sync()
		if sum := bob.sync(); sum.Conflicts != 1 {
			w.t.Fatalf("bob: %+v, want one conflict", sum)
		}
		alice.sync()
		for _, a := range []*testAgent{alice, bob} {
			a.wantFile("Brief.docx", aliceEdit)
			a.wantFile("Same.txt", []byte("the same edit on both"))
			cs := a.conflictCopies()
			if len(cs) != 1 || !strings.HasPrefix(cs[0], "Brief (conflict, ") {
				w.t.Fatalf("%s: conflict copies %q, want one of Brief", a.user.Name, cs)
			}
			if !strings.Contains(cs[0], bob.user.Name) || !strings.Contains(cs[0], bob.cfg.DeviceName) {
				w.t.Fatalf("conflict copy %q does not name bob and his device", cs[0])
			}
			a.wantFile(cs[0], bobEdit)
		}
		// bob's record of the conflict names alice, not her entity ID.
		idx, err := index.Open(context.Background(), filepath.Join(bob.cfg.DataDir, "index.db"))
		if err != nil {
			w.t.Fatal(err)
		}
		defer idx.Close()
		recs, err := idx.Conflicts(context.Background())
		if err != nil || len(recs) != 1 || !strings.Contains(recs[0].Reason, " "+alice.user.Name+" ") || strings.Contains(recs[0].Reason, alice.user.EntityID) {
			w.t.Fatalf("bob's conflict records %+v (%v): want one naming %s", recs, err, alice.user.Name)
		}
	})
}

// A delete reaches the other laptop, where the file goes to the matter's
// trash rather than away; an edit made meanwhile beats the delete.
func TestSyncDelete(t *testing.T) {
	eachWorld(t, func(w *world) {
		alice := w.agent(w.member(kms.RoleRW))
		bob := w.agent(w.member(kms.RoleRW))
		for _, rel := range []string{"Old.txt", "Drafts/Gone.txt", "Keep.txt"} {
			alice.write(rel, []byte(rel+" v1"))
		}
		alice.sync()
		bob.sync()

		for _, rel := range []string{"Old.txt", "Drafts/Gone.txt", "Keep.txt"} {
			if err := os.Remove(alice.path(rel)); err != nil {
				w.t.Fatal(err)
			}
		}
		keep := []byte("Keep.txt v2: bob's edit beats alice's delete")
		bob.write("Keep.txt", keep)
		if sum := alice.sync(); sum.Deleted != 3 {
			w.t.Fatalf("alice's deletes: %+v", sum)
		}
		if sum := bob.sync(); sum.Deleted != 2 {
			w.t.Fatalf("bob after alice's deletes: %+v, want 2 deleted", sum)
		}
		for _, rel := range []string{"Old.txt", "Drafts/Gone.txt"} {
			if _, err := bob.read(rel); !errors.Is(err, fs.ErrNotExist) {
				w.t.Fatalf("bob still has %s: %v", rel, err)
			}
			if got := bob.trashed(rel); !bytes.Equal(got, []byte(rel+" v1")) {
				w.t.Fatalf("bob's trash holds %q for %s", got, rel)
			}
		}
		bob.wantFile("Keep.txt", keep)
		alice.sync()
		alice.wantFile("Keep.txt", keep)
		if _, err := alice.read("Old.txt"); !errors.Is(err, fs.ErrNotExist) {
			w.t.Fatalf("Old.txt came back at alice: %v", err)
		}
	})
}

// With the gateway down, a pass fails without losing anything and local
// changes wait in the folder; once it is back, the next pass sends them
// all and the other laptop gets them.
func TestSyncOfflineQueue(t *testing.T) {
	eachWorld(t, func(w *world) {
		alice := w.agent(w.member(kms.RoleRW))
		bob := w.agent(w.member(kms.RoleRW))
		alice.write("Brief.docx", []byte("brief v1"))
		alice.write("Old.txt", []byte("old"))
		alice.sync()
		bob.sync()

		w.gw.Down()
		alice.write("New.txt", []byte("written offline"))
		alice.write("Brief.docx", []byte("brief v2, edited offline"))
		if err := os.Remove(alice.path("Old.txt")); err != nil {
			w.t.Fatal(err)
		}
		for range 2 { // a retry while down changes nothing either
			_, err := alice.SyncOnce(context.Background())
			if err == nil || errors.Is(err, agent.ErrRevoked) {
				w.t.Fatalf("sync with the gateway down: %v, want an error that is not revocation", err)
			}
		}
		if st := alice.matterStatus(); st.State != "error" || len(st.Errors) == 0 {
			w.t.Fatalf("status with the gateway down: %+v", st)
		}
		alice.wantFile("New.txt", []byte("written offline"))
		alice.wantFile("Brief.docx", []byte("brief v2, edited offline"))

		w.gw.Up()
		if sum := alice.sync(); sum.Uploaded != 2 || sum.Deleted != 1 {
			w.t.Fatalf("alice back online: %+v, want 2 uploaded, 1 deleted", sum)
		}
		if st := alice.matterStatus(); st.State != "idle" || len(st.Errors) != 0 {
			w.t.Fatalf("status back online: %+v", st)
		}
		bob.sync()
		bob.wantFile("New.txt", []byte("written offline"))
		bob.wantFile("Brief.docx", []byte("brief v2, edited offline"))
		if _, err := bob.read("Old.txt"); !errors.Is(err, fs.ErrNotExist) {
			w.t.Fatalf("bob still has Old.txt: %v", err)
		}
	})
}

// A running agent (watcher, per-matter loop, back-off) queues a change
// made while the gateway is down and sends it once the gateway is back,
// without anyone asking.
func TestRunningAgentOfflineQueue(t *testing.T) {
	eachWorld(t, func(w *world) {
		aliceUser := w.member(kms.RoleRW)
		bob := w.agent(w.member(kms.RoleRW))
		alice := w.runningAgent(aliceUser)

		alice.write("Online.txt", []byte("online"))
		eventually(w.t, "Online.txt at bob", func() error { bob.sync(); return bob.hasFile("Online.txt", []byte("online")) })

		w.gw.Down()
		alice.write("Offline.txt", []byte("written while the gateway was down"))
		eventually(w.t, "alice's failed pass", func() error {
			if st := alice.matterStatus(); st.State != "error" {
				return fmt.Errorf("matter state %q", st.State)
			}
			return nil
		})
		w.gw.Up()
		eventually(w.t, "Offline.txt at bob", func() error {
			bob.sync()
			return bob.hasFile("Offline.txt", []byte("written while the gateway was down"))
		})
	})
}

// eventually polls cond until it returns nil. The deadline only bounds a
// hung test; nothing asserts on elapsed time.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	// Two minutes: a Vault-side change (a removal) reaches a running agent
	// when its identity token is renewed, half its life (about a minute in
	// kmstest), later still on a loaded machine.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %v after two minutes", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hasFile is nil if rel holds exactly want.
func (a *testAgent) hasFile(rel string, want []byte) error {
	got, err := a.read(rel)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("%s holds %d bytes, want %d", rel, len(got), len(want))
	}
	return nil
}

func (a *testAgent) wantFile(rel string, want []byte) {
	a.w.t.Helper()
	if err := a.hasFile(rel, want); err != nil {
		a.w.t.Fatalf("%s: %v", a.user.Name, err)
	}
}

// matterStatus returns the status of the world's matter.
func (a *testAgent) matterStatus() agent.MatterStatus {
	a.w.t.Helper()
	for _, m := range a.Status().Matters {
		if m.ID == a.w.matter {
			return m
		}
	}
	a.w.t.Fatalf("%s: no status for matter %s", a.user.Name, a.w.matter)
	return agent.MatterStatus{}
}

// conflictCopies lists the conflict copies in the matter folder.
func (a *testAgent) conflictCopies() []string {
	a.w.t.Helper()
	var out []string
	err := filepath.WalkDir(a.folder, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".mattersync" {
			return filepath.SkipDir
		}
		if strings.Contains(d.Name(), "(conflict, ") {
			rel, _ := filepath.Rel(a.folder, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		a.w.t.Fatal(err)
	}
	return out
}

// trashed returns the content of the copy of rel in the matter's trash.
func (a *testAgent) trashed(rel string) []byte {
	a.w.t.Helper()
	ms, err := filepath.Glob(filepath.Join(strings.ReplaceAll(a.folder, "[", "[[]"), ".mattersync", "trash", "*", filepath.FromSlash(rel)))
	if err != nil || len(ms) != 1 {
		a.w.t.Fatalf("%s: %d copies of %s in the trash, %v", a.user.Name, len(ms), rel, err)
	}
	b, err := os.ReadFile(ms[0])
	if err != nil {
		a.w.t.Fatal(err)
	}
	return b
}
