package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

// testPresence: a presence opens only on a file of the matter, a refresh
// keeps its start and moves its expiry, a close or expiry ends it, and each
// is audited with the change; the generation moves with every change.
func testPresence(t *testing.T, h Harness) {
	s := h.Open(t)
	c := ctx(t)
	f, other := RandomID(t), RandomID(t)
	if _, err := commit(t, s, store.Commit{Matter: "m", File: f, Base: 0, Size: 100}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	p := store.Presence{Matter: "m", File: f, Entity: "e-1", User: "alice", Device: "LAPTOP-7", Expires: now.Add(time.Minute)}
	before := auditCount(t, s)
	for _, bad := range []store.Presence{{Matter: "m", File: other}, {Matter: "m2", File: f}} {
		bad.Entity, bad.Device, bad.Expires = "e-1", "LAPTOP-7", now.Add(time.Minute)
		if _, _, err := s.Presence.SetPresence(c, bad, now, Rec("presence.open", bad.Matter)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("presence on a file not in the matter: %v, want ErrNotFound", err)
		}
	}
	if n := auditCount(t, s); n != before {
		t.Fatalf("refused opens appended %d records", n-before)
	}
	gen0, _ := s.Presence.PresenceGen(c)
	got, opened, err := s.Presence.SetPresence(c, p, now, Rec("presence.open", "m"))
	if err != nil || !opened || got.Since.IsZero() {
		t.Fatalf("open = %+v, %v, %v", got, opened, err)
	}
	gen1, _ := s.Presence.PresenceGen(c)
	if gen1 == gen0 {
		t.Fatal("an open did not move the presence generation")
	}
	rec := Rec("presence.open", "m")
	p.Expires = now.Add(2 * time.Minute)
	again, opened, err := s.Presence.SetPresence(c, p, now.Add(time.Second), rec)
	if err != nil || opened || !again.Since.Equal(got.Since) || rec.Action != "presence.refresh" {
		t.Fatalf("refresh = %+v, opened %v, action %q, %v", again, opened, rec.Action, err)
	}
	if g, _ := s.Presence.PresenceGen(c); g != gen1 {
		t.Fatal("a refresh moved the presence generation (every long poll on every replica woken for no change)")
	}
	if list, _, _ := s.Presence.Presences(c, now.Add(90*time.Second)); len(list) != 1 || !list[0].Expires.Equal(p.Expires.UTC().Truncate(time.Microsecond)) {
		t.Fatalf("presences after the refresh = %+v", list)
	}
	// Bob on another laptop, with a short life.
	q := store.Presence{Matter: "m", File: f, Entity: "e-2", User: "bob", Device: "DESKTOP-2", Expires: now.Add(time.Second)}
	if _, _, err := s.Presence.SetPresence(c, q, now, Rec("presence.open", "m")); err != nil {
		t.Fatal(err)
	}
	list, _, err := s.Presence.Presences(c, now)
	if err != nil || len(list) != 2 {
		t.Fatalf("presences = %+v, %v", list, err)
	}
	if list, _, _ := s.Presence.Presences(c, now.Add(2*time.Second)); len(list) != 1 || list[0].User != "alice" {
		t.Fatalf("presences after bob's expired = %+v", list)
	}
	expired, err := s.Presence.ExpirePresence(c, now.Add(2*time.Second), 100, func(p store.Presence) *audit.Record {
		r := Rec("presence.expire", p.Matter)
		r.Entity, r.User, r.Object = p.Entity, p.User, p.File.String()
		return r
	})
	if err != nil || len(expired) != 1 || expired[0].Entity != "e-2" {
		t.Fatalf("expire = %+v, %v", expired, err)
	}
	if again, _ := s.Presence.ExpirePresence(c, now.Add(2*time.Second), 100, func(store.Presence) *audit.Record { return Rec("x", "m") }); len(again) != 0 {
		t.Fatalf("expired twice: %+v", again)
	}
	rec = Rec("presence.close", "m")
	if closed, err := s.Presence.ClearPresence(c, "m", f, "e-1", "LAPTOP-7", now, rec); err != nil || !closed {
		t.Fatalf("close = %v, %v", closed, err)
	}
	rec = Rec("presence.close", "m")
	rec.Object = f.String()
	if closed, err := s.Presence.ClearPresence(c, "m", f, "e-1", "LAPTOP-7", now, rec); err != nil || closed || rec.Object != f.String()+" not open" {
		t.Fatalf("close again = %v, %q, %v", closed, rec.Object, err)
	}
	if list, _, _ := s.Presence.Presences(c, now); len(list) != 0 {
		t.Fatalf("presences after close = %+v", list)
	}
	var actions []string
	if err := s.Audit.AuditRecords(c, audit.Query{Matter: "m"}, func(r *audit.Record) error {
		actions = append(actions, r.Action)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"file.commit", "presence.open", "presence.refresh", "presence.open", "presence.expire", "presence.close", "presence.close"}
	if len(actions) != len(want) {
		t.Fatalf("audit actions = %v, want %v", actions, want)
	}
	for i := range want {
		if actions[i] != want[i] {
			t.Fatalf("audit actions = %v, want %v", actions, want)
		}
	}
	// One user under made-up device names: bounded per matter (and in
	// all); a refresh of one held is not an open.
	for i := range store.MaxPresencesPerEntityMatter {
		p := store.Presence{Matter: "m", File: f, Entity: "e-3", User: "carol", Device: fmt.Sprintf("FAKE-%d", i), Expires: now.Add(time.Minute)}
		if _, _, err := s.Presence.SetPresence(c, p, now, Rec("presence.open", "m")); err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
	}
	over := store.Presence{Matter: "m", File: f, Entity: "e-3", User: "carol", Device: "FAKE-X", Expires: now.Add(time.Minute)}
	if _, _, err := s.Presence.SetPresence(c, over, now, Rec("presence.open", "m")); !errors.Is(err, store.ErrPresenceLimit) {
		t.Fatalf("open past the bound: %v, want ErrPresenceLimit", err)
	}
	over.Device = "FAKE-0"
	if _, opened, err := s.Presence.SetPresence(c, over, now, Rec("presence.open", "m")); err != nil || opened {
		t.Fatalf("refresh at the bound: opened %v, %v", opened, err)
	}
	if list, _, _ := s.Presence.Presences(c, now); len(list) != store.MaxPresencesPerEntityMatter {
		t.Fatalf("%d presences, want %d", len(list), store.MaxPresencesPerEntityMatter)
	}
	// An expired presence replaced by an open before the sweep: its
	// expiry is audited first.
	late := store.Presence{Matter: "m", File: f, Entity: "e-4", User: "dan", Device: "D", Expires: now.Add(time.Second)}
	if _, _, err := s.Presence.SetPresence(c, late, now, Rec("presence.open", "m")); err != nil {
		t.Fatal(err)
	}
	late.Expires = now.Add(time.Hour)
	if _, opened, err := s.Presence.SetPresence(c, late, now.Add(2*time.Second), Rec("presence.open", "m")); err != nil || !opened {
		t.Fatalf("open over an expired one: opened %v, %v", opened, err)
	}
	var all []string
	if err := s.Audit.AuditRecords(c, audit.Query{Matter: "m"}, func(r *audit.Record) error {
		all = append(all, r.Action+" "+r.Entity)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if last := all[len(all)-3:]; last[0] != "presence.open "+Rec("", "").Entity || last[1] != "presence.expire e-4" || last[2] != last[0] {
		t.Fatalf("the last records %q, want open, expire e-4, open", last)
	}
	// A denied user's presences all go, each audited.
	gen, _ := s.Presence.PresenceGen(c)
	gone, err := s.Presence.ClearEntityPresence(c, "e-3", func(p store.Presence) *audit.Record {
		r := Rec("presence.close", p.Matter)
		r.Entity = p.Entity
		return r
	})
	if err != nil || len(gone) != store.MaxPresencesPerEntityMatter {
		t.Fatalf("cleared %d, %v", len(gone), err)
	}
	if g, _ := s.Presence.PresenceGen(c); g == gen {
		t.Fatal("clearing a user's presences did not move the generation")
	}
	if list, _, _ := s.Presence.Presences(c, now); len(list) != 1 || list[0].Entity != "e-4" {
		t.Fatalf("presences after the clear = %+v", list)
	}
}
