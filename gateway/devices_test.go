package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/gateway/store"
)

const testDeviceID = "00112233445566778899aabbccddeeff"

func deviceReport() api.DeviceReport {
	return api.DeviceReport{DeviceID: testDeviceID, Host: "LAPTOP-7", OS: "windows/amd64 10.0.22631", AgentVersion: "v1.4.0",
		DiskEncryption: api.DiskEncryption{State: api.DiskOn, Method: "BitLocker"}, WipeOnRevoke: true,
		LastSync: time.Now().Add(-time.Minute).UTC().Truncate(time.Second)}
}

// TestDeviceInventory: an agent's report is listed to administrators with
// what the gateway saw; lawyers cannot list; a revoked user's device
// that keeps calling is marked as seen after the revocation, and its
// wipe report is recorded while it is still refused.
func TestDeviceInventory(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testDeviceInventory(t, gatewaytest.Options{}) })
	t.Run("postgres", func(t *testing.T) { testDeviceInventory(t, gatewaytest.Options{Postgres: true}) })
}

func testDeviceInventory(t *testing.T, o gatewaytest.Options) {
	g := gatewaytest.Start(t, o)
	ctx := context.Background()
	alice := g.Client(t, g.Token(t, "ent-alice", "matter-2026-0001-rw"), "LAPTOP-7")
	admin := g.Client(t, g.Token(t, "ent-root", auth.AdminGroup), "ADMIN")

	rep := deviceReport()
	d, err := alice.ReportDevice(ctx, rep, "")
	if err != nil {
		t.Fatal(err)
	}
	if d.Entity != "ent-alice" || d.Host != "LAPTOP-7" || d.FirstSeen.IsZero() || !d.LastSync.Equal(rep.LastSync) {
		t.Fatalf("report answered %+v", d)
	}
	if _, err := alice.Devices(ctx, ""); client.Code(err) != api.CodeForbidden {
		t.Fatalf("a lawyer listed the devices: %v", err)
	}
	list, err := admin.Devices(ctx, "")
	if err != nil || len(list) != 1 {
		t.Fatalf("Devices = %+v, %v", list, err)
	}
	got := list[0]
	if got.User != d.User || got.OS != rep.OS || got.AgentVersion != "v1.4.0" || got.DiskEncryption != rep.DiskEncryption ||
		!got.WipeOnRevoke || !got.Wiped.IsZero() || got.RevokedStillSeen() {
		t.Fatalf("listed %+v", got)
	}
	if l, err := admin.Devices(ctx, "nobody"); err != nil || len(l) != 0 {
		t.Fatalf("Devices(nobody) = %+v, %v", l, err)
	}

	// Revoked: the device header on a refused request is a sighting, and
	// the wipe report is recorded though the answer is 403.
	if err := admin.Deny(ctx, "ent-alice", d.User, "left the firm"); err != nil {
		t.Fatal(err)
	}
	tok := g.Token(t, "ent-alice", "matter-2026-0001-rw")
	withID, err := client.New(g.URL, client.StaticToken(tok), client.Options{Device: "LAPTOP-7", DeviceID: testDeviceID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := withID.Matters(ctx); client.Code(err) != api.CodeRevoked {
		t.Fatalf("revoked caller: %v", err)
	}
	rep.Wiped = time.Now().UTC().Truncate(time.Second)
	if _, err := withID.ReportDevice(ctx, rep, ""); client.Code(err) != api.CodeRevoked {
		t.Fatalf("revoked device report: %v", err)
	}
	list, err = admin.Devices(ctx, d.User)
	if err != nil || len(list) != 1 {
		t.Fatalf("Devices(%s) = %+v, %v", d.User, list, err)
	}
	if got := list[0]; got.Revoked.IsZero() || !got.RevokedStillSeen() || !got.Wiped.Equal(rep.Wiped) {
		t.Fatalf("revoked device = %+v", got)
	}
	// Both refusals are audited as revoked (the alert rule's marker), the
	// report with its device and wipe (the tamper-evident chain holds it).
	var objs []string
	err = g.Stores.Audit.AuditRecords(ctx, audit.Query{Entity: "ent-alice"}, func(r *audit.Record) error {
		if strings.HasPrefix(r.Object, "deny:revoked") {
			objs = append(objs, r.Object)
		}
		return nil
	})
	wipe := "deny:revoked device=" + testDeviceID + " wiped=" + rep.Wiped.Format(time.RFC3339)
	if err != nil || len(objs) != 2 || objs[0] != "deny:revoked" || objs[1] != wipe {
		t.Fatalf("revoked refusals audited %q (%v), want deny:revoked, then %q", objs, err, wipe)
	}
}

// TestDeviceBadInput: malformed reports and headers are refused with
// 400 naming the problem, an oversized body with 413; nothing is stored.
func TestDeviceBadInput(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{})
	tok := g.Token(t, "ent-alice", "matter-2026-0001-rw")
	put := func(body []byte, hdr map[string]string) (int, api.Error) {
		r, err := http.NewRequest(http.MethodPut, g.URL+"/v1/device", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "Bearer "+tok)
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		res, err := g.HTTP.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var e api.Error
		json.NewDecoder(res.Body).Decode(&e)
		return res.StatusCode, e
	}
	mod := func(f func(*api.DeviceReport)) []byte {
		r := deviceReport()
		f(&r)
		b, _ := json.Marshal(r)
		return b
	}
	for name, c := range map[string]struct {
		body   []byte
		hdr    map[string]string
		status int
		says   string
	}{
		"short id":        {mod(func(r *api.DeviceReport) { r.DeviceID = "abc" }), nil, 400, "device_id"},
		"upper id":        {mod(func(r *api.DeviceReport) { r.DeviceID = strings.ToUpper(testDeviceID) }), nil, 400, "device_id"},
		"no host":         {mod(func(r *api.DeviceReport) { r.Host = "" }), nil, 400, "host"},
		"newline in host": {mod(func(r *api.DeviceReport) { r.Host = "a\nb" }), nil, 400, "host"},
		"long os":         {mod(func(r *api.DeviceReport) { r.OS = strings.Repeat("x", 200) }), nil, 400, "os"},
		"state":           {mod(func(r *api.DeviceReport) { r.DiskEncryption.State = "yes" }), nil, 400, "disk_encryption.state"},
		"method":          {mod(func(r *api.DeviceReport) { r.DiskEncryption.Method = "TrueCrypt" }), nil, 400, "disk_encryption.method"},
		"unknown field":   {[]byte(`{"device_id":"` + testDeviceID + `","serial":"X1"}`), nil, 400, "malformed JSON"},
		"not json":        {[]byte(`device`), nil, 400, "malformed JSON"},
		"bad id header":   {mod(func(*api.DeviceReport) {}), map[string]string{api.HeaderDeviceID: "XYZ"}, 400, api.HeaderDeviceID},
		"other id header": {mod(func(*api.DeviceReport) {}), map[string]string{api.HeaderDeviceID: strings.Repeat("f", 32)}, 400, "device_id"},
		"oversized":       {mod(func(r *api.DeviceReport) { r.DiskEncryption.Detail = strings.Repeat("x", 5000) }), nil, 413, "larger"},
	} {
		status, e := put(c.body, c.hdr)
		if status != c.status || !strings.Contains(e.Message, c.says) {
			t.Errorf("%s: %d %q, want %d naming %q", name, status, e.Message, c.status, c.says)
		}
	}
	if ds, err := g.Stores.Devices.Devices(context.Background(), ""); err != nil || len(ds) != 0 {
		t.Fatalf("bad reports stored: %+v, %v", ds, err)
	}
	// The admin list takes only user, once.
	admin := g.Token(t, "ent-root", auth.AdminGroup)
	for _, q := range []string{"?user=", "?entity=x", "?user=a&user=b"} {
		r, _ := http.NewRequest(http.MethodGet, g.URL+"/v1/admin/devices"+q, nil)
		r.Header.Set("Authorization", "Bearer "+admin)
		res, err := g.HTTP.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 400 {
			t.Errorf("GET /v1/admin/devices%s: %d, want 400", q, res.StatusCode)
		}
	}
}

// TestDeviceRevokedFlood: the deny list comes before the per-user rate
// limit, so a revoked caller's device reports have their own: a burst of
// 100 (each a new device ID) is mostly refused 429, and only the reports
// let through are stored.
func TestDeviceRevokedFlood(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{Config: func(c *gateway.Config) {
		c.Limits.RequestsPerSecond, c.Limits.Burst = 1, 2
	}})
	ctx := context.Background()
	admin := g.Client(t, g.Token(t, "ent-root", auth.AdminGroup), "ADMIN")
	if err := admin.Deny(ctx, "ent-alice", "user-ent-alice", "left"); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(g.URL, client.StaticToken(g.Token(t, "ent-alice", "matter-2026-0001-rw")), client.Options{Device: "LAPTOP-7"})
	if err != nil {
		t.Fatal(err)
	}
	rep := deviceReport()
	limited, revoked := 0, 0
	for i := range 100 {
		rep.DeviceID = fmt.Sprintf("%032x", i+1)
		rep.Wiped = time.Now().UTC().Truncate(time.Second)
		switch _, err := c.ReportDevice(ctx, rep, ""); client.Code(err) {
		case api.CodeRateLimited:
			limited++
		case api.CodeRevoked:
			revoked++
		default:
			t.Fatalf("report %d: %v", i, err)
		}
	}
	list, err := g.Stores.Devices.Devices(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	// One report a minute per user: the burst takes well under a minute,
	// but a loaded machine may let a second one through.
	if limited < 95 || revoked < 1 || len(list) != revoked {
		t.Fatalf("100 revoked reports: %d refused 429, %d recorded (403), %d device rows", limited, revoked, len(list))
	}
}

// TestDeviceCap: one user has at most store.MaxDevicesPerEntity devices;
// a new one beyond is refused 403 naming the cap, and nothing is stored.
func TestDeviceCap(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{})
	ctx := context.Background()
	alice := g.Client(t, g.Token(t, "ent-alice", "matter-2026-0001-rw"), "LAPTOP-7")
	rep := deviceReport()
	for i := range store.MaxDevicesPerEntity {
		rep.DeviceID = fmt.Sprintf("%032x", i+1)
		if _, err := alice.ReportDevice(ctx, rep, ""); err != nil {
			t.Fatalf("device %d: %v", i+1, err)
		}
	}
	rep.DeviceID = fmt.Sprintf("%032x", store.MaxDevicesPerEntity+1)
	_, err := alice.ReportDevice(ctx, rep, "")
	if client.Code(err) != api.CodeForbidden || !strings.Contains(err.Error(), fmt.Sprintf("%d devices", store.MaxDevicesPerEntity)) {
		t.Fatalf("device %d: %v, want 403 naming the cap", store.MaxDevicesPerEntity+1, err)
	}
	if ds, err := g.Stores.Devices.Devices(ctx, ""); err != nil || len(ds) != store.MaxDevicesPerEntity {
		t.Fatalf("%d devices stored (%v), want %d", len(ds), err, store.MaxDevicesPerEntity)
	}
}
