package gateway_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
)

// An agent's integrity report is audited as integrity.<kind> with the
// matter, object and device, raises the integrity alert, and is refused
// when it is malformed or comes from outside the matter.
func TestIntegrityReport(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{Config: func(c *gateway.Config) {
		c.Audit.Alerts.Enabled = true
		c.Audit.Alerts.Poll = 100 * time.Millisecond
		c.Audit.Alerts.OffHours.Enabled = false
	}})
	ctx := context.Background()
	bob := g.Client(t, g.Token(t, "ent-bob", "matter-m1-ro"), "LAPTOP-B")
	chunk := strings.Repeat("ab", 32)
	if err := bob.ReportIntegrity(ctx, "m1", api.IntegrityReport{Kind: api.IntegrityChunkAuth, Object: chunk, Device: "LAPTOP-B", Version: 3}); err != nil {
		t.Fatal(err)
	}
	if err := bob.ReportIntegrity(ctx, "m1", api.IntegrityReport{Kind: api.IntegrityRollback, Object: "seq:1000:500", Device: "LAPTOP-B"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []api.IntegrityReport{
		{Kind: "other", Object: chunk, Device: "LAPTOP-B"},
		{Kind: api.IntegrityChunkAuth, Object: "Brief.docx", Device: "LAPTOP-B"},
		{Kind: api.IntegrityChunkAuth, Object: chunk, Device: ""},
		{Kind: api.IntegrityChunkAuth, Object: chunk, Device: "LAPTOP-B", Version: -1},
	} {
		// Sent raw: the client refuses some of these before sending.
		res := postJSON(t, g, "/v1/matters/m1/integrity", g.Token(t, "ent-bob", "matter-m1-ro"), bad)
		if res != 400 {
			t.Errorf("report %+v: %d, want 400", bad, res)
		}
	}
	// Unknown fields and an oversized body are refused.
	for _, body := range []string{`{"kind":"chunk_auth","object":"` + chunk + `","device":"LAPTOP-B","path":"Brief.docx"}`, `{"kind":"` + strings.Repeat("x", 5000) + `"}`} {
		if res := postJSON(t, g, "/v1/matters/m1/integrity", g.Token(t, "ent-bob", "matter-m1-ro"), json.RawMessage(body)); res != 400 && res != 413 {
			t.Errorf("body %.40q: %d", body, res)
		}
	}
	carol := g.Client(t, g.Token(t, "ent-carol", "matter-m2-rw"), "LAPTOP-C")
	if err := carol.ReportIntegrity(ctx, "m1", api.IntegrityReport{Kind: api.IntegrityChunkAuth, Object: chunk, Device: "LAPTOP-C"}); codeOf(err) != api.CodeForbidden {
		t.Errorf("a report on another matter: %v", err)
	}
	var events, alertRecs []audit.Record
	deadline := time.Now().Add(20 * time.Second)
	for len(alertRecs) < 2 && time.Now().Before(deadline) {
		events, alertRecs = nil, nil
		if err := g.Stores.Audit.AuditRecords(ctx, audit.Query{Matter: "m1"}, func(r *audit.Record) error {
			switch {
			case strings.HasPrefix(r.Action, "integrity.") && r.Result == audit.ResultOK:
				events = append(events, *r)
			case r.Action == "alert.integrity":
				alertRecs = append(alertRecs, *r)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(events) != 2 || events[0].Action != "integrity.chunk_auth" || events[0].Object != chunk+"@3" || events[0].Device != "LAPTOP-B" ||
		events[0].User != "user-ent-bob" || events[1].Action != "integrity.rollback" || events[1].Object != "seq:1000:500" {
		t.Fatalf("integrity records %+v", events)
	}
	if len(alertRecs) != 2 {
		t.Fatalf("integrity alerts %+v", alertRecs)
	}
}

// The matter head is signed with the audit key, carries the newest
// checkpoint and the path to it from the one asked for, and counts the
// resyncs IT ran (an audited admin action).
func TestMatterHeadAndResync(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{})
	ctx := context.Background()
	pub := g.SigningKey.Public().(ed25519.PublicKey)
	alice := g.Client(t, g.Token(t, "ent-alice", "matter-m1-rw"), "LAPTOP-A")
	h, err := alice.Head(ctx, "m1", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := api.VerifyHead(pub, &h); err != nil || h.Checkpoint != nil || h.Seq != 0 || h.Resync != 0 {
		t.Fatalf("empty head %+v: %v", h, err)
	}
	var cps []audit.Checkpoint
	for range 3 {
		if _, err := alice.Matters(ctx); err != nil {
			t.Fatal(err)
		}
		if err := g.Server.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		c, err := g.Stores.Audit.LastCheckpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cps = append(cps, c)
	}
	h, err = alice.Head(ctx, "m1", cps[0].Seq, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := api.VerifyHead(pub, &h); err != nil {
		t.Fatal(err)
	}
	if h.Checkpoint == nil || h.Checkpoint.Digest() != cps[2].Digest() || len(h.Path) != 2 || h.Path[0].Prev != cps[0].Digest() || h.More {
		t.Fatalf("head %+v", h)
	}
	h.Seq++
	if api.VerifyHead(pub, &h) == nil {
		t.Fatal("a changed head verifies")
	}
	if _, err := alice.Resync(ctx, "m1", "restored"); codeOf(err) != api.CodeForbidden {
		t.Fatalf("a member resynced: %v", err)
	}
	admin := g.Client(t, g.Token(t, "ent-admin", "mattersync-admins"), "IT")
	if _, err := admin.Resync(ctx, "m1", ""); codeOf(err) != api.CodeInvalidRequest {
		t.Fatalf("resync without a reason: %v", err)
	}
	rs, err := admin.Resync(ctx, "m1", "store restored from the 02:00 backup")
	if err != nil || rs.Resync != 1 || rs.By != "user-ent-admin" {
		t.Fatalf("resync %+v: %v", rs, err)
	}
	if rs, err = admin.Resync(ctx, "m1", "again"); err != nil || rs.Resync != 2 {
		t.Fatalf("second resync %+v: %v", rs, err)
	}
	if h, err = alice.Head(ctx, "m1", 0, 0); err != nil || h.Resync != 2 || api.VerifyHead(pub, &h) != nil {
		t.Fatalf("head after resync %+v: %v", h, err)
	}
	n := 0
	g.Stores.Audit.AuditRecords(ctx, audit.Query{Matter: "m1", Actions: []string{"admin.matter.resync"}, Result: audit.ResultOK}, func(r *audit.Record) error {
		n++
		return nil
	})
	if n != 2 {
		t.Fatalf("%d resync records, want 2", n)
	}
}

// codeOf returns the gateway's error code in err, or "".
func codeOf(err error) api.Code {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Body.Code
	}
	return ""
}

// postJSON posts v as JSON with token and device LAPTOP-B, and returns the
// status.
func postJSON(t *testing.T, g *gatewaytest.Gateway, path, token string, v any) int {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", g.URL+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(api.HeaderDevice, "LAPTOP-B")
	res, err := g.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
