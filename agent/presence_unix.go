//go:build !windows

package agent

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// openMarkable opens path itself, never what a symbolic link there points
// to (O_NOFOLLOW: a link put in its place after a look must not carry the
// chmod elsewhere; O_NONBLOCK: a FIFO does not hang the open), for a
// chmod through the handle. A link, or anything but a regular file, is
// f nil and no error: nothing to mark.
func openMarkable(path string) (f *os.File, fi fs.FileInfo, err error) {
	f, err = os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// markReadOnly takes the write bits off path and returns its permission
// bits before (prev), or marked false if it was read-only already (then
// nothing changed and nothing is to be restored).
func markReadOnly(path string) (prev uint32, marked bool, err error) {
	f, fi, err := openMarkable(path)
	if err != nil || f == nil {
		return 0, false, err
	}
	defer f.Close()
	perm := uint32(fi.Mode().Perm())
	if unixReadOnly(perm) {
		return perm, false, nil
	}
	return perm, true, f.Chmod(os.FileMode(unixMarked(perm)))
}

// restoreWritable gives path back the write bits it had before
// markReadOnly (prev).
func restoreWritable(path string, prev uint32) error {
	f, fi, err := openMarkable(path)
	if err != nil || f == nil {
		return err
	}
	defer f.Close()
	return f.Chmod(os.FileMode(unixRestored(uint32(fi.Mode().Perm()), prev)))
}

// readOnlyNow reports whether path is marked read-only (no owner write bit).
func readOnlyNow(path string) (bool, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return false, err
	}
	return unixReadOnly(uint32(fi.Mode().Perm())), nil
}
