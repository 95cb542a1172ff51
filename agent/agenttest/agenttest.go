// Package agenttest gives the agent's tests its two halves of Vault behind
// one interface: the real one (kmstest on a Vault dev server) and Fake, an
// in-memory stand-in holding matters, members, epoch keys and identity
// tokens. The same contract suite (vault_test.go) runs on both, so a
// scenario that passes on Fake in seconds means the same on Vault.
package agenttest

import (
	"context"
	"testing"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// Vault is what the agent's tests do to Vault: IT's side (matters, members,
// rotation, revocation) and a user's login.
type Vault interface {
	// Matter creates a matter named "Matter <id>" and returns its ID.
	Matter(t testing.TB) string
	// User creates a user; admin puts them in mattersync-admins.
	User(t testing.TB, admin bool) kmstest.User
	Grant(t testing.TB, matter string, u kmstest.User, role kms.Role)
	// Remove takes u out of matter (without rotating it).
	Remove(t testing.TB, matter string, u kmstest.User)
	// Rotate gives matter a new epoch for new writes.
	Rotate(t testing.TB, matter string)
	// Disable makes Vault refuse u from now on (kms.Admin.Revoke).
	Disable(t testing.TB, u kmstest.User)
	// Login logs u in: their key source and identity tokens.
	Login(t testing.TB, u kmstest.User) Keyring
	// Gateway starts a gateway (gatewaytest.Start with o) that trusts
	// this Vault's identity tokens.
	Gateway(t testing.TB, o gatewaytest.Options) *gatewaytest.Gateway
}

// Keyring is a logged-in user as the agent sees them: keys, and tokens for
// the gateway (kms.Keyring implements it).
type Keyring interface {
	agent.Keys
	client.TokenSource
}

// Real is Vault on a real Vault dev server set up by kmstest.
func Real(env *kmstest.Env) Vault { return real{env} }

type real struct{ env *kmstest.Env }

func (r real) Matter(t testing.TB) string { t.Helper(); return r.env.Matter(t) }

func (r real) User(t testing.TB, admin bool) kmstest.User { t.Helper(); return r.env.User(t, admin) }

func (r real) Grant(t testing.TB, matter string, u kmstest.User, role kms.Role) {
	t.Helper()
	r.env.Grant(t, matter, u, role)
}

func (r real) Remove(t testing.TB, matter string, u kmstest.User) {
	t.Helper()
	if _, err := r.env.Admin.Remove(context.Background(), matter, u.Name); err != nil {
		t.Fatalf("agenttest: remove %s from %s: %v", u.Name, matter, err)
	}
}

func (r real) Rotate(t testing.TB, matter string) {
	t.Helper()
	if _, err := r.env.Admin.Rotate(context.Background(), matter, nil); err != nil {
		t.Fatalf("agenttest: rotate %s: %v", matter, err)
	}
}

func (r real) Disable(t testing.TB, u kmstest.User) {
	t.Helper()
	if _, err := r.env.Admin.Revoke(context.Background(), u.Name, nil); err != nil {
		t.Fatalf("agenttest: revoke %s: %v", u.Name, err)
	}
}

func (r real) Login(t testing.TB, u kmstest.User) Keyring { t.Helper(); return r.env.Login(t, u) }

func (r real) Gateway(t testing.TB, o gatewaytest.Options) *gatewaytest.Gateway {
	t.Helper()
	o.Vault = r.env
	return gatewaytest.Start(t, o)
}
