// Package kmstest sets mattersync up in a real Vault dev server for the
// tests of other packages (gateway, agent, end-to-end): random mounts and
// names on the package-shared testenv Vault, bootstrapped with kms.Admin.Init,
// plus users, matters and logins in one call each.
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
//	env := kmstest.Setup(t)
//	alice := env.User(t, false)
//	matter := env.Matter(t)
//	env.Grant(t, matter, alice, kms.RoleRW)
//	tok := env.IdentityToken(t, alice)    // JWT for the gateway
//	tc := env.TokenConfig(t)              // issuer, audience, JWKS URL to verify it
package kmstest

import (
	"context"
	"testing"
	"time"

	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
)

// Env is mattersync bootstrapped in a Vault dev server under random names.
type Env struct {
	Vault  *testenv.VaultServer
	Config kms.Config // Address and the random Layout; use it for kms.Login
	Admin  *kms.Admin // authenticated with the root token
}

// User is a user created by Env.User.
type User struct {
	Name     string
	Password string
	EntityID string
}

// Setup bootstraps mattersync on the package-shared Vault (testenv.Vault).
func Setup(t testing.TB) *Env {
	t.Helper()
	return SetupOn(t, testenv.Vault(t))
}

// SetupOn bootstraps mattersync on v, e.g. a dedicated testenv.NewVault.
func SetupOn(t testing.TB, v *testenv.VaultServer) *Env {
	t.Helper()
	cfg := kms.DefaultConfig()
	cfg.Address = v.Addr
	cfg.Layout = RandomLayout()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	admin, err := kms.Connect(ctx, cfg, kms.TokenAuth{Token: v.Token})
	if err != nil {
		t.Fatalf("kmstest: connect: %v", err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	if _, err := admin.Init(ctx, kms.InitOptions{Userpass: true}, nil); err != nil {
		t.Fatalf("kmstest: init: %v", err)
	}
	t.Cleanup(func() {
		// Mounts are per test; identity objects are global and die with
		// the dev server.
		c := v.Client(t)
		c.SetMaxRetries(0) // a test may have sealed or stopped the server
		_ = c.Sys().Unmount(cfg.Layout.Transit)
		_ = c.Sys().Unmount(cfg.Layout.KV)
		_ = c.Sys().DisableAuth(cfg.Layout.Userpass)
		_ = c.Sys().DisableAuth(cfg.Layout.OIDC)
	})
	return &Env{Vault: v, Config: cfg, Admin: admin}
}

// RandomLayout returns a Layout with random mount paths, policy prefix,
// OIDC role and audience, so tests can share a Vault.
func RandomLayout() kms.Layout {
	return kms.Layout{
		Transit:  testenv.RandomName("t-transit-"),
		KV:       testenv.RandomName("t-kv-"),
		Userpass: testenv.RandomName("t-up-"),
		OIDC:     testenv.RandomName("t-oidc-"),
		Name:     testenv.RandomName("t-"),
		Audience: testenv.RandomName("t-aud-"),
	}
}

// User creates a user with a random name and password; admin puts it in
// mattersync-admins.
func (e *Env) User(t testing.TB, admin bool) User {
	t.Helper()
	u := User{Name: testenv.RandomName("u-"), Password: testenv.RandomHex(16)}
	got, err := e.Admin.CreateUser(context.Background(), u.Name, kms.UserOptions{Password: u.Password, Admin: admin})
	if err != nil {
		t.Fatalf("kmstest: create user: %v", err)
	}
	u.EntityID = got.EntityID
	return u
}

// Matter creates a matter with a random ID and returns the ID.
func (e *Env) Matter(t testing.TB) string {
	t.Helper()
	id := testenv.RandomName("m-")
	if _, err := e.Admin.CreateMatter(context.Background(), id, "Matter "+id, nil); err != nil {
		t.Fatalf("kmstest: create matter: %v", err)
	}
	return id
}

// Grant gives u role rw or ro on matter.
func (e *Env) Grant(t testing.TB, matter string, u User, role kms.Role) {
	t.Helper()
	if _, err := e.Admin.Grant(context.Background(), matter, u.Name, role); err != nil {
		t.Fatalf("kmstest: grant: %v", err)
	}
}

// Screen puts u behind matter's ethical wall.
func (e *Env) Screen(t testing.TB, matter string, u User) {
	t.Helper()
	if _, err := e.Admin.Screen(context.Background(), matter, u.Name); err != nil {
		t.Fatalf("kmstest: screen: %v", err)
	}
}

// Login logs u in with userpass and returns a Keyring closed when t ends.
func (e *Env) Login(t testing.TB, u User) *kms.Keyring {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	k, err := kms.Login(ctx, e.Config, e.Userpass(u))
	if err != nil {
		cancel()
		t.Fatalf("kmstest: login %s: %v", u.Name, err)
	}
	t.Cleanup(func() { _ = k.Close(); cancel() })
	return k
}

// Userpass returns the authenticator for u.
func (e *Env) Userpass(u User) kms.UserpassAuth {
	return kms.UserpassAuth{Mount: e.Config.Layout.Userpass, Username: u.Name, Password: u.Password}
}

// IdentityToken logs u in and returns a fresh identity token.
func (e *Env) IdentityToken(t testing.TB, u User) kms.IdentityToken {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tok, err := e.Login(t, u).IdentityToken(ctx)
	if err != nil {
		t.Fatalf("kmstest: identity token for %s: %v", u.Name, err)
	}
	return tok
}

// TokenConfig returns the issuer, audience and JWKS URL to verify identity
// tokens of this Env with.
func (e *Env) TokenConfig(t testing.TB) kms.TokenConfig {
	t.Helper()
	tc, err := kms.FetchTokenConfig(context.Background(), e.Config)
	if err != nil {
		t.Fatalf("kmstest: token config: %v", err)
	}
	return tc
}
