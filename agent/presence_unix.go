//go:build !windows

package agent

import "os"

// markReadOnly takes the write bits off path and returns its permission
// bits before (prev), or marked false if it was read-only already (then
// nothing changed and nothing is to be restored).
func markReadOnly(path string) (prev uint32, marked bool, err error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return 0, false, err
	}
	perm := uint32(fi.Mode().Perm())
	if !fi.Mode().IsRegular() || unixReadOnly(perm) {
		return perm, false, nil
	}
	return perm, true, os.Chmod(path, os.FileMode(unixMarked(perm)))
}

// restoreWritable gives path back the write bits it had before
// markReadOnly (prev).
func restoreWritable(path string, prev uint32) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	return os.Chmod(path, os.FileMode(unixRestored(uint32(fi.Mode().Perm()), prev)))
}

// readOnlyNow reports whether path is marked read-only (no owner write bit).
func readOnlyNow(path string) (bool, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return false, err
	}
	return unixReadOnly(uint32(fi.Mode().Perm())), nil
}
