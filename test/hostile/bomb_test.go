package hostile

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/kms"
)

// bomb publishes the dedup bomb of the review: one 8 MiB chunk of zeros
// (a few hundred bytes compressed) referenced 466,000 times, a manifest of
// just under 16 MiB declaring a 3.6 TiB file.
func (f *forger) bomb(path string) format.ID {
	f.e.t.Helper()
	ref := f.chunk(make([]byte, format.MaxChunkSize))
	const n = 466_000
	refs := make([]format.ChunkRef, n)
	for i := range refs {
		refs[i] = ref
	}
	f.publish(&format.Manifest{Path: path, Version: 1, Size: n * format.MaxChunkSize, ModTime: time.Now(), Mode: 0o644,
		ContentHash: sum([]byte("never reached")), Chunks: refs, Author: "mallory", Device: "LAPTOP-M", Created: time.Now()})
	return ref.ID
}

// A member commits the dedup bomb. Every colleague's agent used to write
// until the disk was full, and again on every pass. Now the declared size
// is checked against max_file_size before anything is downloaded, the
// refusal is an integrity event shown in status, and later passes do not
// fetch the file again.
func TestDedupBomb(t *testing.T) {
	e := newEnv(t)
	mallory := e.forger(e.member(kms.RoleRW))
	bob := e.agent(e.member(kms.RoleRW), nil) // default max_file_size: 64 GiB
	zeros := mallory.bomb("Exhibit 12.bin")
	mallory.file("Fine.txt", []byte("the rest of the matter"), 1, nil)
	// An agent that does download gets 16 chunks (128 MiB), then 404s:
	// the test fails instead of filling the disk.
	e.gw.setChunkBudget(16)
	bob.sync()
	if n := e.gw.downloads(zeros); n != 0 {
		t.Fatalf("the agent downloaded %d chunks of a 3.6 TiB manifest", n)
	}
	if got, _ := bob.read("Fine.txt"); string(got) != "the rest of the matter" {
		t.Fatalf("the matter stalled behind the bomb: %q", got)
	}
	if _, err := bob.read("Exhibit 12.bin"); err == nil {
		t.Fatal("the bomb's file was created")
	}
	if left, _ := filepath.Glob(filepath.Join(strings.ReplaceAll(bob.folder, "[", "[[]"), ".mattersync-tmp-*")); len(left) != 0 {
		t.Fatalf("partial downloads left: %v", left)
	}
	if !hasProblem(bob.errors(), "integrity") || !hasProblem(bob.errors(), "max_file_size") {
		t.Fatalf("not shown as an integrity event: %q", bob.errors())
	}
	// Full passes do not fetch it again (nothing local can fix it)...
	fetches := e.gw.hit("GET /v1/matters/{m}/files/{f}")
	bob.sync()
	bob.sync()
	if n := e.gw.hit("GET /v1/matters/{m}/files/{f}"); n != fetches {
		t.Fatalf("later passes fetched files %d more times", n-fetches)
	}
	if !hasProblem(bob.errors(), "integrity") {
		t.Fatalf("the integrity event vanished from status: %q", bob.errors())
	}
	// ...and a fixed file (its next version) is applied and clears it.
	mallory.file("Exhibit 12.bin", []byte("the real exhibit"), 2, nil)
	bob.sync()
	if got, _ := bob.read("Exhibit 12.bin"); string(got) != "the real exhibit" {
		t.Fatalf("the next version did not arrive: %q", got)
	}
	if errs := bob.errors(); len(errs) != 0 {
		t.Fatalf("problem not cleared: %q", errs)
	}
	if n := e.gw.downloads(zeros); n != 0 {
		t.Fatalf("%d downloads of the bomb's chunk", n)
	}
}

// Raising max_file_size does not open the door: the bomb must also fit in
// the free disk space (keeping some free) before a byte is written.
func TestDedupBombBoundedByFreeSpace(t *testing.T) {
	e := newEnv(t)
	if free := freeBytes(t, t.TempDir()); free > 3<<40 {
		t.Skipf("this disk has %d bytes free: the 3.6 TiB bomb might fit", free)
	}
	mallory := e.forger(e.member(kms.RoleRW))
	bob := e.agent(e.member(kms.RoleRW), func(c *agent.Config) { c.MaxFileSize = 1 << 50 })
	zeros := mallory.bomb("Exhibit 12.bin")
	e.gw.setChunkBudget(16)
	bob.sync()
	if n := e.gw.downloads(zeros); n != 0 {
		t.Fatalf("the agent downloaded %d chunks of a file larger than the free space", n)
	}
	if !hasProblem(bob.errors(), "free on this disk") {
		t.Fatalf("not reported: %q", bob.errors())
	}
}
