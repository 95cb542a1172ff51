package agent

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/mattersync/mattersync/gateway/api"
)

// diskEncryption follows the block device behind path through device
// mapper layers (LVM on LUKS, …) looking for a dm-crypt target.
func diskEncryption(path string) api.DiskEncryption {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return unknownDisk(err.Error())
	}
	dev := fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)))
	if _, err := os.Stat(dev); err != nil {
		return unknownDisk("not on a block device (network or virtual file system)")
	}
	if ok, method := cryptBelow(dev, 0); ok {
		if method == "" {
			return api.DiskEncryption{State: api.DiskOn, Detail: "dm-crypt (plain)"}
		}
		return api.DiskEncryption{State: api.DiskOn, Method: method}
	}
	return api.DiskEncryption{State: api.DiskOff}
}

// cryptBelow reports whether the block device in sysfs dir, or one it is
// built on, is a dm-crypt mapping, and whether LUKS.
func cryptBelow(dir string, depth int) (bool, string) {
	if depth > 8 {
		return false, ""
	}
	if uuid, err := os.ReadFile(filepath.Join(dir, "dm", "uuid")); err == nil {
		if ok, method := dmCryptKind(string(uuid)); ok {
			return true, method
		}
	}
	// A partition's own "slaves" are its disk's; look at the disk too.
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false, ""
	}
	for _, d := range []string{real, filepath.Dir(real)} {
		slaves, _ := os.ReadDir(filepath.Join(d, "slaves"))
		for _, s := range slaves {
			if ok, method := cryptBelow(filepath.Join(d, "slaves", s.Name()), depth+1); ok {
				return true, method
			}
		}
	}
	return false, ""
}
