package storetest

import (
	"crypto/rand"
	"errors"
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
}

var shareLimits = store.CodeLimits{SentPerShare: 3, SentPerAddress: 4, WrongPerShare: 3, WrongPerAddress: 5}

func newShare(t *testing.T, s gateway.Stores, id, matter, entity, to string, maxDL int64) store.Share {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	sh := store.Share{ID: id, Matter: matter, File: RandomID(t), Version: 3, Recipient: to, Entity: entity, User: "alice",
		Created: now, Expires: now.Add(2 * time.Hour), MaxDownloads: maxDL, Size: 1234, ObjectKey: "m/" + matter + "/s/" + id}
	if err := s.Shares.CreateShare(ctx(t), sh, Rec("share.create", matter)); err != nil {
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
		if err := s.Shares.AddShareCode(ctx(t), store.ShareCode{Share: share, Hash: hash, Created: at, Expires: at.Add(10 * time.Minute)}, shareLimits, Rec("share.code", "m1")); err != nil {
			t.Fatalf("AddShareCode: %v", err)
		}
		return hash
	}
	verify := func(share string, hash [32]byte, at time.Time) error {
		_, err := s.Shares.VerifyShareCode(ctx(t), share, hash, store.ShareGrant{Hash: secret(t), Expires: at.Add(time.Minute)}, at, shareLimits, Rec("share.verify", "m1"))
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
	if err := s.Shares.AddShareCode(ctx(t), store.ShareCode{Share: "c1", Hash: secret(t), Created: now, Expires: now.Add(time.Minute)}, shareLimits, Rec("share.code", "m1")); !errors.Is(err, store.ErrCodeLimit) {
		t.Fatalf("fourth code for a share within an hour: %v, want ErrCodeLimit", err)
	}
	// Per address: another share to the same address gets one more (4).
	newShare(t, s, "c2", "m1", "e-a", "x@client.example", 5)
	code("c2", now)
	if err := s.Shares.AddShareCode(ctx(t), store.ShareCode{Share: "c2", Hash: secret(t), Created: now, Expires: now.Add(time.Minute)}, shareLimits, Rec("share.code", "m1")); !errors.Is(err, store.ErrCodeLimit) {
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
	if err := s.Shares.AddShareCode(ctx(t), store.ShareCode{Share: "r1", Hash: hash, Created: now, Expires: now.Add(10 * time.Minute)}, shareLimits, Rec("share.code", "m1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Shares.ReleaseShare(ctx(t), "r1", grant, now, Rec("share.download", "m1")); !errors.Is(err, store.ErrGrantInvalid) {
		t.Fatalf("release before verification: %v, want ErrGrantInvalid", err)
	}
	if _, err := s.Shares.VerifyShareCode(ctx(t), "r1", hash, store.ShareGrant{Hash: grant, Expires: now.Add(time.Minute)}, now, shareLimits, Rec("share.verify", "m1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Shares.ReleaseShare(ctx(t), "r1", grant, now.Add(2*time.Minute), Rec("share.download", "m1")); !errors.Is(err, store.ErrGrantInvalid) {
		t.Fatalf("release after the capability expired: %v, want ErrGrantInvalid", err)
	}
	before := auditCount(t, s)
	sh, err := s.Shares.ReleaseShare(ctx(t), "r1", grant, now, Rec("share.download", "m1"))
	if err != nil || sh.Downloads != 1 {
		t.Fatalf("release: %+v, %v", sh, err)
	}
	if n := auditCount(t, s) - before; n != 1 {
		t.Fatalf("%d audit records for a download", n)
	}
	if _, err := s.Shares.ReleaseShare(ctx(t), "r1", grant, now, Rec("share.download", "m1")); !errors.Is(err, store.ErrShareUsedUp) {
		t.Fatalf("second release of a one-download share: %v, want ErrShareUsedUp", err)
	}
	if err := s.Shares.AddShareCode(ctx(t), store.ShareCode{Share: "r1", Hash: secret(t), Created: now, Expires: now.Add(time.Minute)}, shareLimits, Rec("share.code", "m1")); !errors.Is(err, store.ErrShareUsedUp) {
		t.Fatalf("code for a used-up share: %v, want ErrShareUsedUp", err)
	}
	newShare(t, s, "r2", "m1", "e-a", "y@client.example", 3)
	if err := s.Shares.AddShareCode(ctx(t), store.ShareCode{Share: "r2", Hash: secret(t), Created: now.Add(3 * time.Hour), Expires: now.Add(4 * time.Hour)}, shareLimits, Rec("share.code", "m1")); !errors.Is(err, store.ErrShareExpired) {
		t.Fatalf("code for an expired share: %v, want ErrShareExpired", err)
	}
	hash, grant = secret(t), secret(t)
	if err := s.Shares.AddShareCode(ctx(t), store.ShareCode{Share: "r2", Hash: hash, Created: now, Expires: now.Add(10 * time.Minute)}, shareLimits, Rec("share.code", "m1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Shares.VerifyShareCode(ctx(t), "r2", hash, store.ShareGrant{Hash: grant, Expires: now.Add(time.Minute)}, now, shareLimits, Rec("share.verify", "m1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Shares.RevokeShares(ctx(t), store.ShareFilter{ID: "r2"}, "it", "x", now, Rec("admin.share.revoke", "m1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Shares.ReleaseShare(ctx(t), "r2", grant, now, Rec("share.download", "m1")); !errors.Is(err, store.ErrShareRevoked) {
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
