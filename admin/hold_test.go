package admin

import (
	"context"
	"errors"
	"testing"

	"github.com/mattersync/mattersync/internal/fault"
)

// TestShredHoldCheck: shredding asks the gateway first and stops, before
// touching Vault, if the matter is held or the hold cannot be checked.
// (Session.Vault is nil: reaching Vault would panic.)
func TestShredHoldCheck(t *testing.T) {
	ctx := context.Background()
	gw := newFakeGateway()
	s, _ := session(gw)
	if _, err := s.SetHold(ctx, "m-1", " "); fault.Of(err) != fault.Invalid || len(gw.calls) != 0 {
		t.Fatalf("hold without a reason: %v, calls %v", err, gw.calls)
	}
	if _, err := s.SetHold(ctx, "m-1", "Smith v. Jones"); err != nil {
		t.Fatal(err)
	}
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
