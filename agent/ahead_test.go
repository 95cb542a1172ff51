package agent_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/mattersync/mattersync/kms"
)

// A new laptop's first pull downloads files ahead of the change loop and
// a large file's chunks ahead of its writer: every file arrives whole, and
// a file with a tampered chunk is refused without a byte of it (or a temp
// file) left on disk, while the files around it arrive.
func TestDownloadAheadVerifiesEveryChunk(t *testing.T) {
	eachWorld(t, func(w *world) {
		alice := w.agent(w.member(kms.RoleRW))
		files := map[string][]byte{"Exhibits/Big.bin": content(3, 6<<20)}
		for i := range 12 {
			files[fmt.Sprintf("Letters/%02d.txt", i)] = []byte(fmt.Sprintf("%s letter %d", marker, i))
		}
		for rel, b := range files {
			alice.write(rel, b)
		}
		if sum := alice.sync(); sum.Uploaded != len(files) {
			w.t.Fatalf("alice uploaded %+v, want %d", sum, len(files))
		}
		bob := w.agentAt(w.member(kms.RoleRW), w.t.TempDir(), w.t.TempDir())
		if sum := bob.sync(); sum.Downloaded != len(files) || len(sum.Problems) != 0 {
			w.t.Fatalf("bob: %+v, want %d files downloaded", sum, len(files))
		}
		for rel, want := range files {
			bob.wantFile(rel, want)
		}
		if !bob.DownloadBudgetWhole() {
			w.t.Fatal("bob's downloads ended holding some of the download budget")
		}

		// Flip a byte of one chunk of the big file (its chunks are the only
		// large objects) in the storage.
		var tampered string
		for key, b := range w.objects() {
			if strings.Contains(key, "/c/") && len(b) > 256<<10 {
				b[len(b)/2] ^= 1
				w.putObject(key, b)
				tampered = key
				break
			}
		}
		if tampered == "" {
			w.t.Fatal("no chunk of the big file found")
		}
		carol := w.agentAt(w.member(kms.RoleRW), w.t.TempDir(), w.t.TempDir())
		sum := carol.sync()
		if errs := carol.matterStatus().Errors; sum.Downloaded != len(files)-1 || len(errs) != 1 {
			w.t.Fatalf("carol: %+v, errors %q; want %d files downloaded and one problem", sum, errs, len(files)-1)
		}
		if !carol.DownloadBudgetWhole() {
			w.t.Fatal("carol's downloads (one refused) ended holding some of the download budget")
		}
		if _, err := carol.read("Exhibits/Big.bin"); err == nil {
			w.t.Fatal("the file with a tampered chunk was written")
		}
		for rel, want := range files {
			if rel != "Exhibits/Big.bin" {
				carol.wantFile(rel, want)
			}
		}
		filepath.WalkDir(carol.folder, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasPrefix(d.Name(), ".mattersync-tmp-") {
				w.t.Errorf("temp file left behind: %s", p)
			}
			return nil
		})
	})
}

// putObject replaces an object in the world's storage, as someone with
// the bucket's credentials could.
func (w *world) putObject(key string, b []byte) {
	t := w.t
	t.Helper()
	ctx := context.Background()
	if w.gw.Mem != nil {
		if err := w.gw.Mem.Put(ctx, key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b)); err != nil {
			t.Fatal(err)
		}
		return
	}
	if _, err := w.gw.MinIO.Client(t).PutObject(ctx, w.gw.Bucket, key, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}
