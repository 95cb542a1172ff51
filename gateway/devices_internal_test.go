package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/store"
)

// countingDevices counts what sightings cost the store.
type countingDevices struct {
	ids          []string
	reads, seens int
}

func (c *countingDevices) PutDevice(context.Context, store.Device, *audit.Record) (store.Device, error) {
	return store.Device{}, nil
}

func (c *countingDevices) DeviceSeen(context.Context, string, string, time.Time, bool) (bool, error) {
	c.seens++
	return true, nil
}

func (c *countingDevices) DeviceIDs(context.Context, string) ([]string, error) {
	c.reads++
	return c.ids, nil
}

func (c *countingDevices) Devices(context.Context, string) ([]store.Device, error) { return nil, nil }

// TestSightingsOfUnknownDevices: a fresh device ID on every request costs
// no sighting write (and one read of the entity's devices); the known
// device's sighting is written once per period, the revoked one at once,
// and the invented IDs never push it out.
func TestSightingsOfUnknownDevices(t *testing.T) {
	const known = "00112233445566778899aabbccddeeff"
	st := &countingDevices{ids: []string{known}}
	s := &Server{devices: st, sightings: newSightings(), log: slog.New(slog.DiscardHandler)}
	rq := &request{id: "r", ident: &auth.Identity{Entity: "ent-alice"}}
	note := func(id string, revoked bool) {
		r := httptest.NewRequest("GET", "/v1/matters", nil)
		r.Header.Set(api.HeaderDeviceID, id)
		if err := s.noteDevice(r, rq, revoked); err != nil {
			t.Fatal(err)
		}
	}
	note(known, false)
	for i := range 1000 {
		note(fmt.Sprintf("%032x", i+1), false)
	}
	note(known, false)
	if st.seens != 1 || st.reads != 1 {
		t.Fatalf("1002 sightings (1000 unknown IDs) cost %d writes and %d reads, want 1 and 1", st.seens, st.reads)
	}
	note(known, true)
	if st.seens != 2 {
		t.Fatalf("a revoked sighting: %d writes, want 2", st.seens)
	}
	// A request the rate limit refused costs no store access at all.
	fresh := &countingDevices{ids: []string{known}}
	s.devices, s.sightings = fresh, newSightings()
	r := httptest.NewRequest("GET", "/v1/matters", nil)
	r.Header.Set(api.HeaderDeviceID, known)
	if err := s.noteAfter(r, rq, &Error{Op: "auth", Kind: KindRateLimited}); err == nil || fresh.reads+fresh.seens != 0 {
		t.Fatalf("a 429 request: %v, %d reads, %d writes", err, fresh.reads, fresh.seens)
	}
	if len(s.sightings.last) != 0 {
		t.Fatalf("%d sightings remembered, want 0", len(s.sightings.last))
	}
}
