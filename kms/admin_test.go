package kms_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// TestInitIdempotent: a second Init (and a dry run) finds everything in
// place and changes nothing.
func TestInitIdempotent(t *testing.T) {
	ctx := testCtx(t)
	env := kmstest.Setup(t) // the first Init
	for _, opt := range []kms.InitOptions{{Userpass: true}, {Userpass: true, DryRun: true}} {
		steps, err := env.Admin.Init(ctx, opt, nil)
		if err != nil {
			t.Fatalf("init %+v: %v", opt, err)
		}
		for _, s := range steps {
			if s.Detail != "unchanged" {
				t.Errorf("init %+v: %s", opt, s)
			}
		}
	}
	// A changed token TTL is an update, reported as such.
	steps, err := env.Admin.Init(ctx, kms.InitOptions{Userpass: true, TokenTTL: 10 * 60e9}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var updated []string
	for _, s := range steps {
		if s.Detail != "unchanged" {
			updated = append(updated, s.String())
		}
	}
	if len(updated) != 1 || !strings.HasPrefix(updated[0], "OIDC role") {
		t.Errorf("TTL change updated %v, want the OIDC role only", updated)
	}
}

// TestCreateMatterExisting: creating an existing matter is a Conflict error
// and changes neither its name nor its keys.
func TestCreateMatterExisting(t *testing.T) {
	ctx := testCtx(t)
	env := kmstest.Setup(t)
	m := env.Matter(t)
	_, before := wrappedEpochs(t, env, m)
	_, err := env.Admin.CreateMatter(ctx, m, "Another name", nil)
	if kms.KindOf(err) != kms.Conflict {
		t.Fatalf("re-create: %v, want Conflict", err)
	}
	_, after := wrappedEpochs(t, env, m)
	if len(after) != 1 || after["1"] != before["1"] {
		t.Errorf("epochs changed: %v -> %v", before, after)
	}
	info, err := env.Admin.Matter(ctx, m)
	if err != nil || info.Name != "Matter "+m {
		t.Errorf("matter after failed re-create: %+v, %v", info, err)
	}
	for _, bad := range []string{"", "Upper", "-x", "x-", "a_b", strings.Repeat("a", 41)} {
		if _, err := env.Admin.CreateMatter(ctx, bad, "n", nil); kms.KindOf(err) != kms.Invalid {
			t.Errorf("create %q: %v, want Invalid", bad, err)
		}
	}
	if _, err := env.Admin.CreateMatter(ctx, testenv.RandomName("m-"), "bad\nname", nil); kms.KindOf(err) != kms.Invalid {
		t.Errorf("control character in name: %v, want Invalid", err)
	}
}

// TestAdminUser: a user in mattersync-admins, logged in with userpass, can
// do everything after init without a root token, and gets an identity token
// with the admin group; a plain user can do none of it.
func TestAdminUser(t *testing.T) {
	ctx := testCtx(t)
	env := kmstest.Setup(t)
	boss, plain := env.User(t, true), env.User(t, false)
	a, err := kms.Connect(ctx, env.Config, env.Userpass(boss))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	m := testenv.RandomName("m-")
	if _, err := a.CreateMatter(ctx, m, "By the admin", nil); err != nil {
		t.Fatalf("create matter: %v", err)
	}
	name := testenv.RandomName("u-")
	if _, err := a.CreateUser(ctx, name, kms.UserOptions{Password: testenv.RandomHex(12)}); err != nil {
		t.Fatalf("create user: %v", err)
	}
	if _, err := a.Grant(ctx, m, name, kms.RoleRW); err != nil {
		t.Fatalf("grant: %v", err)
	}
	if _, err := a.Rotate(ctx, m, nil); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if members, err := a.Members(ctx, m); err != nil || len(members) != 1 {
		t.Fatalf("members: %+v %v", members, err)
	}
	if _, err := a.Revoke(ctx, name, nil); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if err := a.Shred(ctx, m, nil); err != nil {
		t.Fatalf("shred: %v", err)
	}
	tok, err := a.IdentityToken(ctx)
	if err != nil || tok.Username != boss.Name || !containsStr(tok.Groups, kms.AdminGroup) {
		t.Fatalf("admin identity token %v groups %v: %v", tok, tok.Groups, err)
	}

	p, err := kms.Connect(ctx, env.Config, env.Userpass(plain))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.CreateMatter(ctx, testenv.RandomName("m-"), "x", nil); kms.KindOf(err) != kms.Denied {
		t.Errorf("plain user created a matter: %v", err)
	}
	if _, err := p.Grant(ctx, env.Matter(t), plain.Name, kms.RoleRW); kms.KindOf(err) != kms.Denied {
		t.Errorf("plain user granted themselves: %v", err)
	}
	// The root token has no entity, hence no identity token.
	if _, err := env.Admin.IdentityToken(ctx); kms.KindOf(err) != kms.Denied {
		t.Errorf("root identity token: %v, want Denied", err)
	}
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestErrorKinds: each failure the admin CLI maps to an exit code.
func TestErrorKinds(t *testing.T) {
	ctx := testCtx(t)
	env := kmstest.Setup(t)

	addr, err := testenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	cfg := env.Config
	cfg.Address = "http://" + addr
	cfg.Retries = 0
	if _, err := kms.Connect(ctx, cfg, kms.TokenAuth{Token: "x"}); kms.KindOf(err) != kms.Unavailable {
		t.Errorf("closed port: %v, want Unavailable", err)
	}
	if _, err := kms.Connect(ctx, env.Config, kms.TokenAuth{Token: "not-a-token"}); kms.KindOf(err) != kms.Denied {
		t.Errorf("bad token: %v, want Denied", err)
	}
	if _, err := kms.Connect(ctx, env.Config, kms.UserpassAuth{Mount: env.Config.Layout.Userpass, Username: "nobody", Password: "wrong"}); err == nil {
		t.Errorf("bad password: logged in")
	}
	if _, err := env.Admin.User(ctx, "nobody-"+testenv.RandomHex(4)); kms.KindOf(err) != kms.NotFound {
		t.Errorf("unknown user: %v, want NotFound", err)
	}
	if _, err := env.Admin.Grant(ctx, "no-such-matter-"+testenv.RandomHex(4), "x", kms.RoleRW); kms.KindOf(err) != kms.NotFound {
		t.Errorf("unknown matter: %v, want NotFound", err)
	}
	if _, err := env.Admin.Rotate(ctx, "no-such-matter-"+testenv.RandomHex(4), nil); kms.KindOf(err) != kms.NotFound {
		t.Errorf("rotate unknown matter: %v, want NotFound", err)
	}
	bad := env.Config
	bad.Layout.Name = "Bad Name"
	if _, err := kms.Connect(ctx, bad, kms.TokenAuth{Token: env.Vault.Token}); kms.KindOf(err) != kms.Invalid {
		t.Errorf("invalid layout: %v, want Invalid", err)
	}
}

// TestSealed: a sealed Vault is reported as such, distinct from unreachable.
func TestSealed(t *testing.T) {
	v := testenv.NewVault(t)
	env := kmstest.SetupOn(t, v)
	if err := v.Client(t).Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	cfg := env.Config
	cfg.Retries = 0
	_, err := kms.Connect(context.Background(), cfg, kms.TokenAuth{Token: v.Token})
	if kms.KindOf(err) != kms.Sealed {
		t.Fatalf("sealed Vault: %v, want Sealed", err)
	}
}
