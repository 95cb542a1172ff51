package admin

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// fakeGateway is an in-memory gateway admin API that records calls. It
// keeps epochs, holds, denials and stamps as the gateway does; fail makes
// every call fail.
type fakeGateway struct {
	fail    error
	epochs  map[string]uint32
	holds   map[string]api.Hold
	denied  map[string]api.DenyEntry
	stamps  []api.Reissue
	records []audit.Record
	history []api.Hold
	calls   []string
	// runStates are the states Run answers in turn (lifecycle_test.go).
	runStates []api.Run
}

func newFakeGateway() *fakeGateway {
	return &fakeGateway{epochs: map[string]uint32{}, holds: map[string]api.Hold{}, denied: map[string]api.DenyEntry{}}
}

func (g *fakeGateway) call(format string, args ...any) error {
	g.calls = append(g.calls, fmt.Sprintf(format, args...))
	return g.fail
}

func (g *fakeGateway) Epoch(_ context.Context, m string) (api.Epoch, error) {
	return api.Epoch{Matter: m, Epoch: g.epochs[m]}, g.call("epoch %s", m)
}

func (g *fakeGateway) SetEpoch(_ context.Context, m string, e uint32) (api.Epoch, error) {
	if err := g.call("set epoch %s %d", m, e); err != nil {
		return api.Epoch{}, err
	}
	prev := g.epochs[m]
	if e < prev {
		return api.Epoch{}, &client.Error{Status: 409, Body: api.Error{Code: api.CodeStaleEpoch, Message: "never lowered", CurrentEpoch: prev}}
	}
	g.epochs[m] = e
	return api.Epoch{Matter: m, Epoch: e, Previous: prev}, nil
}

func (g *fakeGateway) Hold(_ context.Context, m string) (api.Hold, error) {
	h := g.holds[m]
	h.Matter = m
	return h, g.call("hold %s", m)
}

func (g *fakeGateway) SetHold(_ context.Context, m string, req api.HoldRequest) (api.Hold, error) {
	g.holds[m] = api.Hold{Matter: m, On: true, Reason: req.Reason, Case: req.Case}
	g.history = append(g.history, g.holds[m])
	return g.holds[m], g.call("set hold %s", m)
}

func (g *fakeGateway) ReleaseHold(_ context.Context, m string, req api.HoldRequest) (api.Hold, error) {
	g.holds[m] = api.Hold{Matter: m, Reason: req.Reason, Case: req.Case}
	g.history = append(g.history, g.holds[m])
	return g.holds[m], g.call("release hold %s", m)
}

func (g *fakeGateway) Holds(context.Context) ([]api.Hold, error) {
	var out []api.Hold
	for _, h := range g.holds {
		if h.On {
			out = append(out, h)
		}
	}
	return out, g.call("holds")
}

func (g *fakeGateway) HoldHistory(_ context.Context, m string) ([]api.Hold, error) {
	var out []api.Hold
	for _, h := range g.history {
		if h.Matter == m {
			out = append(out, h)
		}
	}
	return out, g.call("hold history %s", m)
}

func (g *fakeGateway) Deny(_ context.Context, id, name, reason string) error {
	if err := g.call("deny %s %s %s", id, name, reason); err != nil {
		return err
	}
	g.denied[id] = api.DenyEntry{EntityID: id, Name: name, Reason: reason}
	return nil
}

func (g *fakeGateway) Undeny(_ context.Context, id string) error {
	if err := g.call("undeny %s", id); err != nil {
		return err
	}
	if _, ok := g.denied[id]; !ok {
		return &client.Error{Status: 404, Body: api.Error{Code: api.CodeNotFound}}
	}
	delete(g.denied, id)
	return nil
}

func (g *fakeGateway) Denials(context.Context) (api.DenyList, error) {
	var l api.DenyList
	for _, e := range g.denied {
		l.Entries = append(l.Entries, e)
	}
	l.Reissue = g.stamps
	return l, g.call("denials")
}

func (g *fakeGateway) Reissue(_ context.Context, id, reason string) (api.Reissue, error) {
	if err := g.call("reissue %s %s", id, reason); err != nil {
		return api.Reissue{}, err
	}
	st := api.Reissue{EntityID: id, NotBefore: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), Reason: reason}
	g.stamps = append(g.stamps, st)
	return st, nil
}

func (g *fakeGateway) AuditVerify(context.Context, client.VerifyOptions) (audit.Report, error) {
	return audit.Report{OK: true, Records: int64(len(g.records))}, g.call("verify")
}

func (g *fakeGateway) AuditExport(_ context.Context, q client.AuditQuery, fn func(*audit.Record) error) error {
	if err := g.call("export"); err != nil {
		return err
	}
	for i := range g.records {
		r := g.records[i]
		if (q.User != "" && r.User != q.User) || (q.Matter != "" && r.Matter != q.Matter) || r.Time.Before(q.Since) {
			continue
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	return nil
}

func (g *fakeGateway) Usage(_ context.Context, m string) (api.Usage, error) {
	return api.Usage{Matter: m}, g.call("usage %s", m)
}

// session returns a Session on gw (nil: no gateway configured) that
// records its steps.
func session(gw Gateway) (*Session, *[]Step) {
	var steps []Step
	s := &Session{GatewayURL: "https://gateway.test", Progress: func(st Step) { steps = append(steps, st) }}
	if gw != nil {
		s.Gateway = func(context.Context) (Gateway, error) { return gw, nil }
	}
	return s, &steps
}

var errDown = errors.New("connection refused")
