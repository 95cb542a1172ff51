package agent

import (
	"os/exec"
	"strings"
)

// diskEncryption asks fdesetup, which answers without administrator
// rights. FileVault covers the system volume group, which holds the home
// folders; a matters folder on an external disk reports the system's state,
// a known limit.
func diskEncryption(string) (string, string) {
	out, err := exec.Command("/usr/bin/fdesetup", "status").Output()
	if err != nil {
		return "unknown", "fdesetup: " + err.Error()
	}
	switch s := string(out); {
	case strings.Contains(s, "FileVault is On"):
		return "on", ""
	case strings.Contains(s, "FileVault is Off"):
		return "off", ""
	}
	return "unknown", strings.TrimSpace(string(out))
}
