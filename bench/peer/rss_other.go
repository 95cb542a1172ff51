//go:build !linux

package main

import (
	"errors"
	"os"
	"time"
)

// peakRSS is not measured outside Linux.
func peakRSS(*os.ProcessState) int64 { return 0 }

// cpuTime is not measured outside Linux.
func cpuTime(int) (time.Duration, error) { return 0, errors.ErrUnsupported }
