package testenv

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// DebianTool returns the path of a program that comes from a Debian package
// (haproxy, chromium), installing the package with
// installer/ensure-tools.sh when it is missing (as root or with
// password-less sudo). In CI a program that cannot be had fails the test.
func DebianTool(t testing.TB, name string) string {
	t.Helper()
	skipShort(t, name)
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	root, err := ModuleRoot()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if out, err := exec.Command(filepath.Join(root, "installer", "ensure-tools.sh"), name).CombinedOutput(); err != nil {
		unavailable(t, "%s: %v: %s", name, err, out)
		return ""
	}
	p, err := exec.LookPath(name)
	if err != nil {
		unavailable(t, "%s: installed but not on PATH: %v", name, err)
	}
	return p
}
