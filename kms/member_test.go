package kms_test

import (
	"bytes"
	"testing"

	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// TestEpochKeyAccess: rw and ro members get the same epoch key; a
// non-member and a screened user are refused by Vault itself, even when the
// screened user is also in the rw group.
func TestEpochKeyAccess(t *testing.T) {
	ctx := testCtx(t)
	env := kmstest.Setup(t)
	m := env.Matter(t)
	rw, ro, outsider, walled := env.User(t, false), env.User(t, false), env.User(t, false), env.User(t, false)
	env.Grant(t, m, rw, kms.RoleRW)
	env.Grant(t, m, ro, kms.RoleRO)
	env.Screen(t, m, walled)
	// Put the screened user into the rw group behind the admin's back (as a
	// synced directory group might): Vault's deny policy must still win.
	root := env.Vault.Client(t)
	if _, err := root.Logical().Write("identity/group/name/"+kms.MatterGroup(m, kms.RoleRW), map[string]any{
		"member_entity_ids": []string{rw.EntityID, walled.EntityID},
	}); err != nil {
		t.Fatal(err)
	}

	e1, k1, err := env.Login(t, rw).CurrentKey(ctx, m)
	if err != nil || e1 != 1 || len(k1) != kms.EpochKeySize {
		t.Fatalf("rw member: epoch %d, %d-byte key, %v", e1, len(k1), err)
	}
	k2, err := env.Login(t, ro).EpochKey(ctx, m, 1)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("ro member: %v (same key: %v)", err, bytes.Equal(k1, k2))
	}
	for _, u := range []kmstest.User{outsider, walled} {
		if _, _, err := env.Login(t, u).CurrentKey(ctx, m); kms.KindOf(err) != kms.Denied {
			t.Errorf("%s: got %v, want a Denied error", u.Name, err)
		}
	}
	// The matter listing agrees: screened beats the rw grant.
	list, err := env.Login(t, walled).Matters(ctx)
	if err != nil || len(list) != 0 {
		t.Errorf("screened user's matters: %+v, %v; want none", list, err)
	}
	// The admin (root here) creates and rewraps keys but cannot unwrap them:
	// only members' policies grant decrypt. Check with an admin user.
	admin := env.User(t, true)
	if _, _, err := env.Login(t, admin).CurrentKey(ctx, m); kms.KindOf(err) != kms.Denied {
		t.Errorf("admin (not a member): got %v, want Denied", err)
	}
}

// TestMattersListing: the agent lists its matters with display names and
// effective roles from its identity token.
func TestMattersListing(t *testing.T) {
	ctx := testCtx(t)
	env := kmstest.Setup(t)
	a, b, c := env.Matter(t), env.Matter(t), env.Matter(t)
	u := env.User(t, false)
	env.Grant(t, a, u, kms.RoleRW)
	env.Grant(t, b, u, kms.RoleRO)
	env.Grant(t, c, u, kms.RoleRW)
	env.Screen(t, c, u)
	got, err := env.Login(t, u).Matters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]kms.Role{a: kms.RoleRW, b: kms.RoleRO}
	if len(got) != len(want) {
		t.Fatalf("matters %+v, want %v", got, want)
	}
	for _, m := range got {
		if want[m.ID] != m.Role || m.Name != "Matter "+m.ID {
			t.Errorf("matter %+v, want role %s and name %q", m, want[m.ID], "Matter "+m.ID)
		}
	}
}

// TestGrantIdempotentAndRoleChange: granting twice changes nothing; granting
// the other role moves the member; a screened user cannot be granted.
func TestGrantIdempotentAndRoleChange(t *testing.T) {
	ctx := testCtx(t)
	env := kmstest.Setup(t)
	m := env.Matter(t)
	u := env.User(t, false)
	for i, want := range []bool{true, false} {
		changed, err := env.Admin.Grant(ctx, m, u.Name, kms.RoleRW)
		if err != nil || changed != want {
			t.Fatalf("grant #%d: changed %v, %v; want %v", i+1, changed, err, want)
		}
	}
	if _, err := env.Admin.Grant(ctx, m, u.Name, kms.RoleRO); err != nil {
		t.Fatal(err)
	}
	members, err := env.Admin.Members(ctx, m)
	if err != nil || len(members) != 1 || members[0].Role != kms.RoleRO || members[0].User != u.Name {
		t.Fatalf("members %+v, %v; want %s as ro only", members, err, u.Name)
	}
	usr, err := env.Admin.User(ctx, u.Name)
	if err != nil || len(usr.Matters()) != 1 || usr.Matters()[0] != (kms.Membership{Matter: m, Role: kms.RoleRO}) {
		t.Fatalf("user matters %+v, %v", usr.Matters(), err)
	}
	if _, err := env.Admin.Screen(ctx, m, u.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Admin.Grant(ctx, m, u.Name, kms.RoleRW); kms.KindOf(err) != kms.Invalid {
		t.Fatalf("grant to screened user: %v, want Invalid", err)
	}
	if ok, err := env.Admin.Unscreen(ctx, m, u.Name); err != nil || !ok {
		t.Fatalf("unscreen: %v %v", ok, err)
	}
	if _, err := env.Admin.Grant(ctx, m, u.Name, kms.RoleRW); err != nil {
		t.Fatalf("grant after unscreen: %v", err)
	}
}
