package audit_test

import (
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/audit"
)

func record() audit.Record {
	return audit.Record{Time: time.Date(2026, 11, 20, 9, 30, 0, 123456000, time.UTC), Entity: "e-1", User: "alice", Device: "LAPTOP-7",
		Source: "10.0.0.7", Matter: "2026-0042", Action: "file.get", Object: "f@1", Result: "ok", Status: 200, Bytes: 812, RequestID: "r1"}
}

// A record without a decision time hashes exactly as before the gateway
// kept one (this hash was computed by that code), so existing chains
// still verify.
func TestSumWithoutDecisionTimeUnchanged(t *testing.T) {
	r := record()
	r.Link(41, audit.Hash{9})
	if got := r.Hash.String(); got != "56b3664c5f27a47d28d167b605b62269dbddf9c6e0d0161ee5c394cfbc400fdd" {
		t.Fatalf("v1 record hash changed: %s", got)
	}
}

// The decision time is covered by the hash: changing it, or removing it,
// breaks the record.
func TestSumCoversDecisionTime(t *testing.T) {
	r := record()
	r.Decided = r.Time.Add(1500 * time.Millisecond)
	r.Link(41, audit.Hash{9})
	if r.Sum() != r.Hash {
		t.Fatal("a linked record does not verify")
	}
	for name, edit := range map[string]func(*audit.Record){
		"later":   func(r *audit.Record) { r.Decided = r.Decided.Add(time.Microsecond) },
		"removed": func(r *audit.Record) { r.Decided = time.Time{} },
	} {
		e := r
		edit(&e)
		if e.Sum() == r.Hash {
			t.Errorf("decision time %s: the hash still matches", name)
		}
	}
}
