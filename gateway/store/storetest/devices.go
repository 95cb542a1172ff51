package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/store"
)

// testDevices: a report is stored with its audit record, a second one
// keeps the first sighting and never moves the wipe or the last sync
// back; sightings move last seen only forward and only of known
// devices; the list carries the deny list's time; one ID reported by two
// users is two devices.
func testDevices(t *testing.T, h Harness) {
	s := h.Open(t)
	t0 := time.Now().UTC().Truncate(time.Microsecond)
	d := store.Device{Entity: "e-1", ID: "0123456789abcdef0123456789abcdef", User: "alice", Host: "LAPTOP-7", OS: "linux/amd64",
		Version: "v1.2.0", DiskState: "on", DiskMethod: "LUKS", WipeOnRevoke: true, LastSync: t0.Add(-time.Minute), Reported: t0}
	before := auditCount(t, s)
	got, err := s.Devices.PutDevice(ctx(t), d, Rec("device.report", ""))
	if err != nil {
		t.Fatal(err)
	}
	if n := auditCount(t, s) - before; n != 1 {
		t.Fatalf("PutDevice appended %d audit records, want 1", n)
	}
	if got.Host != "LAPTOP-7" || got.DiskMethod != "LUKS" || !got.WipeOnRevoke || !got.LastSync.Equal(d.LastSync) ||
		!got.FirstSeen.Equal(t0) || !got.LastSeen.Equal(t0) || !got.Reported.Equal(t0) || !got.Wiped.IsZero() || !got.Revoked.IsZero() {
		t.Fatalf("stored device = %+v", got)
	}
	// A later report: new fields; an older last sync does not go back.
	t1 := t0.Add(time.Hour)
	d2 := d
	d2.Host, d2.Version, d2.DiskState, d2.DiskMethod, d2.DiskDetail = "LAPTOP-8", "v1.3.0", "unknown", "", "no answer"
	d2.LastSync, d2.Wiped, d2.Reported = t0.Add(-time.Hour), t1, t1
	if got, err = s.Devices.PutDevice(ctx(t), d2, Rec("device.report", "")); err != nil {
		t.Fatal(err)
	}
	if got.Host != "LAPTOP-8" || got.Version != "v1.3.0" || got.DiskState != "unknown" || got.DiskDetail != "no answer" ||
		!got.FirstSeen.Equal(t0) || !got.Reported.Equal(t1) || !got.LastSeen.Equal(t1) || !got.LastSync.Equal(d.LastSync) || !got.Wiped.Equal(t1) {
		t.Fatalf("device after a second report = %+v", got)
	}
	d3 := d2
	d3.Wiped, d3.Reported = time.Time{}, t1.Add(time.Second)
	if got, _ = s.Devices.PutDevice(ctx(t), d3, Rec("device.report", "")); !got.Wiped.Equal(t1) {
		t.Fatalf("a report without the wipe took it back: %+v", got)
	}

	if ids, err := s.Devices.DeviceIDs(ctx(t), "e-1"); err != nil || len(ids) != 1 || ids[0] != d.ID {
		t.Fatalf("DeviceIDs(e-1) = %v, %v", ids, err)
	}
	if ids, err := s.Devices.DeviceIDs(ctx(t), "e-9"); err != nil || len(ids) != 0 {
		t.Fatalf("DeviceIDs(e-9) = %v, %v", ids, err)
	}

	// Sightings.
	if ok, err := s.Devices.DeviceSeen(ctx(t), "e-1", "ffffffffffffffffffffffffffffffff", t1, false); err != nil || ok {
		t.Fatalf("DeviceSeen of an unknown device = %v, %v", ok, err)
	}
	t2 := t1.Add(time.Hour)
	if ok, err := s.Devices.DeviceSeen(ctx(t), "e-1", d.ID, t2, false); err != nil || !ok {
		t.Fatalf("DeviceSeen = %v, %v", ok, err)
	}
	if ok, _ := s.Devices.DeviceSeen(ctx(t), "e-1", d.ID, t0, false); !ok {
		t.Fatal("DeviceSeen of an older time: not found")
	}
	// Another user's report of the same ID is another device.
	o := d
	o.Entity, o.User, o.Host, o.Reported = "e-2", "bob", "SHARED-PC", t0
	if _, err := s.Devices.PutDevice(ctx(t), o, Rec("device.report", "")); err != nil {
		t.Fatal(err)
	}
	all, err := s.Devices.Devices(ctx(t), "")
	if err != nil || len(all) != 2 || all[0].User != "alice" || all[1].User != "bob" {
		t.Fatalf("Devices = %+v, %v", all, err)
	}
	if !all[0].LastSeen.Equal(t2) || !all[0].RevokedSeen.IsZero() || all[1].Host != "SHARED-PC" {
		t.Fatalf("devices after sightings = %+v", all)
	}

	// Revoked: the deny list's time comes with the device, and a
	// refused sighting is kept.
	if _, _, err := s.Deny.AddDeny(ctx(t), store.DenyEntry{Entity: "e-1", Name: "alice", Reason: "left", CreatedBy: "it", Time: t2}, Rec("admin.deny.add", "")); err != nil {
		t.Fatal(err)
	}
	t3 := t2.Add(time.Minute)
	if ok, err := s.Devices.DeviceSeen(ctx(t), "e-1", d.ID, t3, true); err != nil || !ok {
		t.Fatalf("DeviceSeen revoked = %v, %v", ok, err)
	}
	mine, err := s.Devices.Devices(ctx(t), "alice")
	if err != nil || len(mine) != 1 {
		t.Fatalf("Devices(alice) = %+v, %v", mine, err)
	}
	if m := mine[0]; m.Revoked.IsZero() || !m.RevokedSeen.Equal(t3) || !m.LastSeen.Equal(t3) {
		t.Fatalf("revoked device = %+v", m)
	}
	if none, err := s.Devices.Devices(ctx(t), "carol"); err != nil || len(none) != 0 {
		t.Fatalf("Devices(carol) = %+v, %v", none, err)
	}

	// One entity has at most MaxDevicesPerEntity: a new one beyond is
	// refused, a known one still reports.
	c := d
	c.Entity, c.User = "e-3", "carol"
	for i := range store.MaxDevicesPerEntity {
		c.ID = fmt.Sprintf("%032x", i+1)
		if _, err := s.Devices.PutDevice(ctx(t), c, Rec("device.report", "")); err != nil {
			t.Fatalf("device %d: %v", i+1, err)
		}
	}
	before = auditCount(t, s)
	c.ID = fmt.Sprintf("%032x", store.MaxDevicesPerEntity+1)
	if _, err := s.Devices.PutDevice(ctx(t), c, Rec("device.report", "")); !errors.Is(err, store.ErrTooManyDevices) {
		t.Fatalf("device %d: %v, want ErrTooManyDevices", store.MaxDevicesPerEntity+1, err)
	}
	if n := auditCount(t, s) - before; n != 0 {
		t.Fatalf("a refused device appended %d audit records", n)
	}
	c.ID, c.Host = fmt.Sprintf("%032x", 1), "RENAMED"
	if got, err := s.Devices.PutDevice(ctx(t), c, Rec("device.report", "")); err != nil || got.Host != "RENAMED" {
		t.Fatalf("a known device at the cap: %+v, %v", got, err)
	}
	if all, err := s.Devices.Devices(ctx(t), "carol"); err != nil || len(all) != store.MaxDevicesPerEntity {
		t.Fatalf("carol has %d devices (%v), want %d", len(all), err, store.MaxDevicesPerEntity)
	}
}
