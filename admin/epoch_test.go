package admin

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// TestGatewayEpochStep: the step raises the epoch, accepts a gateway
// already ahead, warns without a gateway and fails with the URL named.
func TestGatewayEpochStep(t *testing.T) {
	ctx := context.Background()
	gw := newFakeGateway()
	s, steps := session(gw)
	if err := s.gatewayEpoch(ctx, "m-1", 3); err != nil || gw.epochs["m-1"] != 3 {
		t.Fatalf("raise: %v, epoch %d", err, gw.epochs["m-1"])
	}
	if st := (*steps)[0]; st.Name != "gateway epoch m-1" || st.Err != nil || st.Detail != "uploads sealed under epochs below 3 refused at https://gateway.test" {
		t.Fatalf("raise step %+v", st)
	}
	gw.epochs["m-1"] = 9
	if err := s.gatewayEpoch(ctx, "m-1", 4); err != nil || !strings.Contains((*steps)[1].Detail, "already at epoch 9") {
		t.Fatalf("gateway ahead: %v, %+v", err, (*steps)[1])
	}

	gw.fail = errDown
	err := s.gatewayEpoch(ctx, "m-1", 10)
	if st := (*steps)[2]; err == nil || st.Err == nil || st.Err.Error() != "gateway https://gateway.test: connection refused" {
		t.Fatalf("gateway down: %v, %+v", err, st)
	}
	inc := epochIncomplete("matter m-1 rotated to epoch 10", "m-1", 10, err)
	if fault.Of(inc) != fault.Incomplete || !strings.Contains(inc.Error(), "mattersync-admin epoch set m-1 10") || !errors.Is(inc, errDown) {
		t.Fatalf("incomplete: %v (kind %v)", inc, fault.Of(inc))
	}
	if epochIncomplete("x", "m-1", 1, nil) != nil {
		t.Fatalf("epochIncomplete(nil) is not nil")
	}

	none, steps := session(nil)
	if err := none.gatewayEpoch(ctx, "m-2", 1); err != nil {
		t.Fatalf("no gateway: %v", err)
	}
	if st := (*steps)[0]; !st.Warning || !strings.HasPrefix(st.Detail, "gateway not configured: ") || !strings.Contains(st.Detail, "epoch set m-2 1") {
		t.Fatalf("no gateway step %+v", st)
	}
}

func TestSetEpoch(t *testing.T) {
	env := kmstest.Setup(t)
	ctx := context.Background()
	gw := newFakeGateway()
	s, _ := session(gw)
	s.Vault = env.Admin
	m := env.Matter(t)
	if _, err := s.SetEpoch(ctx, m, 0); fault.Of(err) != fault.Invalid || len(gw.calls) != 0 {
		t.Fatalf("epoch 0: %v, calls %v", err, gw.calls)
	}
	if ep, err := s.SetEpoch(ctx, m, 2); err != nil || ep.Epoch != 2 || ep.Previous != 0 {
		t.Fatalf("set 2: %+v, %v", ep, err)
	}
	if _, err := s.SetEpoch(ctx, m, 1); fault.Of(err) != fault.Refused {
		t.Fatalf("lowering: %v, kind %v", err, fault.Of(err))
	}
	gw.calls = nil
	if _, err := s.SetEpoch(ctx, "2026-9999", 2); fault.Of(err) != fault.NotFound || !strings.Contains(err.Error(), "no such matter 2026-9999") || len(gw.calls) != 0 {
		t.Fatalf("unknown matter: %v, gateway calls %v", err, gw.calls)
	}
	if _, err := s.Epoch(ctx, "2026-9999"); fault.Of(err) != fault.NotFound {
		t.Fatalf("epoch of an unknown matter: %v", err)
	}
	none, _ := session(nil)
	if _, err := none.Epoch(ctx, m); !errors.Is(err, ErrNoGateway) || fault.Of(err) != fault.Invalid {
		t.Fatalf("no gateway: %v", err)
	}
}
