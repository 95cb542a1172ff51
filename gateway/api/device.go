package api

import (
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// HeaderDeviceID carries the agent's device ID (ValidDeviceID) on every
// request, so the gateway can note when each device was last seen
// (throttled; docs/API.md, "Device inventory"). Optional.
const HeaderDeviceID = "X-Mattersync-Device-Id"

// Disk encryption states in a DeviceReport.
const (
	DiskOn      = "on"
	DiskOff     = "off"
	DiskUnknown = "unknown"
)

// Bounds of a DeviceReport's fields (bytes).
const (
	MaxDeviceHost    = 255
	MaxDeviceOS      = 128
	MaxDeviceVersion = 64
	MaxDiskDetail    = 256
	// MaxDeviceReportBytes bounds the body of PUT /v1/device.
	MaxDeviceReportBytes = 4096
)

// ValidDeviceID reports whether s is a device ID: 32 lowercase hex
// characters (16 random bytes an agent generated once per install; never a
// hardware serial).
func ValidDeviceID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// DiskEncryption is whether the disk holding an agent's matter folders is
// encrypted, as the agent detects it.
type DiskEncryption struct {
	// State is on, off or unknown (the agent could not tell; never a
	// guess).
	State string `json:"state"`
	// Method is BitLocker, FileVault or LUKS when State is on.
	Method string `json:"method,omitempty"`
	// Detail says why the state is unknown, or what was detected.
	Detail string `json:"detail,omitempty"`
}

// DeviceReport is what an agent tells the gateway about its device
// (PUT /v1/device): at start, when something in it changed, and after a
// wipe.
type DeviceReport struct {
	DeviceID string `json:"device_id"`
	// Host is the computer's host name (personal data the firm owns:
	// docs/OPERATIONS.md, "Device inventory").
	Host           string         `json:"host"`
	OS             string         `json:"os"`
	AgentVersion   string         `json:"agent_version"`
	DiskEncryption DiskEncryption `json:"disk_encryption"`
	// WipeOnRevoke says whether the agent is configured to remove its
	// matter folders when its user is revoked; Wiped when it did.
	WipeOnRevoke bool      `json:"wipe_on_revoke"`
	Wiped        time.Time `json:"wiped,omitzero"`
	// LastSync is the agent's last successful sync pass of all its
	// matters (zero: none yet).
	LastSync time.Time `json:"last_sync,omitzero"`
}

// Validate names the first field of r that is not acceptable.
func (r DeviceReport) Validate() error {
	if !ValidDeviceID(r.DeviceID) {
		return fmt.Errorf("device_id must be 32 lowercase hex characters")
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"host", r.Host, MaxDeviceHost}, {"os", r.OS, MaxDeviceOS}, {"agent_version", r.AgentVersion, MaxDeviceVersion},
	} {
		if f.v == "" || len(f.v) > f.max || !printable(f.v) {
			return fmt.Errorf("%s must be 1 to %d bytes of printable UTF-8", f.name, f.max)
		}
	}
	d := r.DiskEncryption
	switch d.State {
	case DiskOn, DiskOff, DiskUnknown:
	default:
		return fmt.Errorf("disk_encryption.state must be on, off or unknown")
	}
	switch d.Method {
	case "", "BitLocker", "FileVault", "LUKS":
	default:
		return fmt.Errorf("disk_encryption.method must be BitLocker, FileVault, LUKS or empty")
	}
	if len(d.Detail) > MaxDiskDetail || (d.Detail != "" && !printable(d.Detail)) {
		return fmt.Errorf("disk_encryption.detail must be at most %d bytes of printable UTF-8", MaxDiskDetail)
	}
	for _, t := range []struct {
		name string
		v    time.Time
	}{{"wiped", r.Wiped}, {"last_sync", r.LastSync}} {
		if !t.v.IsZero() && (t.v.Year() < 2000 || t.v.Year() > 9999) {
			return fmt.Errorf("%s must be a time between the years 2000 and 9999", t.name)
		}
	}
	return nil
}

// printable: valid UTF-8 without control or format characters (no
// newlines or bidi overrides in an inventory a person reads).
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if !unicode.IsPrint(c) && c != ' ' {
			return false
		}
	}
	return true
}

// Device is one device in the inventory (GET /v1/admin/devices): the
// agent's last report and what the gateway saw.
type Device struct {
	DeviceReport
	Entity string `json:"entity"`
	User   string `json:"user"`
	// FirstSeen is the first report, Reported the last, LastSeen the
	// last request carrying the device ID (within a few minutes).
	FirstSeen time.Time `json:"first_seen"`
	Reported  time.Time `json:"reported"`
	LastSeen  time.Time `json:"last_seen"`
	// Revoked is when the user was put on the deny list (zero: not
	// on it); RevokedSeen the last request of this device the deny list
	// refused.
	Revoked     time.Time `json:"revoked,omitzero"`
	RevokedSeen time.Time `json:"revoked_seen,omitzero"`
}

// RevokedStillSeen reports whether the device made a request after its
// user was revoked.
func (d Device) RevokedStillSeen() bool {
	return !d.Revoked.IsZero() && !d.RevokedSeen.IsZero() && !d.RevokedSeen.Before(d.Revoked)
}

// Devices is the answer of GET /v1/admin/devices.
type Devices struct {
	Devices []Device `json:"devices"`
	// Truncated: there were more than MaxDeviceList devices; ask per
	// user (?user=) for the rest.
	Truncated bool `json:"truncated,omitempty"`
}

// MaxDeviceList is the most devices one GET /v1/admin/devices answers.
const MaxDeviceList = 10_000
