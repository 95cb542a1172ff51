package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/internal/devstack"
)

const syncTimeout = 60 * time.Second

// TestSyncBothWays covers the everyday edits: create, edit, rename, folder
// move and delete, each made on one laptop and checked on the other, and
// that MinIO never holds a readable name or content.
func TestSyncBothWays(t *testing.T) {
	s := newStack(t, devstack.Options{})
	alice, bob := s.Agents["alice"], s.Agents["bob"]
	// The stack's bucket (make run's) has S3 Object Lock: legal holds are
	// the storage's (docs/LIFECYCLE.md).
	if lock, _, _, _, err := minioClient(t, s).GetObjectLockConfig(context.Background(), s.Bucket()); err != nil || lock != "Enabled" {
		t.Fatalf("the stack's bucket: Object Lock %q, %v", lock, err)
	}

	// The `make run` promise: a file dropped in alice's folder appears in
	// bob's. The latency is logged, not asserted (shared machine).
	memo := []byte("PRIVILEGED: settlement authority up to 1.2M, client Zebulon Quince")
	start := time.Now()
	write(t, alice.Path("Settlement memo.txt"), memo)
	eventually(t, syncTimeout, "alice's new file at bob", hasContent(bob.Path("Settlement memo.txt"), memo))
	t.Logf("alice -> bob: new small file visible after %v", time.Since(start).Round(time.Millisecond))

	motion := []byte("Motion to compel, draft 1")
	write(t, alice.Path("Pleadings/Motion.docx"), motion)
	eventually(t, syncTimeout, "file in a new folder", hasContent(bob.Path("Pleadings/Motion.docx"), motion))

	// bob edits; alice gets the edit.
	motion2 := []byte("Motion to compel, draft 2 (bob's changes)")
	write(t, bob.Path("Pleadings/Motion.docx"), motion2)
	eventually(t, syncTimeout, "bob's edit at alice", hasContent(alice.Path("Pleadings/Motion.docx"), motion2))

	// An Office lock file is never synced.
	write(t, alice.Path("Pleadings/~$Motion.docx"), []byte("lock"))

	// alice renames.
	if err := os.Rename(alice.Path("Pleadings/Motion.docx"), alice.Path("Pleadings/Motion final.docx")); err != nil {
		t.Fatal(err)
	}
	eventually(t, syncTimeout, "rename at bob", hasContent(bob.Path("Pleadings/Motion final.docx"), motion2))
	eventually(t, syncTimeout, "old name gone at bob", gone(bob.Path("Pleadings/Motion.docx")))

	// bob moves the folder.
	if err := os.MkdirAll(bob.Path("Filed"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(bob.Path("Pleadings"), bob.Path("Filed/Pleadings")); err != nil {
		t.Fatal(err)
	}
	eventually(t, syncTimeout, "folder move at alice", hasContent(alice.Path("Filed/Pleadings/Motion final.docx"), motion2))
	eventually(t, syncTimeout, "old folder emptied at alice", gone(alice.Path("Pleadings/Motion final.docx")))

	// alice deletes; bob's copy goes to the matter's trash, not oblivion.
	if err := os.Remove(alice.Path("Settlement memo.txt")); err != nil {
		t.Fatal(err)
	}
	eventually(t, syncTimeout, "delete at bob", gone(bob.Path("Settlement memo.txt")))
	// Not filepath.Glob: the matter folder's "[2026-0001]" is a pattern.
	var trashed []string
	filepath.WalkDir(filepath.Join(bob.Folder, ".mattersync", "trash"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "Settlement memo.txt" {
			trashed = append(trashed, p)
		}
		return nil
	})
	if len(trashed) != 1 {
		t.Fatalf("bob's trash holds %v, want the deleted memo", trashed)
	}
	if _, err := os.Stat(bob.Path("Pleadings/~$Motion.docx")); err == nil {
		t.Fatal("an Office lock file was synced")
	}

	// Nothing readable reached the storage: no content, no file or folder
	// name, no matter name.
	for _, secret := range [][]byte{memo, []byte("Zebulon Quince"), motion, motion2, []byte("Settlement memo"), []byte("Motion final"), []byte("Pleadings"), []byte("Demo v. Example")} {
		if hit := grepDir(t, s.MinIODataDir(), secret); hit != "" {
			t.Errorf("MinIO data holds %q in %s", secret, hit)
		}
	}
}

// grepDir returns a file below dir that contains needle, or "".
func grepDir(t *testing.T, dir string, needle []byte) string {
	t.Helper()
	var hit string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || hit != "" {
			return nil
		}
		if strings.Contains(p, string(needle)) {
			hit = p
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, needle) {
			hit = p
		}
		return nil
	})
	return hit
}

// TestConflicts: concurrent edits keep both versions; identical edits make
// no conflict; an edit beats a concurrent delete.
func TestConflicts(t *testing.T) {
	s := newStack(t, devstack.Options{})
	alice, bob := s.Agents["alice"], s.Agents["bob"]
	v1 := []byte("Brief v1")
	write(t, alice.Path("Brief.docx"), v1)
	write(t, alice.Path("Same.txt"), []byte("same v1"))
	write(t, alice.Path("Keep.txt"), []byte("keep v1"))
	for _, f := range []string{"Brief.docx", "Same.txt", "Keep.txt"} {
		eventually(t, syncTimeout, "initial "+f+" at bob", func() error { _, err := os.Stat(bob.Path(f)); return err })
	}

	// bob goes offline and edits; alice edits the same files meanwhile.
	s.StopAgent("bob")
	aliceEdit, bobEdit := []byte("Brief v2 by alice"), []byte("Brief v2 by bob, offline on a plane")
	write(t, alice.Path("Brief.docx"), aliceEdit)
	write(t, alice.Path("Same.txt"), []byte("identical edit"))
	if err := os.Remove(alice.Path("Keep.txt")); err != nil {
		t.Fatal(err)
	}
	// Let alice's changes reach the gateway before bob comes back.
	time.Sleep(2 * time.Second)
	write(t, bob.Path("Brief.docx"), bobEdit)
	write(t, bob.Path("Same.txt"), []byte("identical edit"))
	write(t, bob.Path("Keep.txt"), []byte("keep v2: bob's edit beats alice's delete"))
	if err := s.StartAgent("bob"); err != nil {
		t.Fatal(err)
	}

	// Brief: alice's version keeps the name everywhere, bob's edit is one
	// conflict copy, on both laptops.
	eventually(t, syncTimeout, "alice's version at bob", hasContent(bob.Path("Brief.docx"), aliceEdit))
	for _, a := range []*devstack.Agent{alice, bob} {
		eventually(t, syncTimeout, "one conflict copy at "+a.User, func() error {
			cs := conflictCopies(t, a, "Brief.docx")
			if len(cs) != 1 {
				return fmt.Errorf("conflict copies %v", cs)
			}
			got, err := os.ReadFile(filepath.Join(a.Folder, cs[0]))
			if err != nil || !bytes.Equal(got, bobEdit) {
				return fmt.Errorf("conflict copy holds %q, %v", got, err)
			}
			if !strings.Contains(cs[0], "bob") || !strings.Contains(cs[0], "bob-laptop") {
				return fmt.Errorf("conflict copy %q does not name bob and his device", cs[0])
			}
			return nil
		})
	}
	// Keep: the edit survived the delete, everywhere.
	keep := []byte("keep v2: bob's edit beats alice's delete")
	eventually(t, syncTimeout, "edit beats delete at alice", hasContent(alice.Path("Keep.txt"), keep))
	// Same: no conflict.
	eventually(t, syncTimeout, "identical edit", hasContent(alice.Path("Same.txt"), []byte("identical edit")))
	if cs := conflictCopies(t, bob, "Same.txt"); len(cs) != 0 {
		t.Fatalf("identical edits made conflict copies %v", cs)
	}
	if cs := conflictCopies(t, alice, "Same.txt"); len(cs) != 0 {
		t.Fatalf("identical edits made conflict copies %v at alice", cs)
	}
}

// TestAccessRoles: a read-only member gets the files but never uploads, and
// loses no edit; a firm user outside the matter gets nothing.
func TestAccessRoles(t *testing.T) {
	s := newStack(t, devstack.Options{Users: []string{"alice", "dave", "carol"}, Roles: map[string]string{"dave": "ro", "carol": "none"}})
	alice, dave, carol := s.Agents["alice"], s.Agents["dave"], s.Agents["carol"]
	orig := []byte("Engagement letter, signed")
	write(t, alice.Path("Engagement.pdf"), orig)
	eventually(t, syncTimeout, "file at the ro member", hasContent(dave.Path("Engagement.pdf"), orig))

	// dave's edit is kept locally as a copy; the synced version is restored
	// and alice never sees the edit.
	edit := []byte("Engagement letter, dave's unauthorised change")
	write(t, dave.Path("Engagement.pdf"), edit)
	eventually(t, syncTimeout, "ro edit kept as a copy", func() error {
		cs := conflictCopies(t, dave, "Engagement.pdf")
		if len(cs) != 1 {
			return fmt.Errorf("copies %v", cs)
		}
		return hasContent(filepath.Join(dave.Folder, cs[0]), edit)()
	})
	eventually(t, syncTimeout, "ro original restored", hasContent(dave.Path("Engagement.pdf"), orig))
	write(t, alice.Path("marker.txt"), []byte("later"))
	eventually(t, syncTimeout, "later file at dave", hasContent(dave.Path("marker.txt"), []byte("later")))
	if got, _ := os.ReadFile(alice.Path("Engagement.pdf")); !bytes.Equal(got, orig) {
		t.Fatalf("the ro member's edit reached alice: %q", got)
	}
	if cs := conflictCopies(t, alice, "Engagement.pdf"); len(cs) != 0 {
		t.Fatalf("the ro member's copy was uploaded: %v", cs)
	}

	// carol is in the firm but not in the matter: no folder, no byte.
	if _, err := os.Stat(carol.Folder); err == nil {
		t.Fatalf("non-member has the matter folder %s", carol.Folder)
	}
	st, err := agent.ReadStatus(context.Background(), carol.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Matters) != 0 {
		t.Fatalf("non-member's status lists matters %+v", st.Matters)
	}
}

// TestRevoke: `user revoke bob` stops bob's agent and wipes its keys; alice
// keeps working and bob receives nothing more.
func TestRevoke(t *testing.T) {
	s := newStack(t, devstack.Options{})
	alice, bob := s.Agents["alice"], s.Agents["bob"]
	write(t, alice.Path("before.txt"), []byte("before"))
	eventually(t, syncTimeout, "file before revocation", hasContent(bob.Path("before.txt"), []byte("before")))

	out, err := s.Admin(context.Background(), "user", "revoke", "bob", "--reason", "left the firm")
	if err != nil {
		t.Fatalf("revoke: %v\n%s", err, out)
	}
	t.Logf("revoke:\n%s", out)
	eventually(t, syncTimeout, "bob's agent reports revoked", func() error {
		// Any request bob makes is refused: a change by alice wakes bob's
		// change feed, whose next request meets the deny list.
		write(t, alice.Path("poke.txt"), []byte(time.Now().String()))
		st, err := agent.ReadStatus(context.Background(), bob.DataDir)
		if err != nil {
			return err
		}
		if st.State != "revoked" {
			return fmt.Errorf("bob's agent is %q", st.State)
		}
		return nil
	})
	secret := []byte("after revocation: new strategy")
	write(t, alice.Path("after.txt"), secret)
	write(t, alice.Path("check.txt"), []byte("alice still syncs"))
	// alice's agent keeps syncing: her status shows no error.
	eventually(t, syncTimeout, "alice unaffected", func() error {
		st, err := agent.ReadStatus(context.Background(), alice.DataDir)
		if err != nil {
			return err
		}
		for _, m := range st.Matters {
			if m.State != "idle" || len(m.Errors) > 0 || m.Queue > 0 {
				return fmt.Errorf("alice's matter: %+v", m)
			}
		}
		return nil
	})
	time.Sleep(2 * time.Second)
	if _, err := os.Stat(bob.Path("after.txt")); err == nil {
		t.Fatal("a file written after the revocation reached bob")
	}
}

// TestTamperedChunk: a chunk altered in storage is reported, and the
// reader keeps its old copy.
func TestTamperedChunk(t *testing.T) {
	s := newStack(t, devstack.Options{})
	alice, bob := s.Agents["alice"], s.Agents["bob"]
	v1 := []byte("Evidence log v1")
	write(t, alice.Path("Evidence.txt"), v1)
	eventually(t, syncTimeout, "v1 at bob", hasContent(bob.Path("Evidence.txt"), v1))
	s.StopAgent("bob")
	before := listChunks(t, s)
	write(t, alice.Path("Evidence.txt"), []byte("Evidence log v2, with the new exhibit"))
	var fresh string
	eventually(t, syncTimeout, "v2's chunk stored", func() error {
		for k := range listChunks(t, s) {
			if !before[k] {
				fresh = k
				return nil
			}
		}
		return fmt.Errorf("no new chunk yet")
	})
	flipByte(t, s, fresh)
	if err := s.StartAgent("bob"); err != nil {
		t.Fatal(err)
	}
	eventually(t, syncTimeout, "bob reports the tampered object", func() error {
		st, err := agent.ReadStatus(context.Background(), bob.DataDir)
		if err != nil {
			return err
		}
		for _, m := range st.Matters {
			for _, e := range m.Errors {
				if strings.Contains(e, "authentication failed") {
					return nil
				}
			}
		}
		return fmt.Errorf("status %+v", st.Matters)
	})
	if got, _ := os.ReadFile(bob.Path("Evidence.txt")); !bytes.Equal(got, v1) {
		t.Fatalf("bob's file changed to %q; want the old copy kept", got)
	}
}

// TestManyFilesAndLargeFile: 1,000 small files and one 200 MiB file.
func TestManyFilesAndLargeFile(t *testing.T) {
	s := newStack(t, devstack.Options{})
	alice, bob := s.Agents["alice"], s.Agents["bob"]
	rng := rand.New(rand.NewPCG(1, 2))
	want := map[string][]byte{}
	for i := range 1000 {
		rel := fmt.Sprintf("Discovery/batch-%02d/doc-%04d.txt", i/100, i)
		want[rel] = fmt.Appendf(nil, "document %d: %x", i, rng.Uint64())
		write(t, alice.Path(rel), want[rel])
	}
	big := make([]byte, 200<<20)
	for i := 0; i < len(big); i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			big[i+j] = byte(v >> (8 * j))
		}
	}
	start := time.Now()
	write(t, alice.Path("Exhibits/deposition-video.bin"), big)
	eventually(t, 5*time.Minute, "200 MiB file at bob", hasContent(bob.Path("Exhibits/deposition-video.bin"), big))
	t.Logf("200 MiB file visible at bob after %v", time.Since(start).Round(time.Millisecond))
	for rel, data := range want {
		eventually(t, 5*time.Minute, "small files at bob", hasContent(bob.Path(rel), data))
	}
}

// TestCrashDuringSync kills alice's agent (kill -9) at random moments while
// it uploads 500 files, restarts it, and checks that everything converges:
// nothing lost, nothing duplicated, no conflict copies.
func TestCrashDuringSync(t *testing.T) {
	s := newStack(t, devstack.Options{})
	alice, bob := s.Agents["alice"], s.Agents["bob"]
	rng := rand.New(rand.NewPCG(3, 4))
	s.StopAgent("alice")
	want := map[string][]byte{}
	for i := range 500 {
		rel := fmt.Sprintf("Crash/%03d.txt", i)
		want[rel] = fmt.Appendf(nil, "file %d %x", i, rng.Uint64())
		write(t, alice.Path(rel), want[rel])
	}
	for round := range 3 {
		if err := s.StartAgent("alice"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(200+rng.IntN(1500)) * time.Millisecond)
		s.KillAgent("alice")
		t.Logf("round %d: killed alice's agent", round)
	}
	if err := s.StartAgent("alice"); err != nil {
		t.Fatal(err)
	}
	for rel, data := range want {
		eventually(t, 3*time.Minute, "converged at bob", hasContent(bob.Path(rel), data))
	}
	for _, a := range []*devstack.Agent{alice, bob} {
		ents, err := os.ReadDir(a.Path("Crash"))
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) != len(want) {
			names := []string{}
			for _, e := range ents {
				if want["Crash/"+e.Name()] == nil {
					names = append(names, e.Name())
				}
			}
			t.Fatalf("%s has %d entries in Crash/, want %d; unexpected: %v", a.User, len(ents), len(want), names)
		}
	}
}
