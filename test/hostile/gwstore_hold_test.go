package hostile

import (
	"context"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
)

// Issue 21, legal holds: releasing a hold erased its reason and took
// none, hold records named neither matter nor reason, and a delete the
// hold refused was audited as a generic conflict. A release now needs a
// reason, the history keeps every change, the hold's audit object names
// matter, reason and case, and the refused delete's result is legal_hold.
func TestGWStoreHoldHistoryAndAudit(t *testing.T) {
	w := newGWSWorld(t, gatewaytest.Options{})
	ctx := context.Background()
	admin := w.g.Client(t, w.g.Token(t, "ent-admin", auth.AdminGroup), "ADMIN-PC")
	file, _, _ := w.commit(t, 500)
	if _, err := admin.SetHold(ctx, gwsMatter, api.HoldRequest{Reason: "Smith v. Jones", Case: "CV-17"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.writer.Delete(ctx, gwsMatter, file.String(), 1, w.s.TombstoneOf(t, gwsMatter, file, 2)); client.Code(err) != api.CodeLegalHold {
		t.Fatalf("delete under hold: %v", err)
	}
	if hs, err := admin.Holds(ctx); err != nil || len(hs) != 1 || hs[0].Matter != gwsMatter || hs[0].Case != "CV-17" {
		t.Fatalf("hold list: %+v, %v", hs, err)
	}
	if _, err := admin.ReleaseHold(ctx, gwsMatter, api.HoldRequest{}); client.Code(err) != api.CodeInvalidRequest {
		t.Fatalf("a release without a reason: %v", err)
	}
	if _, err := admin.ReleaseHold(ctx, gwsMatter, api.HoldRequest{Reason: "settled"}); err != nil {
		t.Fatal(err)
	}
	hist, err := admin.HoldHistory(ctx, gwsMatter)
	if err != nil || len(hist) != 2 || !hist[0].On || hist[0].Reason != "Smith v. Jones" || hist[0].ChangedBy == "" ||
		hist[1].On || hist[1].Reason != "settled" {
		t.Fatalf("hold history: %+v, %v", hist, err)
	}
	if hs, err := admin.Holds(ctx); err != nil || len(hs) != 0 {
		t.Fatalf("hold list after the release: %+v, %v", hs, err)
	}
	var refused, on, off bool
	w.g.Stores.Audit.AuditRecords(ctx, audit.Query{Matter: gwsMatter}, func(r *audit.Record) error {
		switch {
		case r.Action == "file.delete" && r.Result == audit.ResultLegalHold:
			refused = true
		case r.Action == "admin.hold.on" && r.Result == audit.ResultOK:
			on = strings.Contains(r.Object, "matter="+gwsMatter) && strings.Contains(r.Object, `reason="Smith v. Jones"`) && strings.Contains(r.Object, `case="CV-17"`)
		case r.Action == "admin.hold.off" && r.Result == audit.ResultOK:
			off = strings.Contains(r.Object, `reason="settled"`)
		}
		return nil
	})
	if !refused || !on || !off {
		t.Fatalf("audit: delete refused as legal_hold %v, hold on names matter/reason/case %v, hold off names its reason %v", refused, on, off)
	}
}
