//go:build !linux && !darwin && !windows

package agent

import "github.com/mattersync/mattersync/gateway/api"

func diskEncryption(string) api.DiskEncryption { return unknownDisk("not supported on this OS") }
