package admin

import (
	"context"
	"slices"
	"testing"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// TestAccessLifecycle runs the matter and user operations against Vault
// and a fake gateway, checking their typed results and what the gateway
// was told.
func TestAccessLifecycle(t *testing.T) {
	env := kmstest.Setup(t)
	ctx := context.Background()
	gw := newFakeGateway()
	s, steps := session(gw)
	s.Vault = env.Admin

	m := testenv.RandomName("m-")
	info, err := s.CreateMatter(ctx, m, "Smith v. Jones")
	if err != nil || info.ID != m || gw.epochs[m] != 1 {
		t.Fatalf("create: %+v, %v, gateway epoch %d", info, err, gw.epochs[m])
	}
	if _, err := s.CreateMatter(ctx, m, "again"); fault.Of(err) != fault.Conflict {
		t.Fatalf("re-create: %v, kind %v", err, fault.Of(err))
	}

	nu, err := s.CreateUser(ctx, testenv.RandomName("u-"), UserOptions{})
	if err != nil || len(nu.Password) != 24 || nu.EntityID == "" {
		t.Fatalf("create user: %+v, %v", nu, err)
	}
	u1, u2, u3 := env.User(t, false), env.User(t, false), env.User(t, false)
	if _, err := s.Grant(ctx, m, u1.Name, kms.RoleScreened); fault.Of(err) != fault.Invalid {
		t.Fatalf("grant screened: %v", err)
	}
	for _, u := range []kmstest.User{u1, u3} {
		if changed, err := s.Grant(ctx, m, u.Name, kms.RoleRW); err != nil || !changed {
			t.Fatalf("grant %s: %v, %v", u.Name, changed, err)
		}
	}

	ch, err := s.RemoveMember(ctx, m, u1.Name, AccessOptions{})
	if err != nil || !ch.Changed || !ch.LostAccess || ch.Rotation.Epoch != 2 || gw.epochs[m] != 2 {
		t.Fatalf("remove: %+v, %v, gateway epoch %d", ch, err, gw.epochs[m])
	}
	if len(gw.stamps) != 1 || gw.stamps[0].EntityID != u1.EntityID || gw.stamps[0].Reason != "removed from "+m {
		t.Fatalf("reissue stamps %+v", gw.stamps)
	}
	if !slices.ContainsFunc(*steps, func(st Step) bool { return st.Name == "" && st.Detail == u1.Name+" removed from "+m }) {
		t.Errorf("no note of the removal in %+v", *steps)
	}
	if ch, err := s.RemoveMember(ctx, m, u1.Name, AccessOptions{}); err != nil || ch.Changed {
		t.Fatalf("remove again: %+v, %v", ch, err)
	}

	if ch, err := s.Screen(ctx, m, u2.Name, AccessOptions{}); err != nil || !ch.Changed || ch.LostAccess || ch.Rotation.Epoch != 0 {
		t.Fatalf("screen a non-member: %+v, %v", ch, err)
	}
	if _, err := s.Unscreen(ctx, m, u2.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Grant(ctx, m, u2.Name, kms.RoleRO); err != nil {
		t.Fatal(err)
	}
	ch, err = s.Screen(ctx, m, u2.Name, AccessOptions{NoRotate: true})
	if err != nil || !ch.LostAccess || !ch.RotationSkipped || ch.Rotation.Epoch != 0 || gw.epochs[m] != 2 || len(gw.stamps) != 2 {
		t.Fatalf("screen a member without rotating: %+v, %v", ch, err)
	}

	rv, err := s.Revoke(ctx, u3.Name, "left the firm")
	if err != nil || len(rv.Rotated) != 1 || rv.Rotated[0] != (RotatedMatter{m, 3}) || gw.epochs[m] != 3 {
		t.Fatalf("revoke: %+v, %v", rv, err)
	}
	if d := gw.denied[u3.EntityID]; d.Name != u3.Name || d.Reason != "left the firm" {
		t.Fatalf("deny list %+v", gw.denied)
	}

	// The gateway down: the Vault steps are done, the error says what is not.
	gw.fail = errDown
	res, err := s.Rotate(ctx, m)
	if res.Epoch != 4 || fault.Of(err) != fault.Incomplete {
		t.Fatalf("rotate with the gateway down: %+v, %v", res, err)
	}
	u4 := env.User(t, false)
	env.Grant(t, m, u4, kms.RoleRW)
	rv, err = s.Revoke(ctx, u4.Name, "")
	if fault.Of(err) != fault.Incomplete || len(rv.Rotated) != 1 || rv.User.EntityID != u4.EntityID {
		t.Fatalf("revoke with the gateway down: %+v, %v", rv, err)
	}
	if u, _ := env.Admin.User(ctx, u4.Name); !u.Disabled {
		t.Fatalf("%s not disabled", u4.Name)
	}

	gw.fail = nil
	gw.holds[m] = api.Hold{Matter: m, On: true}
	if err := s.Shred(ctx, m, ShredOptions{}); fault.Of(err) != fault.Refused {
		t.Fatalf("shred under hold: %v", err)
	}
	delete(gw.holds, m)
	if err := s.Shred(ctx, m, ShredOptions{}); err != nil {
		t.Fatal(err)
	}
	if info, err := env.Admin.Matter(ctx, m); err != nil || info.Shredded == "" {
		t.Fatalf("not shredded: %+v, %v", info, err)
	}
}
