package kms_test

import (
	"slices"
	"testing"

	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// TestRevoke: after Revoke the user's Vault token is dead, key fetches and
// identity tokens are refused at once, the user's matters have a new epoch
// that colleagues can read, and re-running changes nothing more.
func TestRevoke(t *testing.T) {
	ctx := testCtx(t)
	env := kmstest.Setup(t)
	m1, m2, untouched := env.Matter(t), env.Matter(t), env.Matter(t)
	alice, bob := env.User(t, true), env.User(t, false)
	env.Grant(t, m1, alice, kms.RoleRW)
	env.Grant(t, m2, alice, kms.RoleRO)
	env.Grant(t, m1, bob, kms.RoleRW)
	env.Grant(t, untouched, bob, kms.RoleRW)

	k := env.Login(t, alice)
	if _, _, err := k.CurrentKey(ctx, m1); err != nil {
		t.Fatal(err)
	}
	// A second, raw login: the token an attacker with alice's laptop holds.
	c := env.Vault.Client(t)
	c.ClearToken()
	sec, err := c.Logical().Write("auth/"+env.Config.Layout.Userpass+"/login/"+alice.Name, map[string]any{"password": alice.Password})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(sec.Auth.ClientToken)

	var steps []string
	rep, err := env.Admin.Revoke(ctx, alice.Name, func(s kms.Step) { steps = append(steps, s.String()) })
	if err != nil {
		t.Fatalf("revoke: %v\n%v", err, steps)
	}
	wantGroups := []string{kms.AdminGroup, kms.MatterGroup(m1, kms.RoleRW), kms.MatterGroup(m2, kms.RoleRO)}
	slices.Sort(wantGroups)
	got := slices.Sorted(slices.Values(rep.Groups))
	if !slices.Equal(got, wantGroups) || rep.Rotated[m1] != 2 || rep.Rotated[m2] != 2 || len(rep.Rotated) != 2 {
		t.Fatalf("report groups %v rotated %v; want %v and epoch 2 of %s, %s\n%v", got, rep.Rotated, wantGroups, m1, m2, steps)
	}

	if _, err := c.Auth().Token().LookupSelf(); err == nil {
		t.Errorf("revoked user's token still looks itself up")
	}
	k.Invalidate(m1)
	if _, _, err := k.CurrentKey(ctx, m1); kms.KindOf(err) != kms.Denied {
		t.Errorf("key fetch after revoke: %v, want Denied", err)
	}
	if _, err := k.RefreshIdentityToken(ctx); kms.KindOf(err) != kms.Denied {
		t.Errorf("identity token after revoke: %v, want Denied", err)
	}
	if _, err := kms.Login(ctx, env.Config, env.Userpass(alice)); err == nil {
		t.Errorf("revoked user logged in again")
	}
	u, err := env.Admin.User(ctx, alice.Name)
	if err != nil || !u.Disabled || len(u.Groups) != 0 {
		t.Errorf("after revoke: %+v, %v; want disabled, no groups", u, err)
	}

	// Bob reads the new epoch and the old one; the untouched matter kept its epoch.
	kb := env.Login(t, bob)
	if e, _, err := kb.CurrentKey(ctx, m1); err != nil || e != 2 {
		t.Errorf("bob on %s: epoch %d, %v; want 2", m1, e, err)
	}
	if _, err := kb.EpochKey(ctx, m1, 1); err != nil {
		t.Errorf("bob on %s epoch 1: %v", m1, err)
	}
	if e, _, err := kb.CurrentKey(ctx, untouched); err != nil || e != 1 {
		t.Errorf("bob on %s: epoch %d, %v; want 1", untouched, e, err)
	}

	// Re-running is safe and rotates nothing again.
	rep2, err := env.Admin.Revoke(ctx, alice.Name, nil)
	if err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	if len(rep2.Rotated) != 0 || rep2.RotatedEarlier[m1] != 2 || rep2.RotatedEarlier[m2] != 2 || rep2.Reinstated || rep2.Revoked != rep.Revoked {
		t.Errorf("second revoke: rotated %v, earlier %v, reinstated %v, revoked %s (first %s)", rep2.Rotated, rep2.RotatedEarlier, rep2.Reinstated, rep2.Revoked, rep.Revoked)
	}
	kb.Invalidate(m1)
	if e, _, _ := kb.CurrentKey(ctx, m1); e != 2 {
		t.Errorf("second revoke moved %s to epoch %d", m1, e)
	}
}

// TestRevokeAfterReinstate: a user revoked, reinstated by the documented
// procedure (docs/OPERATIONS.md: entity enabled, a new userpass login,
// matters granted again) and using the current epoch again is rotated
// away from it by a second revocation, which reports only what it did.
func TestRevokeAfterReinstate(t *testing.T) {
	ctx := testCtx(t)
	env := kmstest.Setup(t)
	m, other := env.Matter(t), env.Matter(t)
	bob := env.User(t, false)
	env.Grant(t, m, bob, kms.RoleRW)
	env.Grant(t, other, bob, kms.RoleRO)
	if _, err := env.Admin.Revoke(ctx, bob.Name, nil); err != nil {
		t.Fatalf("first revoke: %v", err)
	}

	root := env.Vault.Client(t)
	if _, err := root.Logical().Write("identity/entity/name/"+bob.Name, map[string]any{"disabled": false}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().Write("auth/"+env.Config.Layout.Userpass+"/users/"+bob.Name, map[string]any{"password": bob.Password}); err != nil {
		t.Fatal(err)
	}
	env.Grant(t, m, bob, kms.RoleRW) // not other: he cannot read it since
	k := env.Login(t, bob)
	if e, _, err := k.CurrentKey(ctx, m); err != nil || e != 2 {
		t.Fatalf("reinstated bob on %s: epoch %d, %v; want 2", m, e, err)
	}

	var steps []string
	rep, err := env.Admin.Revoke(ctx, bob.Name, func(s kms.Step) { steps = append(steps, s.String()) })
	if err != nil {
		t.Fatalf("second revoke: %v\n%v", err, steps)
	}
	if !rep.Reinstated || len(rep.Rotated) != 1 || rep.Rotated[m] != 3 || len(rep.RotatedEarlier) != 0 || len(rep.NotRotated) != 0 {
		t.Fatalf("second revoke: reinstated %v, rotated %v, earlier %v, not rotated %v; want a new revocation rotating %s to epoch 3\n%v",
			rep.Reinstated, rep.Rotated, rep.RotatedEarlier, rep.NotRotated, m, steps)
	}
	if !slices.Equal(rep.Groups, []string{kms.MatterGroup(m, kms.RoleRW)}) {
		t.Errorf("second revoke removed %v, want only %s", rep.Groups, kms.MatterGroup(m, kms.RoleRW))
	}
	k.Invalidate(m)
	if _, err := k.EpochKey(ctx, m, 3); kms.KindOf(err) != kms.Denied {
		t.Errorf("bob fetched epoch 3 after the second revoke: %v", err)
	}
	colleague := env.User(t, false)
	env.Grant(t, m, colleague, kms.RoleRW)
	if e, _, err := env.Login(t, colleague).CurrentKey(ctx, m); err != nil || e != 3 {
		t.Errorf("%s is at epoch %d, %v after the second revoke; want 3", m, e, err)
	}

	// A re-run of the second revocation rotates nothing again and says so.
	rep, err = env.Admin.Revoke(ctx, bob.Name, nil)
	if err != nil || rep.Reinstated || len(rep.Rotated) != 0 || rep.RotatedEarlier[m] != 3 {
		t.Errorf("re-run: %v, reinstated %v, rotated %v, earlier %v", err, rep.Reinstated, rep.Rotated, rep.RotatedEarlier)
	}
}

// TestRevokeRerunAfterRegrant: a re-run rotates again a matter the user
// became a member of again after the first run's rotation.
func TestRevokeRerunAfterRegrant(t *testing.T) {
	ctx := testCtx(t)
	env := kmstest.Setup(t)
	m := env.Matter(t)
	bob := env.User(t, false)
	env.Grant(t, m, bob, kms.RoleRW)
	if _, err := env.Admin.Revoke(ctx, bob.Name, nil); err != nil {
		t.Fatal(err)
	}
	// Granting a disabled user is allowed (the entity stays disabled).
	env.Grant(t, m, bob, kms.RoleRO)
	rep, err := env.Admin.Revoke(ctx, bob.Name, nil)
	if err != nil || rep.Reinstated || rep.Rotated[m] != 3 {
		t.Errorf("re-run after a grant: %v, reinstated %v, rotated %v; want %s at epoch 3", err, rep.Reinstated, rep.Rotated, m)
	}
}

// TestShred: after Shred no epoch key of the matter can be obtained by
// anyone, root included, and the ID cannot be reused.
func TestShred(t *testing.T) {
	ctx := testCtx(t)
	env := kmstest.Setup(t)
	m := env.Matter(t)
	u := env.User(t, false)
	env.Grant(t, m, u, kms.RoleRW)
	k := env.Login(t, u)
	if _, _, err := k.CurrentKey(ctx, m); err != nil {
		t.Fatal(err)
	}
	_, wrapped := wrappedEpochs(t, env, m)

	if err := env.Admin.Shred(ctx, m, nil); err != nil {
		t.Fatalf("shred: %v", err)
	}
	k.Invalidate(m)
	if _, _, err := k.CurrentKey(ctx, m); err == nil {
		t.Errorf("member still gets a key after shred")
	}
	root := env.Vault.Client(t)
	l := env.Config.Layout
	if sec, err := root.Logical().Read(l.KV + "/data/matters/" + m + "/epochs"); sec != nil || err != nil {
		t.Errorf("wrapped epochs still readable by root: %v %v", sec, err)
	}
	if sec, err := root.Logical().Read(l.KV + "/metadata/matters/" + m + "/epochs"); sec != nil || err != nil {
		t.Errorf("wrapped epoch versions still stored: %v %v", sec, err)
	}
	sec, err := root.Logical().Write(l.Transit+"/decrypt/matter-"+m, map[string]any{"ciphertext": wrapped["1"]})
	if err == nil {
		t.Errorf("root unwrapped a shredded epoch key: %v", sec.Data)
	}
	if sec, _ := root.Logical().Read(l.Transit + "/keys/matter-" + m); sec != nil {
		t.Errorf("transit key still exists")
	}
	if _, err := env.Admin.CreateMatter(ctx, m, "again", nil); kms.KindOf(err) != kms.Conflict {
		t.Errorf("re-create shredded matter: %v, want Conflict", err)
	}
	if err := env.Admin.Shred(ctx, m, nil); err != nil {
		t.Errorf("second shred: %v", err)
	}
	info, err := env.Admin.Matter(ctx, m)
	if err != nil || info.Shredded == "" || info.Name != "" {
		t.Errorf("after shred: %+v, %v; want tombstone without name", info, err)
	}
}

// TestReinstate: Reinstate enables the entity and recreates the userpass
// login, grants nothing, and reports the groups the revocation removed.
func TestReinstate(t *testing.T) {
	ctx := testCtx(t)
	env := kmstest.Setup(t)
	m := env.Matter(t)
	bob := env.User(t, false)
	env.Grant(t, m, bob, kms.RoleRO)
	if _, err := env.Admin.Revoke(ctx, bob.Name, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Admin.Reinstate(ctx, bob.Name, "short"); kms.KindOf(err) != kms.Invalid {
		t.Errorf("short password: %v", err)
	}
	if _, err := env.Admin.Reinstate(ctx, "nobody", "long-enough-password"); kms.KindOf(err) != kms.NotFound {
		t.Errorf("unknown user: %v", err)
	}
	bob.Password = "long-enough-password"
	r, err := env.Admin.Reinstate(ctx, bob.Name, bob.Password)
	if err != nil || !r.Enabled || !r.PasswordSet || r.User.Disabled || len(r.User.Groups) != 0 ||
		!slices.Equal(r.FormerGroups, []string{kms.MatterGroup(m, kms.RoleRO)}) {
		t.Fatalf("reinstate: %+v, %v", r, err)
	}
	k := env.Login(t, bob)
	if _, _, err := k.CurrentKey(ctx, m); kms.KindOf(err) != kms.Denied {
		t.Errorf("reinstated bob read %s without a grant: %v", m, err)
	}
	if r, err := env.Admin.Reinstate(ctx, bob.Name, bob.Password); err != nil || r.Enabled {
		t.Errorf("second reinstate: %+v, %v", r, err)
	}
}
