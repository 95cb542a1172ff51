package agent_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// foldingDisk reports whether the disk holding dir finds a file under any
// case of its name (NTFS and APFS by default): there the Windows/macOS
// behaviour is tested on the real disk, not only emulated.
func foldingDisk(t *testing.T, dir string) bool {
	t.Helper()
	p := filepath.Join(dir, "CaseProbe")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(p)
	_, err := os.Stat(filepath.Join(dir, "caseprobe"))
	return err == nil
}

// caseInsensitive starts u's agent on a case-insensitive volume: the real
// disk if it folds case, else (Linux) the agent's emulation.
func (w *world) caseInsensitive(u kmstest.User) *testAgent {
	w.t.Helper()
	root := w.t.TempDir()
	a := w.agentAt(u, root, w.t.TempDir())
	if !foldingDisk(w.t, root) {
		a.FoldCase()
	}
	a.sync()
	return a
}

// insider is a member writing to the gateway with their own code: any
// name, any content, in both worlds.
type insider struct {
	w    *world
	keys *format.Keys
	gw   *client.Client
}

func (w *world) insider(u kmstest.User) *insider {
	t := w.t
	kr := w.v.Login(t, u)
	keys := w.memberKeys(kr)
	gw, err := client.New(w.gateway, kr, client.Options{Device: "insider"})
	if err != nil {
		t.Fatal(err)
	}
	return &insider{w: w, keys: keys, gw: gw}
}

// put commits content at path as version 1 of a new file.
func (in *insider) put(path string, content []byte) {
	t := in.w.t
	t.Helper()
	codec, err := format.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	defer codec.Close()
	id := in.keys.ChunkID(content)
	sealed, err := codec.SealChunk(nil, in.keys, id, content)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := in.gw.PutChunk(ctx, in.w.matter, id.String(), sealed); err != nil {
		t.Fatal(err)
	}
	man := &format.Manifest{Path: path, Version: 1, Size: uint64(len(content)), ModTime: time.Now(), Mode: 0o644,
		ContentHash: sha256.Sum256(content), Chunks: []format.ChunkRef{{ID: id, Size: uint32(len(content))}},
		Author: "insider", Device: "insider", Created: time.Now()}
	m, fid, err := in.keys.SealManifest(nil, man)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.gw.Commit(ctx, in.w.matter, fid.String(), 0, api.CommitRequest{Manifest: m, Chunks: []string{id.String()}}); err != nil {
		t.Fatal(err)
	}
}

// del commits a sealed tombstone on top of version base of path.
func (in *insider) del(path string, base uint64) {
	t := in.w.t
	t.Helper()
	tomb := &format.Manifest{Path: path, Version: base + 1, Deleted: true, ModTime: time.Now(), Author: "insider", Device: "insider", Created: time.Now()}
	m, fid, err := in.keys.SealManifest(nil, tomb)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.gw.Delete(context.Background(), in.w.matter, fid.String(), int64(base), m); err != nil {
		t.Fatal(err)
	}
}

// Issue 19, case-insensitive delete: an insider commits "brief.docx" (and
// "pleadings/Motion.pdf") with the content of the synced "Brief.docx"
// ("Pleadings/Motion.pdf"), then deletes the copies. On a Windows or macOS
// disk a colleague's agent found the original under the copy's name,
// trashed it as the deleted file, and then deleted it for everyone under
// the colleague's name. The originals must stay, on every laptop.
func TestCaseInsensitiveDeleteKeepsTheOriginal(t *testing.T) {
	eachWorld(t, func(w *world) {
		alice := w.agent(w.member(kms.RoleRW))
		bob := w.caseInsensitive(w.member(kms.RoleRW))
		mallory := w.insider(w.member(kms.RoleRW))
		brief, motion := []byte(marker+" the brief"), []byte(marker+" the motion")
		alice.write("Brief.docx", brief)
		alice.write("Pleadings/Motion.pdf", motion)
		alice.sync()
		bob.sync()
		bob.wantFile("Brief.docx", brief)

		mallory.put("brief.docx", brief)
		mallory.put("pleadings/Motion.pdf", motion)
		bob.sync() // the copies cannot land on the originals: reported
		if st := bob.matterStatus(); !hasProblem(st.Errors, "differs only in case") {
			w.t.Fatalf("the clash is not reported: %q", st.Errors)
		}
		mallory.del("brief.docx", 1)
		mallory.del("pleadings/Motion.pdf", 1)
		bob.sync()
		bob.sync() // a second pass would propagate a local delete
		alice.sync()
		for _, a := range []*testAgent{bob, alice} {
			a.wantFile("Brief.docx", brief)
			a.wantFile("Pleadings/Motion.pdf", motion)
			if _, err := os.Stat(filepath.Join(a.folder, ".mattersync", "trash")); !errors.Is(err, fs.ErrNotExist) {
				w.t.Fatalf("%s: something went to the trash: %v", a.user.Name, err)
			}
		}
	})
}
