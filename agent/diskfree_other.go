//go:build !linux && !darwin && !windows

package agent

import "errors"

// freeSpace is unknown here: downloads are bounded by max_file_size only.
func freeSpace(string) (uint64, error) { return 0, errors.New("free space unknown on this OS") }
