package admin

// Existence checks: an admin command that names a matter or a user that
// does not exist fails, instead of acting on a phantom (a typo must not
// put a hold on a matter nobody has, nor report zero records as if the
// person had done nothing).

import (
	"context"
	"fmt"

	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/kms"
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

// RequireEntity returns the user whose Vault entity ID is entityID (a
// revoked one counts), else a fault.NotFound error "no such entity <id>".
// name, if set, must be that entity's name. It needs Session.Vault.
func (s *Session) RequireEntity(ctx context.Context, entityID, name string) (kms.User, error) {
	if s.Vault == nil {
		return kms.User{}, fault.Errorf(fault.Invalid, "checking that entity %s exists: %w", entityID, errNoVault)
	}
	u, err := s.Vault.UserByID(ctx, entityID)
	if err == nil && name != "" && u.Name != name {
		err = fault.Errorf(fault.Invalid, "entity %s is %s, not %s", entityID, u.Name, name)
	}
	return u, err
}

// requireQueryMatter checks the matter an audit query names, before the
// query: matters are never deleted from Vault (a shredded one keeps a
// tombstone), while requests naming a phantom matter are audited too.
func (s *Session) requireQueryMatter(ctx context.Context, q client.AuditQuery) error {
	if q.Matter == "" {
		return nil
	}
	return s.RequireMatter(ctx, q.Matter)
}

// requireQueryUser is for a query that selected no audit record: it fails
// if the user or entity the query names does not exist in Vault either (a
// typo), and passes if they exist (they did nothing). Only then: a user
// deleted from Vault keeps their records.
func (s *Session) requireQueryUser(ctx context.Context, q client.AuditQuery) error {
	var err error
	if q.User != "" {
		err = s.RequireUser(ctx, q.User)
	}
	if err == nil && q.Entity != "" {
		_, err = s.RequireEntity(ctx, q.Entity, "")
	}
	if fault.Of(err) == fault.NotFound {
		return fmt.Errorf("%w (and no audit record matches)", err)
	}
	return err
}
