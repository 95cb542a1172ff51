package agent

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mattersync/mattersync/gateway/api"
)

// TestDeviceIDAndVersion: the device ID is made once and kept (a damaged
// file gives a new one); the version is the command's stamp, else the
// build's.
func TestDeviceIDAndVersion(t *testing.T) {
	dir := t.TempDir()
	id, err := LoadDeviceID(dir)
	if err != nil || !api.ValidDeviceID(id) {
		t.Fatalf("LoadDeviceID = %q, %v", id, err)
	}
	if again, err := LoadDeviceID(dir); err != nil || again != id {
		t.Fatalf("second LoadDeviceID = %q, %v, want %q", again, err, id)
	}
	if fi, err := os.Stat(filepath.Join(dir, deviceIDFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("device-id file: %v, %v", fi, err)
	}
	os.WriteFile(filepath.Join(dir, deviceIDFile), []byte("not an id"), 0o600)
	if other, err := LoadDeviceID(dir); err != nil || other == id || !api.ValidDeviceID(other) {
		t.Fatalf("after damage: %q, %v", other, err)
	}
	if v := agentVersion("v1.4.0"); v != "v1.4.0" {
		t.Errorf("agentVersion(v1.4.0) = %q", v)
	}
	if v := agentVersion("dev"); v == "" || len(v) > api.MaxDeviceVersion {
		t.Errorf("agentVersion(dev) = %q", v)
	}
}
