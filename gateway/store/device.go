package store

import (
	"errors"
	"time"
)

// MaxDevicesPerEntity is the most devices one entity has in the
// inventory: each report of a new ID is a row, so without it one token
// could add rows without bound.
const MaxDevicesPerEntity = 20

// ErrTooManyDevices refuses a report of a new device of an entity that
// has MaxDevicesPerEntity.
var ErrTooManyDevices = errors.New("store: the user has the most devices the inventory keeps")

// Device is one agent install in the device inventory: its last report
// (PUT /v1/device) and when the gateway saw it. A device belongs to the
// entity that reported it: the same ID reported by two users is two
// devices.
type Device struct {
	Entity, ID string
	User       string
	Host, OS   string
	Version    string // agent version
	// DiskState is on, off or unknown; DiskMethod BitLocker, FileVault,
	// LUKS or ""; DiskDetail why unknown.
	DiskState, DiskMethod, DiskDetail string
	WipeOnRevoke                      bool
	Wiped                             time.Time // zero: never
	LastSync                          time.Time // the agent's last successful sync
	FirstSeen, Reported, LastSeen     time.Time
	// RevokedSeen is the last request of the device the deny list
	// refused (zero: none).
	RevokedSeen time.Time
	// Revoked is when the entity was put on the deny list (zero: not on
	// it), filled by Devices.
	Revoked time.Time
}
