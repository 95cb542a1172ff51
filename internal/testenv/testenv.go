// Package testenv starts the real services mattersync's tests run against: a
// Vault dev server, a MinIO server and databases on the machine's PostgreSQL.
//
// Servers are started once per test binary on free loopback ports, in temp
// directories, with credentials generated for the run, and stopped by Main.
// Each test gets its own namespace (bucket, database, Vault mount) so tests
// cannot see each other. A missing service skips the test with the command
// that provides it, or fails it when CI=true. Under -short every test that
// asks for a service is skipped: the short tier needs none.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Main runs the package's tests and then stops every server this package
// started. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	stopAll()
	os.Exit(code)
}

// stoppers holds the cleanup of package-shared servers; guarded by stopMu.
var (
	stopMu   sync.Mutex
	stoppers []func()
)

func registerStop(f func()) {
	stopMu.Lock()
	defer stopMu.Unlock()
	stoppers = append(stoppers, f)
}

func stopAll() {
	stopMu.Lock()
	defer stopMu.Unlock()
	for i := len(stoppers) - 1; i >= 0; i-- {
		stoppers[i]()
	}
	stoppers = nil
}

// InCI reports whether the tests run in CI, where a missing service is a
// failure rather than a skip.
func InCI() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

// unavailable skips (or, in CI, fails) t because a service is missing.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("testenv: %s (CI=true: a missing service is a failure)", msg)
	}
	t.Skipf("testenv: %s", msg)
}

// skipShort skips t under -short: that tier runs without any service, so
// a quick run never starts (or waits for) a server.
func skipShort(t testing.TB, service string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("testenv: needs %s; skipped under -short", service)
	}
}

// RandomHex returns n random bytes as hex: per-run credentials and names.
func RandomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

// RandomName returns prefix plus 12 random hex characters: a name for a
// bucket, database or mount that no other test uses.
func RandomName(prefix string) string { return prefix + RandomHex(6) }

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// ModuleRoot returns the directory holding mattersync's go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && len(b) > 0 && modulePath(b) == "github.com/mattersync/mattersync" {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: mattersync module root not found above the working directory")
		}
		dir = parent
	}
}

func modulePath(gomod []byte) string {
	for line := range strings.Lines(string(gomod)) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

// FindBinary looks for a server binary: $MATTERSYNC_<NAME>_BIN, then
// .tools/bin/<name> in the module root, then PATH.
func FindBinary(name string) (string, error) {
	env := "MATTERSYNC_" + strings.ToUpper(name) + "_BIN"
	if p := os.Getenv(env); p != "" {
		return p, nil
	}
	if root, err := ModuleRoot(); err == nil {
		p := filepath.Join(root, ".tools", "bin", name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found in $%s, .tools/bin or PATH: run `make tools`", name, env)
}
