// Package e2e runs mattersync end to end: the real Vault, MinIO, gateway and
// agent binaries, started by the same code as `make run` (internal/devstack),
// with two or more users syncing one matter.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/internal/devstack"
	"github.com/mattersync/mattersync/internal/testenv"
)

// binDir holds the binaries built once for the whole run.
var binDir string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "mattersync-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	root, err := testenv.ModuleRoot()
	if err == nil {
		err = devstack.BuildBinaries(root, dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newStack starts a stack for one test, in its own temp dir.
func newStack(t *testing.T, o devstack.Options) *devstack.Stack {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	for _, tool := range []string{"vault", "minio"} {
		if _, err := testenv.FindBinary(tool); err != nil {
			if testenv.InCI() {
				t.Fatalf("e2e: %v (CI=true: a missing service is a failure)", err)
			}
			t.Skipf("e2e: %v", err)
		}
	}
	vault, _ := testenv.FindBinary("vault")
	o.Dir = t.TempDir()
	o.Bin = binDir
	o.Tools = filepath.Dir(vault)
	if testing.Verbose() {
		o.Progress = os.Stderr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := devstack.Start(ctx, o)
	if err != nil {
		dumpLogs(t, o.Dir)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			dumpLogs(t, o.Dir)
		}
	})
	return s
}

func dumpLogs(t *testing.T, dir string) {
	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		if len(b) > 6000 {
			b = b[len(b)-6000:]
		}
		t.Logf("--- %s (tail)\n%s", filepath.Base(l), b)
	}
}

// eventually polls cond until it returns nil or timeout passes. The
// timeout only bounds a hung test; nothing asserts on elapsed time.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after %v: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hasContent is a condition: path exists with exactly want.
func hasContent(path string, want []byte) func() error {
	return func() error {
		got, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("%s has %d bytes, want %d", path, len(got), len(want))
		}
		return nil
	}
}

// gone is a condition: path does not exist.
func gone(path string) func() error {
	return func() error {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("%s still exists", path)
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// conflictCopies lists the conflict copies next to rel in an agent's folder.
func conflictCopies(t *testing.T, a *devstack.Agent, rel string) []string {
	t.Helper()
	dir := filepath.Dir(a.Path(rel))
	stem := strings.TrimSuffix(filepath.Base(rel), filepath.Ext(rel))
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), stem+" (conflict, ") {
			out = append(out, e.Name())
		}
	}
	return out
}
