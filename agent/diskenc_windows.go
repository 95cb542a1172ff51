package agent

import (
	"os/exec"
	"path/filepath"
	"strings"
)

// diskEncryption reads the volume's BitLocker protection through the
// shell's property system, which (unlike manage-bde) needs no
// administrator rights: 1 and 3 mean protected (3 while encrypting), 2 off.
func diskEncryption(path string) (string, string) {
	vol := filepath.VolumeName(path)
	if vol == "" {
		return "unknown", "no volume for " + path
	}
	script := "(New-Object -ComObject Shell.Application).NameSpace('" + vol + "').Self.ExtendedProperty('System.Volume.BitLockerProtection')"
	out, err := exec.Command("powershell.exe", "-NoProfile", "-NonInteractive", "-Command", script).Output()
	if err != nil {
		return "unknown", "BitLocker status: " + err.Error()
	}
	switch strings.TrimSpace(string(out)) {
	case "1", "3", "5":
		return "on", ""
	case "2", "4":
		return "off", ""
	}
	return "unknown", "BitLocker status " + strings.TrimSpace(string(out))
}
