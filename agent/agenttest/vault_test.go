package agenttest_test

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/mattersync/mattersync/agent/agenttest"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestContract runs what the agent relies on from Vault on the Fake and on
// a real Vault.
func TestContract(t *testing.T) {
	for _, c := range []struct {
		name string
		new  func(t *testing.T) agenttest.Vault
	}{
		{"fake", func(t *testing.T) agenttest.Vault { return agenttest.NewFake(t) }},
		{"vault", func(t *testing.T) agenttest.Vault { return agenttest.Real(kmstest.Setup(t)) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, tc := range []struct {
				name string
				f    func(t *testing.T, v agenttest.Vault)
			}{
				{"MemberKeys", testMemberKeys},
				{"Rotation", testRotation},
				{"Removed", testRemoved},
				{"Disabled", testDisabled},
				{"Tokens", testTokens},
			} {
				t.Run(tc.name, func(t *testing.T) { tc.f(t, c.new(t)) })
			}
		})
	}
}

func wantKind(t *testing.T, what string, err error, k kms.Kind) {
	t.Helper()
	if kms.KindOf(err) != k {
		t.Fatalf("%s: %v (kind %v), want kind %v", what, err, kms.KindOf(err), k)
	}
}

// A member lists the matter with its name and role and gets copies of
// its keys: epoch 1 is current, later epochs do not exist yet.
func testMemberKeys(t *testing.T, v agenttest.Vault) {
	ctx := context.Background()
	m, other := v.Matter(t), v.Matter(t)
	alice, bob := v.User(t, false), v.User(t, false)
	v.Grant(t, m, alice, kms.RoleRW)
	v.Grant(t, m, bob, kms.RoleRO)
	for u, role := range map[*kmstest.User]kms.Role{&alice: kms.RoleRW, &bob: kms.RoleRO} {
		ms, err := v.Login(t, *u).Matters(ctx)
		if err != nil || !slices.Equal(ms, []kms.Matter{{ID: m, Name: "Matter " + m, Role: role}}) {
			t.Fatalf("%s: Matters = %+v, %v", u.Name, ms, err)
		}
	}
	k := v.Login(t, alice)
	n, cur, err := k.CurrentKey(ctx, m)
	if err != nil || n != 1 || len(cur) != 32 {
		t.Fatalf("CurrentKey = %d, %d bytes, %v; want epoch 1, 32 bytes", n, len(cur), err)
	}
	want := bytes.Clone(cur)
	clear(cur) // the caller's copy: wiping it changes nothing for the next call
	e1, err := k.EpochKey(ctx, m, 1)
	if err != nil || !bytes.Equal(e1, want) {
		t.Fatalf("EpochKey(1) differs from the current key: %v", err)
	}
	if rb, err := v.Login(t, bob).EpochKey(ctx, m, 1); err != nil || !bytes.Equal(rb, want) {
		t.Fatalf("bob's epoch 1 key differs from alice's: %v", err)
	}
	_, err = k.EpochKey(ctx, m, 2)
	wantKind(t, "EpochKey(2)", err, kms.NotFound)
	_, err = k.EpochKey(ctx, m, 0)
	wantKind(t, "EpochKey(0)", err, kms.Invalid)
	_, _, err = k.CurrentKey(ctx, other)
	wantKind(t, "CurrentKey of another matter", err, kms.Denied)
	_, _, err = k.CurrentKey(ctx, "../etc")
	wantKind(t, "CurrentKey of an invalid ID", err, kms.Invalid)
	k.Wipe() // drops the cache; the login stays
	if _, again, err := k.CurrentKey(ctx, m); err != nil || !bytes.Equal(again, want) {
		t.Fatalf("CurrentKey after Wipe: %v", err)
	}
}

// After a rotation (and Invalidate, as the agent does when the gateway says
// its epoch is stale) the current epoch is the new one; the old one still
// opens old data.
func testRotation(t *testing.T, v agenttest.Vault) {
	ctx := context.Background()
	m := v.Matter(t)
	alice := v.User(t, false)
	v.Grant(t, m, alice, kms.RoleRW)
	k := v.Login(t, alice)
	_, old, err := k.CurrentKey(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	v.Rotate(t, m)
	k.Invalidate(m)
	n, cur, err := k.CurrentKey(ctx, m)
	if err != nil || n != 2 || bytes.Equal(cur, old) {
		t.Fatalf("CurrentKey after rotation = epoch %d, same key %v, %v; want epoch 2, a new key", n, bytes.Equal(cur, old), err)
	}
	if e1, err := k.EpochKey(ctx, m, 1); err != nil || !bytes.Equal(e1, old) {
		t.Fatalf("EpochKey(1) after rotation: %v", err)
	}
	if e2, err := k.EpochKey(ctx, m, 2); err != nil || !bytes.Equal(e2, cur) {
		t.Fatalf("EpochKey(2) after rotation: %v", err)
	}
}

// A member taken out of a matter no longer lists it nor gets its keys.
func testRemoved(t *testing.T, v agenttest.Vault) {
	ctx := context.Background()
	m := v.Matter(t)
	alice := v.User(t, false)
	v.Grant(t, m, alice, kms.RoleRW)
	k := v.Login(t, alice)
	if _, _, err := k.CurrentKey(ctx, m); err != nil {
		t.Fatal(err)
	}
	v.Remove(t, m, alice)
	k.Invalidate(m)
	if ms, err := k.Matters(ctx); err != nil || len(ms) != 0 {
		t.Fatalf("Matters after removal = %+v, %v", ms, err)
	}
	_, _, err := k.CurrentKey(ctx, m)
	wantKind(t, "CurrentKey after removal", err, kms.Denied)
}

// A disabled (revoked) user is refused everything.
func testDisabled(t *testing.T, v agenttest.Vault) {
	ctx := context.Background()
	m := v.Matter(t)
	alice := v.User(t, false)
	v.Grant(t, m, alice, kms.RoleRW)
	k := v.Login(t, alice)
	v.Disable(t, alice)
	_, err := k.Matters(ctx)
	wantKind(t, "Matters after revoke", err, kms.Denied)
	k.Invalidate(m)
	_, _, err = k.CurrentKey(ctx, m)
	wantKind(t, "CurrentKey after revoke", err, kms.Denied)
}

// Identity tokens get a member into the gateway with their role and the
// admin group into the admin API; once a removed member's key source has
// listed matters again (which fetches a fresh token, as each agent pass
// does), the gateway no longer lets them in.
func testTokens(t *testing.T, v agenttest.Vault) {
	ctx := context.Background()
	g := v.Gateway(t, gatewaytest.Options{})
	m := v.Matter(t)
	alice, it := v.User(t, false), v.User(t, true)
	v.Grant(t, m, alice, kms.RoleRO)
	ak := v.Login(t, alice)
	ac := g.ClientWith(t, ak, "LAPTOP-1")
	who, err := ac.Matters(ctx)
	if err != nil || who.Entity != alice.EntityID || who.Admin || !slices.Equal(who.Matters, []api.Matter{{ID: m, Role: api.RoleRead}}) {
		t.Fatalf("alice: WhoAmI = %+v, %v", who, err)
	}
	adm, err := g.ClientWith(t, v.Login(t, it), "IT").Matters(ctx)
	if err != nil || !adm.Admin {
		t.Fatalf("admin: WhoAmI = %+v, %v", adm, err)
	}
	v.Remove(t, m, alice)
	if _, err := ak.Matters(ctx); err != nil {
		t.Fatal(err)
	}
	if who, err := ac.Matters(ctx); err != nil || len(who.Matters) != 0 {
		t.Fatalf("alice after removal: WhoAmI = %+v, %v", who, err)
	}
	if _, err := ac.Changes(ctx, m, 0, 0); client.Code(err) != api.CodeForbidden {
		t.Fatalf("alice after removal: Changes = %v, want %s", err, api.CodeForbidden)
	}
}
