package storetest

import (
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/store"
)

var shareTests = []struct {
	name string
	fn   func(*testing.T, Harness)
}{
	{"Shares", testShares},
	{"ShareCodes", testShareCodes},
	{"ShareRelease", testShareRelease},
	{"SharingPolicy", testSharingPolicy},
	{"ShareRules", testShareRules},
	{"ShareCodesRetiredAndCapped", testShareCodeCap},
	{"ShareObjectsUnreferenced", testShareObjects},
}

// on are the rules of a gateway whose sharing default is on.
var on = store.ShareRules{DefaultOn: true}

var shareLimits = store.CodeLimits{SentPerShare: 3, SentPerAddress: 4, WrongPerShare: 3, WrongPerAddress: 5}

func newShare(t *testing.T, s gateway.Stores, id, matter, entity, to string, maxDL int64) store.Share {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	sh := store.Share{ID: id, Matter: matter, File: RandomID(t), Version: 3, Recipient: to, Entity: entity, User: "alice",
		Created: now, Expires: now.Add(2 * time.Hour), MaxDownloads: maxDL, Size: 1234, ObjectKey: "m/" + matter + "/s/" + id}
	if err := s.Shares.CreateShare(ctx(t), sh, on, Rec("share.create", matter)); err != nil {
		t.Fatalf("CreateShare %s: %v", id, err)
	}
	return sh
}

func secret(t *testing.T) [32]byte {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return b
}

// testShares: a share reads back as created; lists by matter and creator;
// revocation by ID, by creator and by matter revokes each live share once,
// with one audit record per revocation that revoked any.
func testShares(t *testing.T, h Harness) {
	s := h.Open(t)
	if _, err := s.Shares.Share(ctx(t), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Share of an unknown ID: %v, want ErrNotFound", err)
	}
	before := auditCount(t, s)
	a := newShare(t, s, "s1", "m1", "e-a", "c@client.example", 2)
	newShare(t, s, "s2", "m1", "e-b", "c@client.example", 2)
	newShare(t, s, "s3", "m2", "e-a", "d@client.example", 2)
	newShare(t, s, "s4", "m2", "e-b", "d@client.example", 2)
	if n := auditCount(t, s) - before; n != 4 {
		t.Fatalf("%d audit records for 4 shares", n)
	}
	got, err := s.Shares.Share(ctx(t), "s1")
	if err != nil || got != a {
		t.Fatalf("Share(s1) = %+v, %v, want %+v", got, err, a)
	}
	for _, c := range []struct {
		f    store.ShareFilter
		want []string
	}{
		{store.ShareFilter{}, []string{"s1", "s2", "s3", "s4"}},
		{store.ShareFilter{Matter: "m1"}, []string{"s1", "s2"}},
		{store.ShareFilter{Entity: "e-a"}, []string{"s1", "s3"}},
		{store.ShareFilter{Matter: "m2", Entity: "e-b"}, []string{"s4"}},
		{store.ShareFilter{ID: "s3"}, []string{"s3"}},
	} {
		l, err := s.Shares.Shares(ctx(t), c.f)
		if err != nil || !sameShareIDs(l, c.want) {
			t.Fatalf("Shares(%+v) = %v, %v, want %v", c.f, shareIDs(l), err, c.want)
		}
	}
	now := time.Now()
	before = auditCount(t, s)
	r, err := s.Shares.RevokeShares(ctx(t), store.ShareFilter{ID: "s1"}, "it", "sent to the wrong client", now, Rec("admin.share.revoke", "m1"))
	if err != nil || !sameShareIDs(r, []string{"s1"}) || r[0].RevokedBy != "it" || r[0].Revoked.IsZero() {
		t.Fatalf("revoke s1: %+v, %v", r, err)
	}
	if r, err = s.Shares.RevokeShares(ctx(t), store.ShareFilter{Entity: "e-a"}, "it", "user revoked", now, Rec("admin.user.revoke", "")); err != nil || !sameShareIDs(r, []string{"s3"}) {
		t.Fatalf("revoke e-a's: %v, %v, want s3 (s1 already revoked)", shareIDs(r), err)
	}
	if r, err = s.Shares.RevokeShares(ctx(t), store.ShareFilter{Matter: "m1"}, "it", "matter closed", now, nil); err != nil || !sameShareIDs(r, []string{"s2"}) {
		t.Fatalf("revoke m1's: %v, %v, want s2", shareIDs(r), err)
	}
	if r, err = s.Shares.RevokeShares(ctx(t), store.ShareFilter{Matter: "m1"}, "it", "again", now, Rec("admin.share.revoke", "m1")); err != nil || len(r) != 0 {
		t.Fatalf("revoke m1's again: %v, %v, want none", shareIDs(r), err)
	}
	if n := auditCount(t, s) - before; n != 2 {
		t.Fatalf("%d audit records for revocations, want 2 (nil record and nothing revoked append none)", n)
	}
	got, _ = s.Shares.Share(ctx(t), "s1")
	if got.RevokeReason != "sent to the wrong client" || !errors.Is(got.Usable(time.Now()), store.ErrShareRevoked) {
		t.Fatalf("s1 after revoke: %+v, usable %v", got, got.Usable(time.Now()))
	}
	if l, _ := s.Shares.Shares(ctx(t), store.ShareFilter{ID: "s4"}); len(l) != 1 || !l[0].Revoked.IsZero() {
		t.Fatalf("s4 revoked by another's revocation: %+v", l)
	}
}

// testShareCodes: a code verifies once; a wrong, reused or expired code is
// refused and counted; the wrong-code limit then refuses even the right
// code; the codes sent per share and per address are bounded.
func testShareCodes(t *testing.T, h Harness) {
	s := h.Open(t)
	newShare(t, s, "c1", "m1", "e-a", "x@client.example", 5)
	now := time.Now()
	code := func(share string, at time.Time) [32]byte {
		hash := secret(t)
		if err := s.Shares.AddShareCode(ctx(t), store.ShareCode{Share: share, Hash: hash, Created: at, Expires: at.Add(10 * time.Minute)}, shareLimits, on, Rec("share.code", "m1")); err != nil {
			t.Fatalf("AddShareCode: %v", err)
		}
		return hash
	}
	verify := func(share string, hash [32]byte, at time.Time) error {
		_, err := s.Shares.VerifyShareCode(ctx(t), share, hash, store.ShareGrant{Hash: secret(t), Expires: at.Add(time.Minute)}, at, shareLimits, on, Rec("share.verify", "m1"))
		return err
	}
	good := code("c1", now)
	before := auditCount(t, s)
	if err := verify("c1", good, now); err != nil {
		t.Fatalf("right code: %v", err)
	}
	if n := auditCount(t, s) - before; n != 1 {
		t.Fatalf("%d audit records for a verification", n)
	}
	if err := verify("c1", good, now); !errors.Is(err, store.ErrCodeWrong) {
		t.Fatalf("reused code: %v, want ErrCodeWrong", err)
	}
	stale := code("c1", now.Add(-11*time.Minute))
	if err := verify("c1", stale, now); !errors.Is(err, store.ErrCodeWrong) {
		t.Fatalf("expired code: %v, want ErrCodeWrong", err)
	}
	fresh := code("c1", now)
	if err := verify("c1", secret(t), now); !errors.Is(err, store.ErrCodeWrong) {
		t.Fatalf("wrong code: %v, want ErrCodeWrong", err)
	}
	// Three wrong tries (reused, expired, wrong) reach WrongPerShare: the
	// right code is refused unseen.
	if err := verify("c1", fresh, now); !errors.Is(err, store.ErrCodeLimit) {
		t.Fatalf("right code after 3 wrong tries: %v, want ErrCodeLimit", err)
	}
	// An hour later the tries no longer count.
	if err := verify("c1", fresh, now.Add(61*time.Minute)); !errors.Is(err, store.ErrCodeWrong) {
		t.Fatalf("expired code an hour later: %v, want ErrCodeWrong", err)
	}
	// Codes sent: 3 for c1 in the last hour reach SentPerShare.
	if err := s.Shares.AddShareCode(ctx(t), store.ShareCode{Share: "c1", Hash: secret(t), Created: now, Expires: now.Add(time.Minute)}, shareLimits, on, Rec("share.code", "m1")); !errors.Is(err, store.ErrCodeLimit) {
		t.Fatalf("fourth code for a share within an hour: %v, want ErrCodeLimit", err)
	}
	// Per address: another share to the same address gets one more (4).
	newShare(t, s, "c2", "m1", "e-a", "x@client.example", 5)
	code("c2", now)
	if err := s.Shares.AddShareCode(ctx(t), store.ShareCode{Share: "c2", Hash: secret(t), Created: now, Expires: now.Add(time.Minute)}, shareLimits, on, Rec("share.code", "m1")); !errors.Is(err, store.ErrCodeLimit) {
		t.Fatalf("fifth code for an address within an hour: %v, want ErrCodeLimit", err)
	}
	// Wrong codes per address: 4 tries on c1 (the one an hour later
	// counts too) + 1 on c2 reach 5.
	if err := verify("c2", secret(t), now); !errors.Is(err, store.ErrCodeWrong) {
		t.Fatalf("wrong code on c2: %v", err)
	}
	if err := verify("c2", secret(t), now); !errors.Is(err, store.ErrCodeLimit) {
		t.Fatalf("sixth wrong code for an address: %v, want ErrCodeLimit", err)
	}
	if err := verify("nope", good, now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown share: %v", err)
	}
}

// testShareRelease: a verified code's capability releases one download,
// once; the download limit, expiry and revocation refuse a release and a
// code.
func testShareRelease(t *testing.T, h Harness) {
	s := h.Open(t)
	newShare(t, s, "r1", "m1", "e-a", "y@client.example", 1)
	now := time.Now()
	hash, grant := secret(t), secret(t)
	if err := s.Shares.AddShareCode(ctx(t), store.ShareCode{Share: "r1", Hash: hash, Created: now, Expires: now.Add(10 * time.Minute)}, shareLimits, on, Rec("share.code", "m1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Shares.ReleaseShare(ctx(t), "r1", grant, now, on, Rec("share.download", "m1")); !errors.Is(err, store.ErrGrantInvalid) {
		t.Fatalf("release before verification: %v, want ErrGrantInvalid", err)
	}
	if _, err := s.Shares.VerifyShareCode(ctx(t), "r1", hash, store.ShareGrant{Hash: grant, Expires: now.Add(time.Minute)}, now, shareLimits, on, Rec("share.verify", "m1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Shares.ReleaseShare(ctx(t), "r1", grant, now.Add(2*time.Minute), on, Rec("share.download", "m1")); !errors.Is(err, store.ErrGrantInvalid) {
		t.Fatalf("release after the capability expired: %v, want ErrGrantInvalid", err)
	}
	before := auditCount(t, s)
	sh, err := s.Shares.ReleaseShare(ctx(t), "r1", grant, now, on, Rec("share.download", "m1"))
	if err != nil || sh.Downloads != 1 {
		t.Fatalf("release: %+v, %v", sh, err)
	}
	if n := auditCount(t, s) - before; n != 1 {
		t.Fatalf("%d audit records for a download", n)
	}
	if _, err := s.Shares.ReleaseShare(ctx(t), "r1", grant, now, on, Rec("share.download", "m1")); !errors.Is(err, store.ErrShareUsedUp) {
		t.Fatalf("second release of a one-download share: %v, want ErrShareUsedUp", err)
	}
	if err := s.Shares.AddShareCode(ctx(t), store.ShareCode{Share: "r1", Hash: secret(t), Created: now, Expires: now.Add(time.Minute)}, shareLimits, on, Rec("share.code", "m1")); !errors.Is(err, store.ErrShareUsedUp) {
		t.Fatalf("code for a used-up share: %v, want ErrShareUsedUp", err)
	}
	newShare(t, s, "r2", "m1", "e-a", "y@client.example", 3)
	if err := s.Shares.AddShareCode(ctx(t), store.ShareCode{Share: "r2", Hash: secret(t), Created: now.Add(3 * time.Hour), Expires: now.Add(4 * time.Hour)}, shareLimits, on, Rec("share.code", "m1")); !errors.Is(err, store.ErrShareExpired) {
		t.Fatalf("code for an expired share: %v, want ErrShareExpired", err)
	}
	hash, grant = secret(t), secret(t)
	if err := s.Shares.AddShareCode(ctx(t), store.ShareCode{Share: "r2", Hash: hash, Created: now, Expires: now.Add(10 * time.Minute)}, shareLimits, on, Rec("share.code", "m1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Shares.VerifyShareCode(ctx(t), "r2", hash, store.ShareGrant{Hash: grant, Expires: now.Add(time.Minute)}, now, shareLimits, on, Rec("share.verify", "m1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Shares.RevokeShares(ctx(t), store.ShareFilter{ID: "r2"}, "it", "x", now, Rec("admin.share.revoke", "m1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Shares.ReleaseShare(ctx(t), "r2", grant, now, on, Rec("share.download", "m1")); !errors.Is(err, store.ErrShareRevoked) {
		t.Fatalf("release of a revoked share with a live capability: %v, want ErrShareRevoked", err)
	}
}

// testSharingPolicy: a matter's policy is the default until set, and is
// set with its audit record.
func testSharingPolicy(t *testing.T, h Harness) {
	s := h.Open(t)
	if p, err := s.Sharing.Sharing(ctx(t), "never-seen"); err != nil || p != store.SharingDefault {
		t.Fatalf("Sharing of an unknown matter: %v, %v", p, err)
	}
	before := auditCount(t, s)
	for _, p := range []store.SharingPolicy{store.SharingOn, store.SharingOff, store.SharingDefault} {
		if err := s.Sharing.SetSharing(ctx(t), "m1", p, Rec("admin.matter.sharing", "m1")); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Sharing.Sharing(ctx(t), "m1"); err != nil || got != p {
			t.Fatalf("Sharing after SetSharing(%v) = %v, %v", p, got, err)
		}
	}
	if n := auditCount(t, s) - before; n != 3 {
		t.Fatalf("%d audit records for 3 policy changes", n)
	}
}

func shareIDs(l []store.Share) []string {
	var out []string
	for _, s := range l {
		out = append(out, s.ID)
	}
	return out
}

func sameShareIDs(l []store.Share, want []string) bool {
	got := shareIDs(l)
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// testShareRules: creation, every use and CheckShare refuse a share whose
// matter is closed or shares by no policy, whose creator is denied, no
// longer a recorded member, screened, or reissued after the share (no
// membership recorded), with a *store.ShareBlocked matching
// ErrShareRevoked; a creation whose token predates a reissue stamp too.
func testShareRules(t *testing.T, h Harness) {
	s := h.Open(t)
	now := time.Now()
	blocked := func(what string, err error, reason string) {
		t.Helper()
		var b *store.ShareBlocked
		if !errors.As(err, &b) || b.Reason != reason || !errors.Is(err, store.ErrShareRevoked) {
			t.Fatalf("%s: %v, want refused (%s)", what, err, reason)
		}
	}
	check := func(id string, r store.ShareRules) error {
		_, err := s.Shares.CheckShare(ctx(t), id, nil, time.Now(), r)
		return err
	}
	newShare(t, s, "p1", "mp", "e-a", "x@client.example", 5)
	if err := check("p1", on); err != nil {
		t.Fatalf("live share: %v", err)
	}
	// Policy: the default, then the matter's own.
	off := store.ShareRules{}
	blocked("default off", check("p1", off), "sharing off")
	blocked("code, default off", s.Shares.AddShareCode(ctx(t), store.ShareCode{Share: "p1", Hash: secret(t), Created: now, Expires: now.Add(time.Minute)}, shareLimits, off, Rec("share.code", "mp")), "sharing off")
	if err := s.Sharing.SetSharing(ctx(t), "mp", store.SharingOn, Rec("admin.sharing.set", "mp")); err != nil {
		t.Fatal(err)
	}
	if err := check("p1", off); err != nil {
		t.Fatalf("matter on, default off: %v", err)
	}
	if err := s.Sharing.SetSharing(ctx(t), "mp", store.SharingOff, Rec("admin.sharing.set", "mp")); err != nil {
		t.Fatal(err)
	}
	blocked("matter off", check("p1", on), "sharing off")
	sh := store.Share{ID: "p2", Matter: "mp", File: RandomID(t), Version: 1, Recipient: "x@client.example", Entity: "e-a", User: "alice",
		Created: now, Expires: now.Add(time.Hour), MaxDownloads: 1, Size: 1, ObjectKey: "m/mp/s/p2"}
	blocked("create, matter off", s.Shares.CreateShare(ctx(t), sh, on, Rec("share.create", "mp")), "sharing off")
	if _, err := s.Shares.Share(ctx(t), "p2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused creation stored: %v", err)
	}
	if err := s.Sharing.SetSharing(ctx(t), "mp", store.SharingOn, Rec("admin.sharing.set", "mp")); err != nil {
		t.Fatal(err)
	}

	// The creator denied, then allowed again.
	if _, _, err := s.Deny.AddDeny(ctx(t), store.DenyEntry{Entity: "e-a", Name: "alice", Reason: "left", CreatedBy: "it", Time: now}, Rec("admin.deny.add", "")); err != nil {
		t.Fatal(err)
	}
	blocked("denied", check("p1", on), "user revoked")
	blocked("create, denied", s.Shares.CreateShare(ctx(t), sh, on, Rec("share.create", "mp")), "user revoked")
	hash, grant := secret(t), secret(t)
	blocked("release, denied", func() error {
		_, err := s.Shares.ReleaseShare(ctx(t), "p1", grant, now, on, Rec("share.download", "mp"))
		return err
	}(), "user revoked")
	blocked("verify, denied", func() error {
		_, err := s.Shares.VerifyShareCode(ctx(t), "p1", hash, store.ShareGrant{Hash: grant, Expires: now.Add(time.Minute)}, now, shareLimits, on, Rec("share.verify", "mp"))
		return err
	}(), "user revoked")
	if _, _, err := s.Deny.RemoveDeny(ctx(t), "e-a", Rec("admin.deny.remove", "")); err != nil {
		t.Fatal(err)
	}
	if err := check("p1", on); err != nil {
		t.Fatalf("deny removed: %v", err)
	}

	// Membership, once recorded: rw or ro, never screened.
	members := func(ms ...store.Member) {
		t.Helper()
		if _, err := s.Members.RecordMembership(ctx(t), store.MembershipSnapshot{Matter: "mp", Members: ms, Source: store.SourceVault, By: "sync", Time: time.Now()},
			Rec("admin.members.record", "mp")); err != nil {
			t.Fatal(err)
		}
	}
	members(store.Member{Entity: "e-b", Name: "bob", Role: "rw"})
	blocked("not a member", check("p1", on), "creator no longer a member of the matter")
	members(store.Member{Entity: "e-b", Name: "bob", Role: "rw"}, store.Member{Entity: "e-a", Name: "alice", Role: "ro"})
	if err := check("p1", on); err != nil {
		t.Fatalf("ro member: %v", err)
	}
	members(store.Member{Entity: "e-a", Name: "alice", Role: "ro"}, store.Member{Entity: "e-a", Name: "alice", Role: "screened"})
	blocked("screened", check("p1", on), "creator screened from the matter")
	members(store.Member{Entity: "e-a", Name: "alice", Role: "rw"})
	if err := check("p1", on); err != nil {
		t.Fatalf("rw member again: %v", err)
	}

	// A reissue stamp after the share, where no membership is recorded.
	newShare(t, s, "f1", "mf", "e-c", "x@client.example", 5)
	floor := time.Now().Add(time.Second)
	if _, _, err := s.Deny.SetTokenFloor(ctx(t), store.TokenFloor{Entity: "e-c", NotBefore: floor, Reason: "removed", SetBy: "it", Time: floor}, Rec("admin.deny.reissue", "")); err != nil {
		t.Fatal(err)
	}
	blocked("reissued after the share", check("f1", on), "creator's access changed (reissue)")
	// A share created after the stamp is fine; a creation whose token
	// predates it is refused.
	later := store.Share{ID: "f2", Matter: "mf", File: RandomID(t), Version: 1, Recipient: "x@client.example", Entity: "e-c", User: "carol",
		Created: floor.Add(time.Second).UTC().Truncate(time.Microsecond), Expires: floor.Add(time.Hour).UTC().Truncate(time.Microsecond), MaxDownloads: 1, Size: 1, ObjectKey: "m/mf/s/f2"}
	blocked("create with an old token", s.Shares.CreateShare(ctx(t), later, store.ShareRules{DefaultOn: true, Token: floor.Add(-time.Minute)}, Rec("share.create", "mf")), "creator's access changed (reissue)")
	if err := s.Shares.CreateShare(ctx(t), later, store.ShareRules{DefaultOn: true, Token: floor.Add(time.Millisecond)}, Rec("share.create", "mf")); err != nil {
		t.Fatalf("create with a fresh token: %v", err)
	}
	if _, err := s.Shares.CheckShare(ctx(t), "f2", nil, floor.Add(2*time.Second), on); err != nil {
		t.Fatalf("share made after the stamp: %v", err)
	}

	// Closed.
	if _, _, err := s.Closed.CloseMatter(ctx(t), "mp", "it", "done", time.Now(), Rec("admin.close", "mp")); err != nil {
		t.Fatal(err)
	}
	blocked("closed", check("p1", on), "matter closed")
	sh.ID, sh.ObjectKey = "p3", "m/mp/s/p3"
	blocked("create, closed", s.Shares.CreateShare(ctx(t), sh, on, Rec("share.create", "mp")), "matter closed")
}

// testShareCodeCap: a new code retires the share's unused ones; wrong codes
// over the share's life reach WrongPerShareTotal, and the one that does
// (and every code after, right or new) is refused with ErrCodeCap.
func testShareCodeCap(t *testing.T, h Harness) {
	s := h.Open(t)
	newShare(t, s, "k1", "mk", "e-a", "z@client.example", 5)
	now := time.Now()
	lim := store.CodeLimits{SentPerShare: 100, SentPerAddress: 100, WrongPerShare: 100, WrongPerAddress: 100, WrongPerShareTotal: 3}
	code := func(at time.Time) ([32]byte, error) {
		hash := secret(t)
		return hash, s.Shares.AddShareCode(ctx(t), store.ShareCode{Share: "k1", Hash: hash, Created: at, Expires: at.Add(10 * time.Minute)}, lim, on, Rec("share.code", "mk"))
	}
	verify := func(hash [32]byte, at time.Time) error {
		_, err := s.Shares.VerifyShareCode(ctx(t), "k1", hash, store.ShareGrant{Hash: secret(t), Expires: at.Add(time.Minute)}, at, lim, on, Rec("share.verify", "mk"))
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
		t.Fatalf("code retired by a newer one: %v, want ErrCodeWrong", err)
	}
	if err := verify(second, now.Add(2*time.Second)); err != nil {
		t.Fatalf("newest code: %v", err)
	}
	live, err := code(now.Add(3 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// One wrong already (the retired code); two more reach 3, over an hour apart.
	if err := verify(secret(t), now.Add(70*time.Minute)); !errors.Is(err, store.ErrCodeWrong) {
		t.Fatalf("second wrong code: %v", err)
	}
	if err := verify(secret(t), now.Add(100*time.Minute)); !errors.Is(err, store.ErrCodeCap) {
		t.Fatalf("third wrong code over the share's life: %v, want ErrCodeCap", err)
	}
	if err := verify(live, now.Add(4*time.Second)); !errors.Is(err, store.ErrCodeCap) {
		t.Fatalf("right code after the cap: %v, want ErrCodeCap", err)
	}
	if _, err := code(now.Add(5 * time.Second)); !errors.Is(err, store.ErrCodeCap) {
		t.Fatalf("new code after the cap: %v, want ErrCodeCap", err)
	}
}

// testShareObjects: a share object is named by its share while the share
// can be used or ended at or after the grace's cut; an object no share
// names is an orphan; DoomOrphans queues what is not named.
func testShareObjects(t *testing.T, h Harness) {
	s := h.Open(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	newShare(t, s, "o-live", "mo", "e-a", "x@client.example", 2)
	newShare(t, s, "o-revoked", "mo", "e-a", "x@client.example", 2)
	if _, err := s.Shares.RevokeShares(ctx(t), store.ShareFilter{ID: "o-revoked"}, "it", "x", now, Rec("share.revoke", "mo")); err != nil {
		t.Fatal(err)
	}
	exp := store.Share{ID: "o-expired", Matter: "mo", File: RandomID(t), Version: 1, Recipient: "x@client.example", Entity: "e-a", User: "alice",
		Created: now.Add(-2 * time.Hour), Expires: now.Add(-time.Hour), MaxDownloads: 1, Size: 10, ObjectKey: "m/mo/s/o-expired"}
	if err := s.Shares.CreateShare(ctx(t), exp, on, Rec("share.create", "mo")); err != nil {
		t.Fatal(err)
	}
	var objs []store.ObjectKey
	for _, id := range []string{"o-live", "o-revoked", "o-expired", "o-orphan"} {
		objs = append(objs, store.ObjectKey{Key: "m/mo/s/" + id, Matter: "mo", Kind: store.KeyShare, Size: 10, Time: now.Add(-3 * time.Hour)})
	}
	keys := func(l []store.ObjectKey) []string {
		var out []string
		for _, o := range l {
			out = append(out, strings.TrimPrefix(o.Key, "m/mo/s/"))
		}
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		before time.Time
		want   []string
	}{
		{now.Add(-90 * time.Minute), []string{"o-orphan"}},              // nothing ended before the cut
		{now.Add(-30 * time.Minute), []string{"o-expired", "o-orphan"}}, // expired an hour ago
		{now.Add(time.Minute), []string{"o-expired", "o-orphan", "o-revoked"}},
	} {
		got, err := s.Lifecycle.Collector.Unreferenced(ctx(t), "mo", c.before, objs)
		if err != nil || !slices.Equal(keys(got), c.want) {
			t.Fatalf("Unreferenced(before %v) = %v, %v, want %v", now.Sub(c.before), keys(got), err, c.want)
		}
	}
	n, _, err := s.Lifecycle.Collector.DoomOrphans(ctx(t), "mo", store.DoomOrphan, now.Add(time.Minute), objs, Rec("lifecycle.orphans", "mo"))
	if err != nil || n != 3 {
		t.Fatalf("DoomOrphans = %d, %v, want 3", n, err)
	}
}
