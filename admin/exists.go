package admin

// Existence checks: an admin command that names a matter or a user that
// does not exist fails, instead of acting on a phantom (a typo must not
// put a hold on a matter nobody has, nor report zero records as if the
// person had done nothing).

import (
	"context"

	"github.com/mattersync/mattersync/internal/fault"
)

// errNoVault is what the checks return without a Vault session.
var errNoVault = fault.Errorf(fault.Invalid, "no Vault session: log in to Vault (VAULT_TOKEN, ~/.vault-token or --login)")

// RequireMatter returns nil if matter id was created in Vault (a
// shredded one counts: its ID is retired, not free, and its history
// stays), else a fault.NotFound error "no such matter <id>"
// (fault.Invalid for a malformed ID). It needs Session.Vault.
func (s *Session) RequireMatter(ctx context.Context, id string) error {
	if s.Vault == nil {
		return fault.Errorf(fault.Invalid, "checking that matter %s exists: %w", id, errNoVault)
	}
	_, err := s.Vault.Matter(ctx, id)
	return err
}

// RequireUser returns nil if user name exists in Vault (a revoked user
// counts), else a fault.NotFound error "no such user <name>"
// (fault.Invalid for a malformed name). It needs Session.Vault.
func (s *Session) RequireUser(ctx context.Context, name string) error {
	if s.Vault == nil {
		return fault.Errorf(fault.Invalid, "checking that user %s exists: %w", name, errNoVault)
	}
	_, err := s.Vault.User(ctx, name)
	return err
}
