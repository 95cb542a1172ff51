package agent

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mattersync/mattersync/gateway/api"
)

// TestDiskEncryptionParsers: each OS tool's output, from fixtures in
// testdata/diskenc, gives on (with the method), off, or unknown with a
// reason, never a guess.
func TestDiskEncryptionParsers(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", "diskenc", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, c := range []struct {
		name   string
		parse  func(string) api.DiskEncryption
		state  string
		method string
	}{
		{"fdesetup-on.txt", parseFdesetup, api.DiskOn, "FileVault"},
		{"fdesetup-off.txt", parseFdesetup, api.DiskOff, ""},
		{"fdesetup-encrypting.txt", parseFdesetup, api.DiskUnknown, ""},
		{"fdesetup-error.txt", parseFdesetup, api.DiskUnknown, ""},
		{"manage-bde-on.txt", parseManageBde, api.DiskOn, "BitLocker"},
		{"manage-bde-off.txt", parseManageBde, api.DiskOff, ""},
		{"manage-bde-suspended.txt", parseManageBde, api.DiskUnknown, ""},
		{"manage-bde-denied.txt", parseManageBde, api.DiskUnknown, ""},
	} {
		d := c.parse(read(c.name))
		if d.State != c.state || d.Method != c.method || (d.State == api.DiskUnknown) != (d.Detail != "") {
			t.Errorf("%s: %+v, want %s %q (and a reason when unknown)", c.name, d, c.state, c.method)
		}
	}
	for out, want := range map[string]string{"1\r\n": api.DiskOn, "3": api.DiskOn, "5": api.DiskOn, "2\n": api.DiskOff, "4": api.DiskOff, "6": api.DiskUnknown, "": api.DiskUnknown, "garbage": api.DiskUnknown} {
		if d := parseBitLockerProperty(out); d.State != want || (want == api.DiskOn) != (d.Method == "BitLocker") {
			t.Errorf("parseBitLockerProperty(%q) = %+v, want %s", out, d, want)
		}
	}
	for uuid, want := range map[string]string{"CRYPT-LUKS2-3f0c8e-luks\n": "LUKS", "CRYPT-LUKS1-ab-x": "LUKS", "CRYPT-PLAIN-x": "plain", "LVM-abc": "", "": "", "mpath-3600": ""} {
		ok, method := dmCryptKind(uuid)
		if ok && method == "" {
			method = "plain"
		}
		if method != want || ok != (want != "") {
			t.Errorf("dmCryptKind(%q) = %v %q, want %q", uuid, ok, method, want)
		}
	}
	// Whatever a tool prints, the report is valid for the gateway.
	d := diskReport(t.TempDir())
	if err := (api.DeviceReport{DeviceID: "00112233445566778899aabbccddeeff", Host: "h", OS: "o", AgentVersion: "v", DiskEncryption: d}).Validate(); err != nil {
		t.Errorf("diskReport = %+v: %v", d, err)
	}
}
