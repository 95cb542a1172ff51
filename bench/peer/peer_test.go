package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/internal/testenv"
)

// TestCorpus: the generators are deterministic and sameTree sees a
// difference.
func TestCorpus(t *testing.T) {
	dir := t.TempDir()
	a, err := mixedTree(filepath.Join(dir, "a"), 3<<20, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, err := mixedTree(filepath.Join(dir, "b"), 3<<20, 7)
	if err != nil {
		t.Fatal(err)
	}
	if a.files != b.files || a.bytes != 3<<20 || a.files < 3 {
		t.Fatalf("two trees of one seed: %+v and %+v", a, b)
	}
	if diff, err := sameTree(a.dir, b.dir); err != nil || diff != "" {
		t.Fatalf("same seed, different trees: %q %v", diff, err)
	}
	s, err := smallTree(filepath.Join(dir, "s"), 20, 512, 7)
	if err != nil || s.files != 20 {
		t.Fatal(s, err)
	}
	if diff, _ := sameTree(a.dir, s.dir); diff == "" {
		t.Fatal("sameTree found no difference between two different trees")
	}
}

// TestSmoke runs the whole bench on tiny corpora, one round: mattersync
// always, rclone when `tools/install.sh rclone` built it. It checks that
// every workload ran and that downloads gave back the tree (run checks
// that), not how fast.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Vault and MinIO; skipped under -short")
	}
	for _, tool := range []string{"vault", "minio"} {
		if _, err := testenv.FindBinary(tool); err != nil {
			if testenv.InCI() {
				t.Fatalf("%v (CI=true: a missing service is a failure)", err)
			}
			t.Skip(err)
		}
	}
	o := options{MixedMiB: 4, SmallFiles: 40, SmallBytes: 2 << 10, Rounds: 1, Work: t.TempDir(), Out: &bytes.Buffer{}}
	if p, err := testenv.FindBinary("rclone"); err == nil {
		o.Rclone = p
	} else {
		t.Logf("rclone side skipped: %v", err)
	}
	if testing.Verbose() {
		o.Progress = os.Stderr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res.table(&out)
	t.Log("\n" + out.String())
	for _, wl := range []string{wUpload, wDownload, wSmall} {
		if n := len(res.m[wl]["mattersync"]); n != 1 {
			t.Errorf("%s: %d mattersync runs", wl, n)
		}
		if o.Rclone != "" && len(res.m[wl]["rclone crypt"]) != 1 {
			t.Errorf("%s: no rclone run", wl)
		}
	}
	if !strings.Contains(out.String(), wSmall) || !strings.Contains(out.String(), "CPU time") {
		t.Errorf("table lacks a row:\n%s", out.String())
	}
}
