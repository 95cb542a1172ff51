package storetest

import (
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/store"
)

// testMembershipHistory: snapshots are recorded as their differences, the
// admin's subject as the admin's, other differences as found in Vault, the
// first snapshot as the baseline after a marker.
func testMembershipHistory(t *testing.T, h Harness) {
	s := h.Open(t)
	t0 := time.Now().UTC().Truncate(time.Microsecond)
	alice, bob, carol := store.Member{Entity: "e-a", Name: "alice", Role: "rw"}, store.Member{Entity: "e-b", Name: "bob", Role: "ro"}, store.Member{Entity: "e-c", Name: "carol", Role: "rw"}
	snap := func(subject, source, reason string, at time.Duration, ms ...store.Member) []store.MembershipChange {
		t.Helper()
		cs, err := s.Members.RecordMembership(ctx(t), store.MembershipSnapshot{Matter: "m1", Members: ms, Subject: subject, Source: source, By: "it", Reason: reason, Time: t0.Add(at)},
			Rec("admin.members.record", "m1"))
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	// The first snapshot: the marker, then alice as the baseline.
	cs := snap("", store.SourceVault, "sync", 0, alice)
	if len(cs) != 2 || cs[0].Entity != "" || cs[0].Source != store.SourceBaseline || cs[1].Entity != "e-a" || !cs[1].Added || cs[1].Source != store.SourceBaseline {
		t.Fatalf("first snapshot = %+v", cs)
	}
	// The admin grants bob; carol appeared in Vault meanwhile.
	cs = snap("e-b", store.SourceAdmin, "joined the team", time.Second, alice, bob, carol)
	if len(cs) != 2 || cs[0].Entity != "e-b" || cs[0].Source != store.SourceAdmin || cs[0].Reason != "joined the team" ||
		cs[1].Entity != "e-c" || cs[1].Source != store.SourceVault {
		t.Fatalf("grant = %+v", cs)
	}
	// The admin screens alice: out of rw, into screened.
	screened := alice
	screened.Role = "screened"
	cs = snap("e-a", store.SourceAdmin, "conflict: represents the other side", 2*time.Second, screened, bob, carol)
	if len(cs) != 2 || !cs[0].Added || cs[0].Role != "screened" || cs[1].Added || cs[1].Role != "rw" || cs[1].Entity != "e-a" {
		t.Fatalf("screen = %+v", cs)
	}
	// Nothing changed: nothing recorded.
	if cs := snap("", store.SourceVault, "sync", 3*time.Second, screened, bob, carol); len(cs) != 0 {
		t.Fatalf("unchanged = %+v", cs)
	}
	all, err := s.Members.MembershipHistory(ctx(t), "m1")
	if err != nil || len(all) != 6 || all[5].N != 6 || !all[5].Time.Equal(t0.Add(2*time.Second)) || all[5].By != "it" {
		t.Fatalf("history = %+v, %v", all, err)
	}
	if hs, err := s.Members.MembershipHistory(ctx(t), "m2"); err != nil || len(hs) != 0 {
		t.Fatalf("history of another matter = %+v, %v", hs, err)
	}
}
