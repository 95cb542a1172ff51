package agent

import (
	"strings"

	"github.com/mattersync/mattersync/gateway/api"
)

// DiskEncryption says whether the disk holding the matters folder is
// encrypted (BitLocker, FileVault, LUKS/dm-crypt): "on", "on (LUKS)",
// "off", or "unknown (<why>)". A firm's policy is that client files live
// only on encrypted disks; the agent reports it in status, its log and
// the device inventory so IT can check, and never guesses "on".
func DiskEncryption(path string) string { return diskText(diskReport(path)) }

func diskText(d api.DiskEncryption) string {
	switch {
	case d.State == api.DiskOn && d.Method != "":
		return d.State + " (" + d.Method + ")"
	case d.State == api.DiskUnknown && d.Detail != "":
		return d.State + " (" + d.Detail + ")"
	}
	return d.State
}

// diskReport asks the OS (diskenc_<os>.go) about the disk holding path.
func diskReport(path string) api.DiskEncryption {
	d := diskEncryption(path)
	if len(d.Detail) > api.MaxDiskDetail {
		d.Detail = d.Detail[:api.MaxDiskDetail]
	}
	d.Detail = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(d.Detail, "?"))
	return d
}

func unknownDisk(why string) api.DiskEncryption {
	return api.DiskEncryption{State: api.DiskUnknown, Detail: why}
}

// The parsers below read each OS's tool output; they are here, not in the
// build-tagged files, so their fixtures are tested on every OS.

// parseFdesetup reads `fdesetup status` (macOS).
func parseFdesetup(out string) api.DiskEncryption {
	switch {
	case strings.Contains(out, "FileVault is On"):
		return api.DiskEncryption{State: api.DiskOn, Method: "FileVault"}
	case strings.Contains(out, "FileVault is Off"):
		if strings.Contains(out, "Encryption in progress") || strings.Contains(out, "Decryption in progress") {
			return unknownDisk(firstLine(out))
		}
		return api.DiskEncryption{State: api.DiskOff}
	}
	return unknownDisk("fdesetup: " + firstLine(out))
}

// parseBitLockerProperty reads the shell's
// System.Volume.BitLockerProtection of a volume (Windows, no
// administrator rights needed): 1, 3 and 5 protected (3 while
// encrypting), 2 and 4 not (4 while decrypting), anything else (6: locked,
// empty: no such property) unknown.
func parseBitLockerProperty(out string) api.DiskEncryption {
	switch v := strings.TrimSpace(out); v {
	case "1", "3", "5":
		return api.DiskEncryption{State: api.DiskOn, Method: "BitLocker"}
	case "2", "4":
		return api.DiskEncryption{State: api.DiskOff}
	default:
		return unknownDisk("BitLocker protection status " + clipText(v, 40))
	}
}

// parseManageBde reads `manage-bde -status <volume>` (Windows, needs
// administrator rights; the service has them): its "Protection Status"
// and "Conversion Status" lines, in English.
func parseManageBde(out string) api.DiskEncryption {
	var protection, conversion string
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "Protection Status":
			protection = strings.TrimSpace(v)
		case "Conversion Status":
			conversion = strings.TrimSpace(v)
		}
	}
	switch {
	case strings.HasPrefix(protection, "Protection On"):
		return api.DiskEncryption{State: api.DiskOn, Method: "BitLocker"}
	case strings.HasPrefix(protection, "Protection Off") && conversion == "Fully Decrypted":
		return api.DiskEncryption{State: api.DiskOff}
	case strings.HasPrefix(protection, "Protection Off"):
		// Encrypted but suspended, or converting: the key is in the
		// clear on the disk, so not "on"; not plainly off either.
		return unknownDisk("BitLocker protection off, conversion status " + clipText(conversion, 60))
	}
	return unknownDisk("manage-bde: no protection status (" + clipText(firstLine(out), 80) + ")")
}

// dmCryptKind reads a device-mapper uuid (/sys/block/dm-N/dm/uuid): a
// dm-crypt mapping's starts with CRYPT-, LUKS ones with CRYPT-LUKS.
func dmCryptKind(uuid string) (crypt bool, method string) {
	uuid = strings.TrimSpace(uuid)
	switch {
	case strings.HasPrefix(uuid, "CRYPT-LUKS"):
		return true, "LUKS"
	case strings.HasPrefix(uuid, "CRYPT-"):
		return true, ""
	}
	return false, ""
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return clipText(strings.TrimSpace(s), 120)
}

func clipText(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
