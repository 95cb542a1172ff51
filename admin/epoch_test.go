package admin

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/internal/fault"
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
	ctx := context.Background()
	gw := newFakeGateway()
	s, _ := session(gw)
	if _, err := s.SetEpoch(ctx, "m-1", 0); fault.Of(err) != fault.Invalid || len(gw.calls) != 0 {
		t.Fatalf("epoch 0: %v, calls %v", err, gw.calls)
	}
	if ep, err := s.SetEpoch(ctx, "m-1", 2); err != nil || ep.Epoch != 2 || ep.Previous != 0 {
		t.Fatalf("set 2: %+v, %v", ep, err)
	}
	if _, err := s.SetEpoch(ctx, "m-1", 1); fault.Of(err) != fault.Refused {
		t.Fatalf("lowering: %v, kind %v", err, fault.Of(err))
	}
	none, _ := session(nil)
	if _, err := none.Epoch(ctx, "m-1"); !errors.Is(err, ErrNoGateway) || fault.Of(err) != fault.Invalid {
		t.Fatalf("no gateway: %v", err)
	}
}
