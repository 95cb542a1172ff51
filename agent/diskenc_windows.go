package agent

import (
	"os"
	"os/exec"
	"path/filepath"

	"github.com/mattersync/mattersync/gateway/api"
)

// diskEncryption reads the volume's BitLocker protection through the
// shell's property system, which (unlike manage-bde) needs no
// administrator rights; when that gives no answer, manage-bde, which does
// when the agent runs as a service.
func diskEncryption(path string) api.DiskEncryption {
	vol := filepath.VolumeName(path)
	if vol == "" {
		return unknownDisk("no volume for the matters folder")
	}
	script := "(New-Object -ComObject Shell.Application).NameSpace('" + vol + "').Self.ExtendedProperty('System.Volume.BitLockerProtection')"
	out, err := exec.Command("powershell.exe", "-NoProfile", "-NonInteractive", "-Command", script).Output()
	if err == nil {
		if d := parseBitLockerProperty(string(out)); d.State != api.DiskUnknown {
			return d
		}
	}
	bde, berr := exec.Command(filepath.Join(windowsDir(), "System32", "manage-bde.exe"), "-status", vol).Output()
	if berr != nil {
		if err != nil {
			return unknownDisk("BitLocker status: " + err.Error() + "; manage-bde: " + berr.Error())
		}
		return parseBitLockerProperty(string(out))
	}
	return parseManageBde(string(bde))
}

func windowsDir() string {
	if d := os.Getenv("SystemRoot"); d != "" {
		return d
	}
	return `C:\Windows`
}
