package storetest

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/format"
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
	{"RequestRules", testRequestRules},
	{"RequestEpoch", testRequestEpoch},
	{"RequestCodeCap", testRequestCodeCap},
}

func newRequest(t *testing.T, s gateway.Stores, id, matter, entity, to string, maxFiles int64) store.Request {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	q := store.Request{ID: id, Matter: matter, Recipient: to, Entity: entity, User: "alice", Created: now, Expires: now.Add(2 * time.Hour),
		MaxFiles: maxFiles, MaxFileBytes: 1000, MaxBytes: 2500, PublicKey: []byte("0123456789abcdef0123456789abcdef"), WrappedKey: wrappedAt(t, matter, 1)}
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
		string(got.PublicKey) != string(want.PublicKey) || string(got.WrappedKey) != string(want.WrappedKey) || got.MaxFiles != 3 || got.MaxBytes != 2500 {
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
		return s.Requests.AddDrop(ctx(t), store.Drop{ID: id, Request: "u1", Size: size, ObjectKey: "m/m1/d/" + id, Uploaded: now}, g, on, Rec("request.upload", "m1"))
	}
	if err := addDrop("d0", 10, grant); !errors.Is(err, store.ErrGrantInvalid) {
		t.Fatalf("upload without a verified code: %v", err)
	}
	if err := s.Requests.AddRequestCode(ctx(t), store.ShareCode{Share: "u1", Hash: code, Created: now, Expires: now.Add(10 * time.Minute)}, shareLimits, on, Rec("request.code", "m1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Requests.VerifyRequestCode(ctx(t), "u1", secret(t), store.ShareGrant{Hash: grant, Expires: now.Add(time.Hour)}, now, shareLimits, on, Rec("request.verify", "m1")); !errors.Is(err, store.ErrCodeWrong) {
		t.Fatalf("wrong code: %v", err)
	}
	if _, err := s.Requests.VerifyRequestCode(ctx(t), "u1", code, store.ShareGrant{Hash: grant, Expires: now.Add(time.Hour)}, now, shareLimits, on, Rec("request.verify", "m1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Requests.VerifyRequestCode(ctx(t), "u1", code, store.ShareGrant{Hash: secret(t), Expires: now.Add(time.Hour)}, now, shareLimits, on, Rec("request.verify", "m1")); !errors.Is(err, store.ErrCodeWrong) {
		t.Fatalf("a code used twice: %v", err)
	}
	if _, err := s.Requests.CheckUpload(ctx(t), "u1", grant, 1001, now, on); !errors.Is(err, store.ErrRequestTooLarge) {
		t.Fatalf("a file over max_file_bytes: %v", err)
	}
	if _, err := s.Requests.CheckUpload(ctx(t), "u1", grant, 1000, now, on); err != nil {
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
	if err := s.Requests.AddRequestCode(ctx(t), store.ShareCode{Share: "u1", Hash: secret(t), Created: now, Expires: now.Add(time.Minute)}, shareLimits, on, Rec("request.code", "m1")); !errors.Is(err, store.ErrRequestFull) {
		t.Fatalf("a code for a full request: %v", err)
	}
	newRequest(t, s, "u2", "m1", "e-a", "client@example.com", 5)
	if err := s.Requests.AddRequestCode(ctx(t), store.ShareCode{Share: "u2", Hash: secret(t), Created: now.Add(3 * time.Hour), Expires: now.Add(4 * time.Hour)}, shareLimits, on, Rec("request.code", "m1")); !errors.Is(err, store.ErrRequestExpired) {
		t.Fatalf("a code for an expired request: %v", err)
	}
	// Codes per address count every code to it: u1's and u2's.
	for i := 0; i < 4; i++ {
		err := s.Requests.AddRequestCode(ctx(t), store.ShareCode{Share: "u2", Hash: secret(t), Created: now, Expires: now.Add(time.Minute)}, shareLimits, on, Rec("request.code", "m1"))
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
	if err := s.Requests.AddRequestCode(ctx(t), store.ShareCode{Share: "c1", Hash: code, Created: now, Expires: now.Add(10 * time.Minute)}, shareLimits, on, Rec("request.code", "m1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Requests.VerifyRequestCode(ctx(t), "c1", code, store.ShareGrant{Hash: grant, Expires: now.Add(time.Hour)}, now, shareLimits, on, Rec("request.verify", "m1")); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"x1", "x2"} {
		if err := s.Requests.AddDrop(ctx(t), store.Drop{ID: id, Request: "c1", Size: 5, ObjectKey: "m/m1/d/" + id, Uploaded: now}, grant, on, Rec("request.upload", "m1")); err != nil {
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
	if err := s.Requests.AddRequestCode(ctx(t), store.ShareCode{Share: "o1", Hash: code, Created: now, Expires: now.Add(10 * time.Minute)}, shareLimits, on, Rec("request.code", "mo")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Requests.VerifyRequestCode(ctx(t), "o1", code, store.ShareGrant{Hash: grant, Expires: now.Add(time.Hour)}, now, shareLimits, on, Rec("request.verify", "mo")); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"o-waiting", "o-delivered", "o-problem"} {
		if err := s.Requests.AddDrop(ctx(t), store.Drop{ID: id, Request: "o1", Size: 10, ObjectKey: "m/mo/d/" + id, Uploaded: now.Add(-3 * time.Hour)}, grant, on, Rec("request.upload", "mo")); err != nil {
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

// wrappedAt is a request key wrapped under epoch of matter (a random
// epoch key: the store reads only the epoch).
func wrappedAt(t *testing.T, matter string, epoch uint32) []byte {
	t.Helper()
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := secret(t)
	w, err := format.WrapRequestKey(matter, epoch, k[:], priv)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// requestBlocked fails unless err is a *store.ShareBlocked for reason.
func requestBlocked(t *testing.T, what string, err error, reason string) {
	t.Helper()
	var b *store.ShareBlocked
	if !errors.As(err, &b) || b.Reason != reason {
		t.Fatalf("%s: %v, want refused (%s)", what, err, reason)
	}
}

// requestUses runs a code, a verify and an upload on request id at now
// under r: each use's error.
func requestUses(t *testing.T, s gateway.Stores, id, matter string, r store.ShareRules, now time.Time) (code, verify, upload error) {
	t.Helper()
	hash, grant := secret(t), secret(t)
	code = s.Requests.AddRequestCode(ctx(t), store.ShareCode{Share: id, Hash: hash, Created: now, Expires: now.Add(10 * time.Minute)}, shareLimits, r, Rec("request.code", matter))
	_, verify = s.Requests.VerifyRequestCode(ctx(t), id, hash, store.ShareGrant{Hash: grant, Expires: now.Add(time.Hour)}, now, shareLimits, r, Rec("request.verify", matter))
	d := RandomID(t)
	did := hex.EncodeToString(d[:16])
	upload = s.Requests.AddDrop(ctx(t), store.Drop{ID: did, Request: id, Size: 5, ObjectKey: "m/" + matter + "/d/" + did, Uploaded: now}, grant, r, Rec("request.upload", matter))
	return code, verify, upload
}

// testRequestRules: the shares' rules, checked in every use's
// transaction, refuse a request whose matter is closed or shares by no
// policy, whose maker is denied, screened, recorded without rw (ro is
// not enough: uploads land in the matter) or reissued after it (hostile
// review request-1, findings 3 and 5).
func testRequestRules(t *testing.T, h Harness) {
	s := h.Open(t)
	now := time.Now()
	newRequest(t, s, "r1", "mr", "e-a", "x@client.example", 100)
	all := func(what, reason string, r store.ShareRules) {
		t.Helper()
		c, v, u := requestUses(t, s, "r1", "mr", r, now)
		requestBlocked(t, what+": code", c, reason)
		requestBlocked(t, what+": verify", v, reason)
		requestBlocked(t, what+": upload", u, reason)
		if _, err := s.Requests.CheckUpload(ctx(t), "r1", secret(t), 1, now, r); !errors.As(err, new(*store.ShareBlocked)) {
			t.Fatalf("%s: CheckUpload %v", what, err)
		}
	}
	ok := func(what string) {
		t.Helper()
		c, v, u := requestUses(t, s, "r1", "mr", on, now)
		if c != nil || v != nil || u != nil {
			t.Fatalf("%s: code %v, verify %v, upload %v", what, c, v, u)
		}
	}
	ok("live")
	all("default off", "sharing off", store.ShareRules{})
	if err := s.Sharing.SetSharing(ctx(t), "mr", store.SharingOff, Rec("admin.sharing.set", "mr")); err != nil {
		t.Fatal(err)
	}
	all("matter off", "sharing off", on)
	if err := s.Sharing.SetSharing(ctx(t), "mr", store.SharingOn, Rec("admin.sharing.set", "mr")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Deny.AddDeny(ctx(t), store.DenyEntry{Entity: "e-a", Name: "alice", Reason: "left", CreatedBy: "it", Time: now}, Rec("admin.deny.add", "")); err != nil {
		t.Fatal(err)
	}
	all("denied", "user revoked", on)
	if _, _, err := s.Deny.RemoveDeny(ctx(t), "e-a", Rec("admin.deny.remove", "")); err != nil {
		t.Fatal(err)
	}
	members := func(ms ...store.Member) {
		t.Helper()
		if _, err := s.Members.RecordMembership(ctx(t), store.MembershipSnapshot{Matter: "mr", Members: ms, Source: store.SourceVault, By: "sync", Time: time.Now()},
			Rec("admin.members.record", "mr")); err != nil {
			t.Fatal(err)
		}
	}
	members(store.Member{Entity: "e-b", Name: "bob", Role: "rw"})
	all("removed", "creator no longer has rw on the matter", on)
	members(store.Member{Entity: "e-a", Name: "alice", Role: "ro"})
	all("ro only", "creator no longer has rw on the matter", on)
	members(store.Member{Entity: "e-a", Name: "alice", Role: "rw"}, store.Member{Entity: "e-a", Name: "alice", Role: "screened"})
	all("screened", "creator screened from the matter", on)
	members(store.Member{Entity: "e-a", Name: "alice", Role: "rw"})
	ok("rw again")

	// Reissued after the request, no membership recorded.
	newRequest(t, s, "r2", "mr2", "e-c", "x@client.example", 100)
	floor := time.Now().Add(time.Second)
	if _, _, err := s.Deny.SetTokenFloor(ctx(t), store.TokenFloor{Entity: "e-c", NotBefore: floor, Reason: "removed", SetBy: "it", Time: floor}, Rec("admin.deny.reissue", "")); err != nil {
		t.Fatal(err)
	}
	c, v, u := requestUses(t, s, "r2", "mr2", on, now)
	requestBlocked(t, "reissued: code", c, "creator's access changed (reissue)")
	requestBlocked(t, "reissued: verify", v, "creator's access changed (reissue)")
	requestBlocked(t, "reissued: upload", u, "creator's access changed (reissue)")

	if _, _, err := s.Closed.CloseMatter(ctx(t), "mr", "it", "done", time.Now(), Rec("admin.close", "mr")); err != nil {
		t.Fatal(err)
	}
	all("closed", "matter closed", on)
}

// testRequestEpoch: once the matter's epoch moved past the one the
// request's key is wrapped under, code, verify and upload are refused in
// their transaction (hostile review request-1, finding 2).
func testRequestEpoch(t *testing.T, h Harness) {
	s := h.Open(t)
	now := time.Now()
	if _, err := s.Epochs.SetEpoch(ctx(t), "me", 1, Rec("admin.epoch.set", "me")); err != nil {
		t.Fatal(err)
	}
	newRequest(t, s, "e1", "me", "e-a", "x@client.example", 100)
	if c, v, u := requestUses(t, s, "e1", "me", on, now); c != nil || v != nil || u != nil {
		t.Fatalf("epoch current: code %v, verify %v, upload %v", c, v, u)
	}
	// A grant taken before the rotation is refused at upload too.
	hash, grant := secret(t), secret(t)
	if err := s.Requests.AddRequestCode(ctx(t), store.ShareCode{Share: "e1", Hash: hash, Created: now, Expires: now.Add(10 * time.Minute)}, shareLimits, on, Rec("request.code", "me")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Requests.VerifyRequestCode(ctx(t), "e1", hash, store.ShareGrant{Hash: grant, Expires: now.Add(time.Hour)}, now, shareLimits, on, Rec("request.verify", "me")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Epochs.SetEpoch(ctx(t), "me", 2, Rec("admin.epoch.set", "me")); err != nil {
		t.Fatal(err)
	}
	err := s.Requests.AddDrop(ctx(t), store.Drop{ID: "0123456789abcdef0123456789abcdef", Request: "e1", Size: 5, ObjectKey: "m/me/d/0123456789abcdef0123456789abcdef", Uploaded: now}, grant, on, Rec("request.upload", "me"))
	requestBlocked(t, "upload under an old grant", err, store.ReasonEpochRotated)
	c, v, u := requestUses(t, s, "e1", "me", on, now)
	requestBlocked(t, "rotated: code", c, store.ReasonEpochRotated)
	requestBlocked(t, "rotated: verify", v, store.ReasonEpochRotated)
	requestBlocked(t, "rotated: upload", u, store.ReasonEpochRotated)
	// A request wrapped under the new epoch is fine.
	q := store.Request{ID: "e2", Matter: "me", Recipient: "x@client.example", Entity: "e-a", User: "alice", Created: now.UTC().Truncate(time.Microsecond),
		Expires: now.Add(time.Hour).UTC().Truncate(time.Microsecond), MaxFiles: 10, MaxFileBytes: 1000, MaxBytes: 2500,
		PublicKey: []byte("0123456789abcdef0123456789abcdef"), WrappedKey: wrappedAt(t, "me", 2)}
	if err := s.Requests.CreateRequest(ctx(t), q, Rec("request.create", "me")); err != nil {
		t.Fatal(err)
	}
	if c, v, u := requestUses(t, s, "e2", "me", on, now); c != nil || v != nil || u != nil {
		t.Fatalf("new epoch: code %v, verify %v, upload %v", c, v, u)
	}
}

// testRequestCodeCap: a new code retires the request's unused ones; wrong
// codes over the request's life reach WrongPerShareTotal, and the one that
// does (and every code after, right or new) is refused with ErrCodeCap
// (hostile review request-1, finding 4).
func testRequestCodeCap(t *testing.T, h Harness) {
	s := h.Open(t)
	newRequest(t, s, "k1", "mk", "e-a", "z@client.example", 100)
	now := time.Now()
	lim := store.CodeLimits{SentPerShare: 100, SentPerAddress: 100, WrongPerShare: 100, WrongPerAddress: 100, WrongPerShareTotal: 3}
	code := func(at time.Time) ([32]byte, error) {
		hash := secret(t)
		return hash, s.Requests.AddRequestCode(ctx(t), store.ShareCode{Share: "k1", Hash: hash, Created: at, Expires: at.Add(10 * time.Minute)}, lim, on, Rec("request.code", "mk"))
	}
	verify := func(hash [32]byte, at time.Time) error {
		_, err := s.Requests.VerifyRequestCode(ctx(t), "k1", hash, store.ShareGrant{Hash: secret(t), Expires: at.Add(time.Minute)}, at, lim, on, Rec("request.verify", "mk"))
		return err
	}
	first, err := code(now)
	if err != nil {
		t.Fatal(err)
	}
	second, err := code(now.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(first, now.Add(2*time.Second)); !errors.Is(err, store.ErrCodeWrong) {
		t.Fatalf("retired code: %v, want ErrCodeWrong", err)
	}
	if err := verify(secret(t), now.Add(3*time.Second)); !errors.Is(err, store.ErrCodeWrong) {
		t.Fatalf("second wrong code: %v", err)
	}
	if err := verify(secret(t), now.Add(4*time.Second)); !errors.Is(err, store.ErrCodeCap) {
		t.Fatalf("third wrong code: %v, want ErrCodeCap", err)
	}
	if err := verify(second, now.Add(5*time.Second)); !errors.Is(err, store.ErrCodeCap) {
		t.Fatalf("right code after the cap: %v, want ErrCodeCap", err)
	}
	if _, err := code(now.Add(6 * time.Second)); !errors.Is(err, store.ErrCodeCap) {
		t.Fatalf("new code after the cap: %v, want ErrCodeCap", err)
	}
}
