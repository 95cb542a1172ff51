package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/store"
)

var requestTests = []struct {
	name string
	fn   func(*testing.T, Harness)
}{
	{"Requests", testRequests},
	{"RequestUploads", testRequestUploads},
	{"DropClaims", testDropClaims},
	{"DropObjectsUnreferenced", testDropObjects},
}

func newRequest(t *testing.T, s gateway.Stores, id, matter, entity, to string, maxFiles int64) store.Request {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	q := store.Request{ID: id, Matter: matter, Recipient: to, Entity: entity, User: "alice", Created: now, Expires: now.Add(2 * time.Hour),
		MaxFiles: maxFiles, MaxFileBytes: 1000, MaxBytes: 2500, PublicKey: []byte("0123456789abcdef0123456789abcdef"), WrappedKey: []byte("wrapped")}
	if err := s.Requests.CreateRequest(ctx(t), q, Rec("request.create", matter)); err != nil {
		t.Fatalf("CreateRequest %s: %v", id, err)
	}
	return q
}

// testRequests: a request reads back as created, lists by matter and
// maker, and is revoked once by ID, maker or matter.
func testRequests(t *testing.T, h Harness) {
	s := h.Open(t)
	if _, err := s.Requests.Request(ctx(t), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown request: %v", err)
	}
	want := newRequest(t, s, "q1", "m1", "e-a", "client@example.com", 3)
	newRequest(t, s, "q2", "m1", "e-b", "other@example.com", 3)
	newRequest(t, s, "q3", "m2", "e-a", "client@example.com", 3)
	got, err := s.Requests.Request(ctx(t), "q1")
	if err != nil || got.Matter != want.Matter || got.Recipient != want.Recipient || !got.Expires.Equal(want.Expires) ||
		string(got.PublicKey) != string(want.PublicKey) || string(got.WrappedKey) != "wrapped" || got.MaxFiles != 3 || got.MaxBytes != 2500 {
		t.Fatalf("Request = %+v, %v", got, err)
	}
	for _, c := range []struct {
		f    store.RequestFilter
		want int
	}{{store.RequestFilter{}, 3}, {store.RequestFilter{Matter: "m1"}, 2}, {store.RequestFilter{Entity: "e-a"}, 2}, {store.RequestFilter{Matter: "m2", Entity: "e-b"}, 0}} {
		if l, err := s.Requests.Requests(ctx(t), c.f); err != nil || len(l) != c.want {
			t.Fatalf("Requests(%+v) = %d, %v, want %d", c.f, len(l), err, c.want)
		}
	}
	now := time.Now()
	if r, err := s.Requests.RevokeRequests(ctx(t), store.RequestFilter{Entity: "e-a"}, "it", "user revoked", now, Rec("request.revoke", "")); err != nil || len(r) != 2 {
		t.Fatalf("revoke by maker = %d, %v", len(r), err)
	}
	if r, err := s.Requests.RevokeRequests(ctx(t), store.RequestFilter{Matter: "m1"}, "it", "matter closed", now, nil); err != nil || len(r) != 1 || r[0].ID != "q2" {
		t.Fatalf("revoke by matter = %+v, %v", r, err)
	}
	got, _ = s.Requests.Request(ctx(t), "q1")
	if !errors.Is(got.Usable(now), store.ErrRequestRevoked) || got.RevokeReason != "user revoked" || got.RevokedBy != "it" {
		t.Fatalf("revoked request = %+v", got)
	}
}

// testRequestUploads: codes are limited and verify once (the share
// tables' rules); an upload needs a live grant, counts against the files
// and bytes, and a full, too large, revoked or expired request refuses it.
func testRequestUploads(t *testing.T, h Harness) {
	s := h.Open(t)
	newRequest(t, s, "u1", "m1", "e-a", "client@example.com", 2)
	now := time.Now()
	code, grant := secret(t), secret(t)
	addDrop := func(id string, size int64, g [32]byte) error {
		return s.Requests.AddDrop(ctx(t), store.Drop{ID: id, Request: "u1", Size: size, ObjectKey: "m/m1/d/" + id, Uploaded: now}, g, Rec("request.upload", "m1"))
	}
	if err := addDrop("d0", 10, grant); !errors.Is(err, store.ErrGrantInvalid) {
		t.Fatalf("upload without a verified code: %v", err)
	}
	if err := s.Requests.AddRequestCode(ctx(t), store.ShareCode{Share: "u1", Hash: code, Created: now, Expires: now.Add(10 * time.Minute)}, shareLimits, Rec("request.code", "m1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Requests.VerifyRequestCode(ctx(t), "u1", secret(t), store.ShareGrant{Hash: grant, Expires: now.Add(time.Hour)}, now, shareLimits, Rec("request.verify", "m1")); !errors.Is(err, store.ErrCodeWrong) {
		t.Fatalf("wrong code: %v", err)
	}
	if _, err := s.Requests.VerifyRequestCode(ctx(t), "u1", code, store.ShareGrant{Hash: grant, Expires: now.Add(time.Hour)}, now, shareLimits, Rec("request.verify", "m1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Requests.VerifyRequestCode(ctx(t), "u1", code, store.ShareGrant{Hash: secret(t), Expires: now.Add(time.Hour)}, now, shareLimits, Rec("request.verify", "m1")); !errors.Is(err, store.ErrCodeWrong) {
		t.Fatalf("a code used twice: %v", err)
	}
	if _, err := s.Requests.CheckUpload(ctx(t), "u1", grant, 1001, now); !errors.Is(err, store.ErrRequestTooLarge) {
		t.Fatalf("a file over max_file_bytes: %v", err)
	}
	if _, err := s.Requests.CheckUpload(ctx(t), "u1", grant, 1000, now); err != nil {
		t.Fatal(err)
	}
	if err := addDrop("d1", 1000, grant); err != nil {
		t.Fatal(err)
	}
	if err := addDrop("d2", 1000, grant); err != nil {
		t.Fatal(err)
	}
	if err := addDrop("d3", 10, grant); !errors.Is(err, store.ErrRequestFull) {
		t.Fatalf("a third file of two: %v", err)
	}
	q, _ := s.Requests.Request(ctx(t), "u1")
	if q.Files != 2 || q.Bytes != 2000 {
		t.Fatalf("counted %d files, %d bytes", q.Files, q.Bytes)
	}
	if err := s.Requests.AddRequestCode(ctx(t), store.ShareCode{Share: "u1", Hash: secret(t), Created: now, Expires: now.Add(time.Minute)}, shareLimits, Rec("request.code", "m1")); !errors.Is(err, store.ErrRequestFull) {
		t.Fatalf("a code for a full request: %v", err)
	}
	newRequest(t, s, "u2", "m1", "e-a", "client@example.com", 5)
	if err := s.Requests.AddRequestCode(ctx(t), store.ShareCode{Share: "u2", Hash: secret(t), Created: now.Add(3 * time.Hour), Expires: now.Add(4 * time.Hour)}, shareLimits, Rec("request.code", "m1")); !errors.Is(err, store.ErrRequestExpired) {
		t.Fatalf("a code for an expired request: %v", err)
	}
	// Codes per address count every code to it: u1's and u2's.
	for i := 0; i < 4; i++ {
		err := s.Requests.AddRequestCode(ctx(t), store.ShareCode{Share: "u2", Hash: secret(t), Created: now, Expires: now.Add(time.Minute)}, shareLimits, Rec("request.code", "m1"))
		if i < 3 && err != nil {
			t.Fatal(err)
		} else if i == 3 && !errors.Is(err, store.ErrCodeLimit) {
			t.Fatalf("code %d past the limits: %v", i+2, err)
		}
	}
	d, err := s.Drops.Drop(ctx(t), "d1")
	if err != nil || d.Matter != "m1" || d.Sender != "client@example.com" || d.Size != 1000 || !d.Pending() {
		t.Fatalf("Drop = %+v, %v", d, err)
	}
	heads, err := s.Drops.DropHeads(ctx(t), []string{"m1", "m2"})
	if err != nil || heads["m1"] != 2 || heads["m2"] != 0 {
		t.Fatalf("DropHeads = %v, %v", heads, err)
	}
}

// testDropClaims: the first agent's claim wins until it lapses; only the
// holder finishes a drop, once; a finished drop is no longer pending.
func testDropClaims(t *testing.T, h Harness) {
	s := h.Open(t)
	newRequest(t, s, "c1", "m1", "e-a", "client@example.com", 5)
	now := time.Now()
	code, grant := secret(t), secret(t)
	if err := s.Requests.AddRequestCode(ctx(t), store.ShareCode{Share: "c1", Hash: code, Created: now, Expires: now.Add(10 * time.Minute)}, shareLimits, Rec("request.code", "m1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Requests.VerifyRequestCode(ctx(t), "c1", code, store.ShareGrant{Hash: grant, Expires: now.Add(time.Hour)}, now, shareLimits, Rec("request.verify", "m1")); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"x1", "x2"} {
		if err := s.Requests.AddDrop(ctx(t), store.Drop{ID: id, Request: "c1", Size: 5, ObjectKey: "m/m1/d/" + id, Uploaded: now}, grant, Rec("request.upload", "m1")); err != nil {
			t.Fatal(err)
		}
	}
	a := store.DropClaim{Drop: "x1", Entity: "e-a", Device: "A", User: "alice", Until: now.Add(10 * time.Minute)}
	b := store.DropClaim{Drop: "x1", Entity: "e-b", Device: "B", User: "bob", Until: now.Add(10 * time.Minute)}
	if _, err := s.Drops.ClaimDrop(ctx(t), a, now, Rec("drop.claim", "m1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Drops.ClaimDrop(ctx(t), b, now, Rec("drop.claim", "m1")); !errors.Is(err, store.ErrDropClaimed) {
		t.Fatalf("a second agent's claim: %v", err)
	}
	if _, err := s.Drops.ClaimDrop(ctx(t), a, now, Rec("drop.claim", "m1")); err != nil {
		t.Fatalf("the holder claiming again: %v", err)
	}
	if _, err := s.Drops.FinishDrop(ctx(t), b, RandomID(t), "", now, Rec("drop.done", "m1")); !errors.Is(err, store.ErrDropClaimed) {
		t.Fatalf("finished by an agent without the claim: %v", err)
	}
	// The claim lapses: another agent takes it, the first can no longer
	// finish.
	later := now.Add(11 * time.Minute)
	b.Until = later.Add(10 * time.Minute)
	if _, err := s.Drops.ClaimDrop(ctx(t), b, later, Rec("drop.claim", "m1")); err != nil {
		t.Fatalf("a lapsed claim taken: %v", err)
	}
	if _, err := s.Drops.FinishDrop(ctx(t), a, RandomID(t), "", later, Rec("drop.done", "m1")); !errors.Is(err, store.ErrDropClaimed) {
		t.Fatalf("finished by the lapsed holder: %v", err)
	}
	file := RandomID(t)
	d, err := s.Drops.FinishDrop(ctx(t), b, file, "", later, Rec("drop.done", "m1"))
	if err != nil || d.File != file || d.Pending() || d.DoneBy != "bob" {
		t.Fatalf("FinishDrop = %+v, %v", d, err)
	}
	if _, err := s.Drops.ClaimDrop(ctx(t), a, later.Add(time.Hour), Rec("drop.claim", "m1")); !errors.Is(err, store.ErrDropClaimed) {
		t.Fatalf("a finished drop claimed: %v", err)
	}
	c := store.DropClaim{Drop: "x2", Entity: "e-a", Device: "A", User: "alice", Until: now.Add(10 * time.Minute)}
	if _, err := s.Drops.ClaimDrop(ctx(t), c, now, Rec("drop.claim", "m1")); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Drops.FinishDrop(ctx(t), c, [32]byte{}, "no member can open it", now, Rec("drop.done", "m1")); err != nil || d.Problem == "" || d.Pending() {
		t.Fatalf("a drop left with a problem = %+v, %v", d, err)
	}
	if l, err := s.Drops.Drops(ctx(t), "m1", true, 0); err != nil || len(l) != 0 {
		t.Fatalf("pending drops = %d, %v", len(l), err)
	}
	if l, err := s.Drops.Drops(ctx(t), "m1", false, 0); err != nil || len(l) != 2 || l[0].File != file {
		t.Fatalf("all drops = %+v, %v", l, err)
	}
}

// testDropObjects: a drop object is named by its drop until the drop was
// delivered before the grace's cut; a drop waiting for an agent or left
// with a problem is never collected, whatever its age; an object no drop
// names is an orphan; DoomOrphans queues what is not named.
func testDropObjects(t *testing.T, h Harness) {
	s := h.Open(t)
	newRequest(t, s, "o1", "mo", "e-a", "client@example.com", 5)
	now := time.Now().UTC().Truncate(time.Microsecond)
	code, grant := secret(t), secret(t)
	if err := s.Requests.AddRequestCode(ctx(t), store.ShareCode{Share: "o1", Hash: code, Created: now, Expires: now.Add(10 * time.Minute)}, shareLimits, Rec("request.code", "mo")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Requests.VerifyRequestCode(ctx(t), "o1", code, store.ShareGrant{Hash: grant, Expires: now.Add(time.Hour)}, now, shareLimits, Rec("request.verify", "mo")); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"o-waiting", "o-delivered", "o-problem"} {
		if err := s.Requests.AddDrop(ctx(t), store.Drop{ID: id, Request: "o1", Size: 10, ObjectKey: "m/mo/d/" + id, Uploaded: now.Add(-3 * time.Hour)}, grant, Rec("request.upload", "mo")); err != nil {
			t.Fatal(err)
		}
	}
	finish := func(id, problem string, at time.Time) {
		t.Helper()
		c := store.DropClaim{Drop: id, Entity: "e-a", Device: "A", User: "alice", Until: at.Add(10 * time.Minute)}
		if _, err := s.Drops.ClaimDrop(ctx(t), c, at, Rec("drop.claim", "mo")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Drops.FinishDrop(ctx(t), c, RandomID(t), problem, at, Rec("drop.done", "mo")); err != nil {
			t.Fatal(err)
		}
	}
	finish("o-delivered", "", now.Add(-time.Hour))
	finish("o-problem", "no member can open it", now.Add(-2*time.Hour))
	var objs []store.ObjectKey
	for _, id := range []string{"o-waiting", "o-delivered", "o-problem", "o-orphan"} {
		objs = append(objs, store.ObjectKey{Key: "m/mo/d/" + id, Matter: "mo", Kind: store.KeyDrop, Size: 10, Time: now.Add(-3 * time.Hour)})
	}
	keys := func(l []store.ObjectKey) []string {
		var out []string
		for _, o := range l {
			out = append(out, strings.TrimPrefix(o.Key, "m/mo/d/"))
		}
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		before time.Time
		want   []string
	}{
		{now.Add(-90 * time.Minute), []string{"o-orphan"}},                // delivered after the cut
		{now.Add(-30 * time.Minute), []string{"o-delivered", "o-orphan"}}, // delivered an hour ago
		{now.Add(24 * time.Hour), []string{"o-delivered", "o-orphan"}},    // undelivered ones stay
	} {
		got, err := s.Lifecycle.Collector.Unreferenced(ctx(t), "mo", c.before, objs)
		if err != nil || !slices.Equal(keys(got), c.want) {
			t.Fatalf("Unreferenced(before %v) = %v, %v, want %v", now.Sub(c.before), keys(got), err, c.want)
		}
	}
	n, _, err := s.Lifecycle.Collector.DoomOrphans(ctx(t), "mo", store.DoomOrphan, now.Add(time.Minute), objs, Rec("lifecycle.orphans", "mo"))
	if err != nil || n != 2 {
		t.Fatalf("DoomOrphans = %d, %v, want 2", n, err)
	}
}
