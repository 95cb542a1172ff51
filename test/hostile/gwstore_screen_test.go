package hostile

import (
	"context"
	"testing"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
)

// Issue 19, "a screened admin keeps the admin routes of the walled
// matter": an administrator screened from a matter (group
// matter-<id>-screened) still read its audit log and released its legal
// hold. Every admin route of the walled matter, and an export of the whole
// log (which holds the walled matter's records), is now refused and
// audited; other matters stay open to the same administrator.
func TestGWStoreScreenedAdminRefused(t *testing.T) {
	w := newGWSWorld(t, gatewaytest.Options{})
	ctx := context.Background()
	const other = "2026-0420"
	admin := w.g.Client(t, w.g.Token(t, "ent-admin", auth.AdminGroup), "ADMIN-PC")
	if _, err := admin.SetHold(ctx, gwsMatter, api.HoldRequest{Reason: "litigation"}); err != nil {
		t.Fatal(err)
	}
	screened := w.g.Client(t, w.g.Token(t, "ent-screened", auth.AdminGroup, "matter-"+gwsMatter+"-screened"), "SCREENED-PC")
	forbidden := func(what string, err error) {
		t.Helper()
		if client.Code(err) != api.CodeForbidden {
			t.Errorf("a screened admin's %s on the walled matter: %v, want forbidden", what, err)
		}
	}
	_, err := screened.ReleaseHold(ctx, gwsMatter, api.HoldRequest{Reason: "x"})
	forbidden("hold off", err)
	_, err = screened.Hold(ctx, gwsMatter)
	forbidden("hold get", err)
	_, err = screened.SetHold(ctx, gwsMatter, api.HoldRequest{Reason: "x"})
	forbidden("hold on", err)
	_, err = screened.Epoch(ctx, gwsMatter)
	forbidden("epoch get", err)
	_, err = screened.SetEpoch(ctx, gwsMatter, 7)
	forbidden("epoch set", err)
	_, err = screened.Usage(ctx, gwsMatter)
	forbidden("usage", err)
	_, err = screened.HoldHistory(ctx, gwsMatter)
	forbidden("hold history", err)
	if hs, err := screened.Holds(ctx); err != nil || len(hs) != 0 {
		t.Errorf("a screened admin's hold list shows the walled matter: %+v, %v", hs, err)
	}
	none := func(*audit.Record) error { return nil }
	forbidden("audit export", screened.AuditExport(ctx, client.AuditQuery{Matter: gwsMatter}, none))
	forbidden("whole-log audit export", screened.AuditExport(ctx, client.AuditQuery{}, none))

	if h, err := admin.Hold(ctx, gwsMatter); err != nil || !h.On {
		t.Fatalf("the hold after a screened admin's attempts: %+v, %v", h, err)
	}
	// Other matters stay the screened admin's to run.
	if _, err := screened.SetHold(ctx, other, api.HoldRequest{Reason: "other case"}); err != nil {
		t.Fatalf("a screened admin on another matter: %v", err)
	}
	if err := screened.AuditExport(ctx, client.AuditQuery{Matter: other}, none); err != nil {
		t.Fatalf("a screened admin's export of another matter: %v", err)
	}
	denied := 0
	w.g.Stores.Audit.AuditRecords(ctx, audit.Query{Entity: "ent-screened"}, func(r *audit.Record) error {
		if r.Result == audit.ResultDenied && r.Status == 403 {
			denied++
		}
		return nil
	})
	if denied != 9 {
		t.Fatalf("%d refused requests of the screened admin audited, want 9", denied)
	}
}
