package admin

import (
	"context"
	"strings"
	"testing"

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
