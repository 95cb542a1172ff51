package admin

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/client"

	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// TestRequire: the existence checks name what is missing, with kind
// NotFound; a malformed name is Invalid; without Vault they refuse.
func TestRequire(t *testing.T) {
	env := kmstest.Setup(t)
	ctx := context.Background()
	s, _ := session(newFakeGateway())
	if err := s.RequireMatter(ctx, "2026-0001"); fault.Of(err) != fault.Invalid || !strings.Contains(err.Error(), "no Vault session") {
		t.Errorf("without Vault: %v", err)
	}
	s.Vault = env.Admin
	m, u := env.Matter(t), env.User(t, false)
	if err := s.RequireMatter(ctx, m); err != nil {
		t.Errorf("existing matter: %v", err)
	}
	if err := s.RequireUser(ctx, u.Name); err != nil {
		t.Errorf("existing user: %v", err)
	}
	if err := s.RequireMatter(ctx, "2026-9999"); fault.Of(err) != fault.NotFound || !strings.Contains(err.Error(), "no such matter 2026-9999") {
		t.Errorf("missing matter: %v", err)
	}
	if err := s.RequireUser(ctx, "alcie"); fault.Of(err) != fault.NotFound || !strings.Contains(err.Error(), "no such user alcie") {
		t.Errorf("missing user: %v", err)
	}
	if err := s.RequireMatter(ctx, "Bad ID"); fault.Of(err) != fault.Invalid {
		t.Errorf("malformed matter ID: %v", err)
	}
	// The operations that name them check, before asking the gateway.
	gw := newFakeGateway()
	s.Gateway = func(context.Context) (Gateway, error) { return gw, nil }
	if _, err := s.Usage(ctx, "2026-9999"); fault.Of(err) != fault.NotFound {
		t.Errorf("usage of a missing matter: %v", err)
	}
	if err := s.Deny(ctx, "no-such-entity", "", ""); fault.Of(err) != fault.NotFound || !strings.Contains(err.Error(), "no such entity no-such-entity") {
		t.Errorf("deny a missing entity: %v", err)
	}
	if err := s.Deny(ctx, u.EntityID, "alcie", ""); fault.Of(err) != fault.Invalid || !strings.Contains(err.Error(), "is "+u.Name+", not alcie") {
		t.Errorf("deny with the wrong name: %v", err)
	}
	if _, err := s.Reissue(ctx, "no-such-entity", ""); fault.Of(err) != fault.NotFound {
		t.Errorf("reissue for a missing entity: %v", err)
	}
	if len(gw.calls) != 0 {
		t.Errorf("the gateway was asked: %v", gw.calls)
	}
	// No audit record: a typo is an error, an existing name is not.
	var out strings.Builder
	for _, q := range []client.AuditQuery{{User: "alcie"}, {Matter: "2026-9999"}, {User: u.Name, Matter: "2026-9999"}, {Entity: "no-such-entity"}} {
		if n, err := s.ExportAudit(ctx, q, JSONLines, &out); n != 0 || fault.Of(err) != fault.NotFound {
			t.Errorf("export %+v: %d, %v", q, n, err)
		}
		q.Since = time.Now().Add(-time.Hour)
		if q.User == "" && q.Entity == "" {
			continue // not a report
		}
		if _, err := s.Activity(ctx, q); fault.Of(err) != fault.NotFound {
			t.Errorf("activity %+v: %v", q, err)
		}
	}
	if n, err := s.ExportAudit(ctx, client.AuditQuery{User: u.Name, Matter: m}, JSONLines, &out); n != 0 || err != nil {
		t.Errorf("export of an existing user with no record: %d, %v", n, err)
	}
	// A phantom matter's records (refused requests) do not make it exist.
	gw.records = []audit.Record{{Seq: 1, User: "deleted-from-vault", Matter: m, Action: "chunk.get", Result: audit.ResultOK},
		{Seq: 2, User: u.Name, Matter: "2026-9999", Action: "hold.get", Result: audit.ResultInvalid}}
	if n, err := s.ExportAudit(ctx, client.AuditQuery{Matter: "2026-9999"}, JSONLines, &out); n != 0 || fault.Of(err) != fault.NotFound {
		t.Errorf("export of a phantom matter with records: %d, %v", n, err)
	}
	if n, err := s.ExportAudit(ctx, client.AuditQuery{User: "deleted-from-vault"}, JSONLines, &out); n != 1 || err != nil {
		t.Errorf("export of a user with records but no Vault entity: %d, %v", n, err)
	}

	if _, err := s.Vault.Revoke(ctx, u.Name, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.RequireUser(ctx, u.Name); err != nil {
		t.Errorf("revoked user: %v", err)
	}
	if err := s.Shred(ctx, m, ShredOptions{SkipHoldCheck: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.RequireMatter(ctx, m); err != nil {
		t.Errorf("shredded matter: %v", err)
	}
}
