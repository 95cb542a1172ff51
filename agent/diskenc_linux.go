package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// diskEncryption follows the block device behind path through device
// mapper layers (LVM on LUKS, …) looking for a dm-crypt target.
func diskEncryption(path string) (string, string) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return "unknown", err.Error()
	}
	dev := fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)))
	if _, err := os.Stat(dev); err != nil {
		return "unknown", "not on a block device (network or virtual file system)"
	}
	if cryptBelow(dev, 0) {
		return "on", ""
	}
	return "off", ""
}

// cryptBelow reports whether the block device in sysfs dir, or one it is
// built on, is a dm-crypt mapping.
func cryptBelow(dir string, depth int) bool {
	if depth > 8 {
		return false
	}
	if uuid, err := os.ReadFile(filepath.Join(dir, "dm", "uuid")); err == nil && strings.HasPrefix(string(uuid), "CRYPT-") {
		return true
	}
	// A partition's own "slaves" are its disk's; look at the disk too.
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false
	}
	for _, d := range []string{real, filepath.Dir(real)} {
		slaves, _ := os.ReadDir(filepath.Join(d, "slaves"))
		for _, s := range slaves {
			if cryptBelow(filepath.Join(d, "slaves", s.Name()), depth+1) {
				return true
			}
		}
	}
	return false
}
