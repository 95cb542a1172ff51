//go:build !windows

package agent

import (
	"fmt"
	"os"
)

// dirSyncSupported: fsync on a folder makes a rename in it durable.
const dirSyncSupported = true

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// privateDir creates dir (and its parents) for the user alone, and takes
// group and other access away from it if it exists with more: matter
// folders hold client confidences, and on a shared machine a 0755 folder
// lets every local account read them.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, fi.Mode().Perm()&0o700); err != nil {
			return fmt.Errorf("make %s private: %w", dir, err)
		}
	}
	return nil
}
