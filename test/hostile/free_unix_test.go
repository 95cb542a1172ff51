//go:build linux || darwin

package hostile

import (
	"testing"

	"golang.org/x/sys/unix"
)

func freeBytes(t *testing.T, dir string) uint64 {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return uint64(st.Bavail) * uint64(st.Bsize)
}
