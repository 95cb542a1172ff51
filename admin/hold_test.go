package admin

import (
	"context"
	"errors"
	"testing"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// TestShredHoldCheck: shredding asks the gateway first and stops, before
// touching Vault, if the matter is held or the hold cannot be checked.
// (Session.Vault is nil: reaching Vault would panic.)
func TestShredHoldCheck(t *testing.T) {
	ctx := context.Background()
	gw := newFakeGateway()
	s, _ := session(gw)
	if _, err := s.SetHold(ctx, "m-1", api.HoldRequest{Reason: " "}); fault.Of(err) != fault.Invalid || len(gw.calls) != 0 {
		t.Fatalf("hold without a reason: %v, calls %v", err, gw.calls)
	}
	gw.holds["m-1"] = api.Hold{Matter: "m-1", On: true, Reason: "Smith v. Jones"}
	if err := s.Shred(ctx, "m-1", ShredOptions{}); fault.Of(err) != fault.Refused {
		t.Fatalf("shred under hold: %v, kind %v", err, fault.Of(err))
	}
	none, _ := session(nil)
	err := none.Shred(ctx, "m-1", ShredOptions{})
	if !errors.Is(err, ErrHoldUnknown) || fault.Of(err) != fault.Invalid {
		t.Fatalf("shred without a gateway: %v", err)
	}
	gw.fail = errDown
	if err := s.Shred(ctx, "m-1", ShredOptions{}); !errors.Is(err, errDown) || errors.Is(err, ErrHoldUnknown) {
		t.Fatalf("shred with the gateway down: %v", err)
	}
}

// TestHoldNamesAMatter (issue 21): a hold on a matter Vault does not know
// fails before the gateway is asked (a typo put a phantom on hold while
// the real matter stayed unprotected); releasing needs a reason as
// setting does, and both stay in the history.
func TestHoldNamesAMatter(t *testing.T) {
	env := kmstest.Setup(t)
	ctx := context.Background()
	gw := newFakeGateway()
	s, _ := session(gw)
	s.Vault = env.Admin
	m := env.Matter(t)
	if _, err := s.SetHold(ctx, "2026-9999", api.HoldRequest{Reason: "Smith v. Jones"}); fault.Of(err) != fault.NotFound || len(gw.calls) != 0 {
		t.Fatalf("hold on a missing matter: %v, gateway calls %v", err, gw.calls)
	}
	for _, f := range []func() error{
		func() error {
			_, err := s.ReleaseHold(ctx, "2026-9999", api.HoldRequest{Reason: "settled"})
			return err
		},
		func() error { _, err := s.Hold(ctx, "2026-9999"); return err },
		func() error { _, err := s.HoldHistory(ctx, "2026-9999"); return err },
	} {
		if err := f(); fault.Of(err) != fault.NotFound || len(gw.calls) != 0 {
			t.Fatalf("a missing matter: %v, gateway calls %v", err, gw.calls)
		}
	}
	if _, err := s.SetHold(ctx, m, api.HoldRequest{Reason: "Smith v. Jones", Case: "CV-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReleaseHold(ctx, m, api.HoldRequest{}); fault.Of(err) != fault.Invalid {
		t.Fatalf("release without a reason: %v", err)
	}
	if _, err := s.ReleaseHold(ctx, m, api.HoldRequest{Reason: "settled"}); err != nil {
		t.Fatal(err)
	}
	hs, err := s.HoldHistory(ctx, m)
	if err != nil || len(hs) != 2 || !hs[0].On || hs[0].Case != "CV-1" || hs[1].On || hs[1].Reason != "settled" {
		t.Fatalf("history: %+v, %v", hs, err)
	}
}
