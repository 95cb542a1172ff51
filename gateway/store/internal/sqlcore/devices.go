package sqlcore

// The device inventory (docs/API.md, "Device inventory").

import (
	"context"
	"strconv"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

// PutDevice records d, an agent's report, seen at d.Reported, and appends
// rec in the same transaction; a new device of an entity that has
// store.MaxDevicesPerEntity is refused (store.ErrTooManyDevices). A known device keeps its first sighting,
// and its wipe and last sync never go back (a report of an older
// state, delayed, changes neither). It returns the stored device.
func (s *Store) PutDevice(ctx context.Context, d store.Device, rec *audit.Record) (store.Device, error) {
	now := store.Micros(d.Reported)
	var out store.Device
	err := s.db.Write(ctx, func(tx Querier) error {
		var n int64
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM devices WHERE entity = $1 AND id <> $2`, d.Entity, d.ID).Scan(&n); err != nil {
			return err
		}
		if n >= store.MaxDevicesPerEntity {
			var known int64
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM devices WHERE entity = $1 AND id = $2`, d.Entity, d.ID).Scan(&known); err != nil {
				return err
			}
			if known == 0 {
				return store.ErrTooManyDevices
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO devices (entity, id, username, host, os, agent_version, disk_state, disk_method, disk_detail,
				wipe_on_revoke, wiped_us, last_sync_us, first_seen_us, reported_us, last_seen_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $13)
			ON CONFLICT (entity, id) DO UPDATE SET username = excluded.username, host = excluded.host, os = excluded.os,
				agent_version = excluded.agent_version, disk_state = excluded.disk_state, disk_method = excluded.disk_method,
				disk_detail = excluded.disk_detail, wipe_on_revoke = excluded.wipe_on_revoke,
				wiped_us = CASE WHEN excluded.wiped_us > devices.wiped_us THEN excluded.wiped_us ELSE devices.wiped_us END,
				last_sync_us = CASE WHEN excluded.last_sync_us > devices.last_sync_us THEN excluded.last_sync_us ELSE devices.last_sync_us END,
				reported_us = excluded.reported_us,
				last_seen_us = CASE WHEN excluded.last_seen_us > devices.last_seen_us THEN excluded.last_seen_us ELSE devices.last_seen_us END`,
			d.Entity, d.ID, d.User, d.Host, d.OS, d.Version, d.DiskState, d.DiskMethod, d.DiskDetail,
			d.WipeOnRevoke, micros(d.Wiped), micros(d.LastSync), now); err != nil {
			return err
		}
		var err error
		if out, err = scanDevice(tx.QueryRow(ctx, deviceSelect+` WHERE v.entity = $1 AND v.id = $2`, d.Entity, d.ID)); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return out, s.wrap("put device", err)
	}
	return out, nil
}

// DeviceSeen notes that device id of entity made a request at at, refused
// by the deny list if revoked. It reports whether the device is known (an
// unknown one is not recorded: it reports itself first).
func (s *Store) DeviceSeen(ctx context.Context, entity, id string, at time.Time, revoked bool) (bool, error) {
	us := store.Micros(at)
	rs := int64(0)
	if revoked {
		rs = us
	}
	var n int64
	err := s.db.Write(ctx, func(tx Querier) error {
		var err error
		n, err = tx.Exec(ctx, `UPDATE devices SET
				last_seen_us = CASE WHEN $3 > last_seen_us THEN $3 ELSE last_seen_us END,
				revoked_seen_us = CASE WHEN $4 > revoked_seen_us THEN $4 ELSE revoked_seen_us END
			WHERE entity = $1 AND id = $2`, entity, id, us, rs)
		return err
	})
	if err != nil {
		return false, s.wrap("device seen", err)
	}
	return n > 0, nil
}

// DeviceIDs returns the IDs of entity's devices: the gateway writes a
// sighting only of a device it knows, so a header cannot buy a write.
func (s *Store) DeviceIDs(ctx context.Context, entity string) ([]string, error) {
	out, err := queryAll(ctx, s.db.Read(), nil, func(sc Scanner) (string, error) {
		var id string
		err := sc.Scan(&id)
		return id, err
	}, `SELECT id FROM devices WHERE entity = $1 ORDER BY id`, entity)
	if err != nil {
		return nil, s.wrap("device ids", err)
	}
	return out, nil
}

// Devices returns the devices of the user named user ("": every user's),
// by user name, host and ID, each with the time its entity was put on
// the deny list, if it is on it: at most api.MaxDeviceList+1, so the
// caller can tell the list was cut.
func (s *Store) Devices(ctx context.Context, user string) ([]store.Device, error) {
	q, args := deviceSelect, []any{}
	if user != "" {
		q += ` WHERE v.username = $1`
		args = append(args, user)
	}
	out, err := queryAll(ctx, s.db.Read(), nil, scanDevice, q+` ORDER BY v.username, v.host, v.id LIMIT `+strconv.Itoa(api.MaxDeviceList+1), args...)
	if err != nil {
		return nil, s.wrap("devices", err)
	}
	return out, nil
}

const deviceSelect = `SELECT v.entity, v.id, v.username, v.host, v.os, v.agent_version, v.disk_state, v.disk_method, v.disk_detail,
	v.wipe_on_revoke, v.wiped_us, v.last_sync_us, v.first_seen_us, v.reported_us, v.last_seen_us, v.revoked_seen_us,
	COALESCE(d.created_us, 0)
	FROM devices v LEFT JOIN deny d ON d.entity = v.entity`

func scanDevice(sc Scanner) (store.Device, error) {
	var d store.Device
	var wiped, sync, first, rep, seen, rseen, revoked int64
	err := sc.Scan(&d.Entity, &d.ID, &d.User, &d.Host, &d.OS, &d.Version, &d.DiskState, &d.DiskMethod, &d.DiskDetail,
		&d.WipeOnRevoke, &wiped, &sync, &first, &rep, &seen, &rseen, &revoked)
	d.Wiped, d.LastSync, d.RevokedSeen, d.Revoked = fromMicros(wiped), fromMicros(sync), fromMicros(rseen), fromMicros(revoked)
	d.FirstSeen, d.Reported, d.LastSeen = store.FromMicros(first), store.FromMicros(rep), store.FromMicros(seen)
	return d, err
}

// micros is store.Micros with the zero time as 0.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return store.Micros(t)
}

// fromMicros is store.FromMicros with 0 as the zero time.
func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return store.FromMicros(us)
}
