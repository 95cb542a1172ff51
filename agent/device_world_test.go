package agent_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/kms"
)

// TestDeviceInventory: an agent's device appears in the gateway's
// inventory with its host, OS, version, disk encryption and wipe policy;
// its last successful sync moves with the next pass; its ID stays the
// same across restarts; and once its user is revoked, a request carrying
// the device ID marks it as still seen.
func TestDeviceInventory(t *testing.T) {
	eachWorld(t, func(w *world) {
		ctx := context.Background()
		u := w.member(kms.RoleRW)
		a := w.agent(u) // one pass: the device reports
		admin, err := client.New(w.gateway, w.v.Login(t, w.v.User(t, true)), client.Options{Device: "it"})
		if err != nil {
			t.Fatal(err)
		}
		list := func() api.Device {
			t.Helper()
			ds, err := admin.Devices(ctx, u.Name)
			if err != nil || len(ds) != 1 {
				t.Fatalf("devices of %s: %+v, %v", u.Name, ds, err)
			}
			return ds[0]
		}
		d := list()
		host, _ := os.Hostname()
		id, err := agent.LoadDeviceID(a.cfg.DataDir)
		if err != nil || d.DeviceID != id {
			t.Fatalf("device ID %q, the agent's %q (%v)", d.DeviceID, id, err)
		}
		if d.Host != host || !strings.HasPrefix(d.OS, runtime.GOOS+"/"+runtime.GOARCH) || d.AgentVersion == "" || d.Entity != u.EntityID ||
			d.WipeOnRevoke || !d.Wiped.IsZero() || d.LastSync.IsZero() || d.LastSeen.IsZero() {
			t.Fatalf("device = %+v", d)
		}
		if want := agent.DiskEncryption(a.cfg.Root); !strings.HasPrefix(want, d.DiskEncryption.State) {
			t.Fatalf("disk encryption %+v, the agent says %q", d.DiskEncryption, want)
		}

		a.write("brief.docx", []byte("draft"))
		a.sync()
		d2 := list()
		if !d2.LastSync.After(d.LastSync) || !d2.FirstSeen.Equal(d.FirstSeen) {
			t.Fatalf("after a second pass: last sync %s (was %s), first seen %s (was %s)", d2.LastSync, d.LastSync, d2.FirstSeen, d.FirstSeen)
		}

		// The same data dir after a restart: the same device.
		again := w.agentAt(u, a.cfg.Root, a.cfg.DataDir)
		again.sync()
		if ds, err := admin.Devices(ctx, u.Name); err != nil || len(ds) != 1 {
			t.Fatalf("after a restart: %+v, %v", ds, err)
		}

		// Revoked: the device is seen after the revocation.
		w.deny(u)
		probe, err := client.New(w.gateway, w.v.Login(t, u), client.Options{Device: a.cfg.DeviceName, DeviceID: id})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := probe.Matters(ctx); client.Code(err) != api.CodeRevoked {
			t.Fatalf("revoked user's request: %v", err)
		}
		if d3 := list(); d3.Revoked.IsZero() || !d3.RevokedStillSeen() {
			t.Fatalf("revoked device = %+v", d3)
		}
	})
}

// TestDeviceWipeReported: an agent under wipe_on_revoke that wipes its
// folders after IT revoked its user tells the gateway, with the token it
// held: the inventory shows the device configured to wipe, wiped, and
// seen after the revocation.
func TestDeviceWipeReported(t *testing.T) {
	w := newWorld(t)
	w.seedBrief()
	u, b := w.syncedMember(true)
	w.deny(u)
	if _, err := b.SyncOnce(context.Background()); !errors.Is(err, agent.ErrRevoked) {
		t.Fatalf("sync after deny: %v, want ErrRevoked", err)
	}
	w.disable(u)
	if _, err := b.SyncOnce(context.Background()); !errors.Is(err, agent.ErrRevoked) {
		t.Fatalf("sync after Vault revoke: %v, want ErrRevoked", err)
	}
	b.wantWiped(true)
	ds, err := w.gw.Stores.Devices.Devices(context.Background(), u.Name)
	if err != nil || len(ds) != 1 {
		t.Fatalf("devices of %s: %+v, %v", u.Name, ds, err)
	}
	if d := ds[0]; !d.WipeOnRevoke || d.Wiped.IsZero() || d.Revoked.IsZero() || d.Wiped.Before(d.Revoked.Truncate(time.Second)) {
		t.Fatalf("device after the wipe = %+v", d)
	}
}
