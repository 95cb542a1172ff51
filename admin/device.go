package admin

// The device inventory: each user's agents as the gateway knows them
// (docs/OPERATIONS.md, "Device inventory").

import (
	"context"
	"fmt"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/internal/fault"
)

// DeviceLister is the gateway's device inventory (*client.Client).
type DeviceLister interface {
	Devices(ctx context.Context, user string) ([]api.Device, error)
}

// DeviceFilter chooses devices from the inventory; the zero value keeps
// every one.
type DeviceFilter struct {
	// User keeps the devices of the user of this name (checked in Vault
	// when a Vault session is there: "no such user" otherwise).
	User string
	// Stale keeps the devices not seen for at least this long (0: off).
	Stale time.Duration
	// RevokedSeen keeps the devices that made a request after their user
	// was revoked.
	RevokedSeen bool
	// Now is the time Stale counts from (zero: time.Now()).
	Now time.Time
}

// Devices returns the devices f keeps, by user, host and ID.
func (s *Session) Devices(ctx context.Context, f DeviceFilter) ([]api.Device, error) {
	if f.Stale < 0 {
		return nil, fault.Errorf(fault.Invalid, "stale must not be negative")
	}
	if f.User != "" && s.Vault != nil {
		if err := s.RequireUser(ctx, f.User); err != nil {
			return nil, err
		}
	}
	g, err := s.gateway(ctx)
	if err != nil {
		return nil, err
	}
	dl, ok := g.(DeviceLister)
	if !ok {
		return nil, fault.Errorf(fault.Invalid, "this gateway client cannot list devices")
	}
	all, err := dl.Devices(ctx, f.User)
	if err != nil {
		return nil, fmt.Errorf("device list: %w", err)
	}
	now := f.Now
	if now.IsZero() {
		now = time.Now()
	}
	out := all[:0:0]
	for _, d := range all {
		if f.Stale > 0 && now.Sub(d.LastSeen) < f.Stale {
			continue
		}
		if f.RevokedSeen && !d.RevokedStillSeen() {
			continue
		}
		out = append(out, d)
	}
	return out, nil
}
