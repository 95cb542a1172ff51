package agent

import (
	"os/exec"

	"github.com/mattersync/mattersync/gateway/api"
)

// diskEncryption asks fdesetup, which answers without administrator
// rights. FileVault covers the system volume group, which holds the home
// folders; a matters folder on an external disk reports the system's state,
// a known limit.
func diskEncryption(string) api.DiskEncryption {
	out, err := exec.Command("/usr/bin/fdesetup", "status").Output()
	if err != nil {
		return unknownDisk("fdesetup: " + err.Error())
	}
	return parseFdesetup(string(out))
}
