package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A fake sysfs: sda2 (plain partition), dm-0 (LUKS on sda3), dm-1 (LVM on
// dm-0), dm-2 (LVM on sda2, no encryption).
func TestCryptBelow(t *testing.T) {
	root := t.TempDir()
	mk := func(rel, uuid string, slaves ...string) string {
		d := filepath.Join(root, "devices", rel)
		if err := os.MkdirAll(filepath.Join(d, "slaves"), 0o755); err != nil {
			t.Fatal(err)
		}
		if uuid != "" {
			os.MkdirAll(filepath.Join(d, "dm"), 0o755)
			os.WriteFile(filepath.Join(d, "dm", "uuid"), []byte(uuid+"\n"), 0o644)
		}
		for _, s := range slaves {
			if err := os.Symlink(filepath.Join(root, "devices", s), filepath.Join(d, "slaves", filepath.Base(s))); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	sda2 := mk("sda/sda2", "")
	mk("sda/sda3", "")
	dm0 := mk("dm-0", "CRYPT-LUKS2-3f0c-luks", "sda/sda3")
	dm1 := mk("dm-1", "LVM-abc", "dm-0")
	dm2 := mk("dm-2", "LVM-def", "sda/sda2")
	dm3 := mk("dm-3", "CRYPT-PLAIN-abc", "sda/sda2")
	for dir, want := range map[string]string{sda2: "", dm0: "LUKS", dm1: "LUKS", dm2: "", dm3: "plain"} {
		ok, method := cryptBelow(dir, 0)
		if ok && method == "" {
			method = "plain"
		}
		if method != want || ok != (want != "") {
			t.Errorf("cryptBelow(%s) = %v, %q, want %q", filepath.Base(dir), ok, method, want)
		}
	}
	// The real machine: a temp dir is on a block device, so the answer is
	// on or off, never a guess.
	if got := DiskEncryption(t.TempDir()); !strings.HasPrefix(got, "on") && got != "off" && !strings.HasPrefix(got, "unknown (") {
		t.Errorf("DiskEncryption = %q", got)
	}
}
