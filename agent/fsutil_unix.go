//go:build !windows

package agent

import "os"

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
