package gateway_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/share"
	"github.com/mattersync/mattersync/gateway/store"
	"github.com/mattersync/mattersync/internal/testenv"
)

func bothEngines(t *testing.T, fn func(t *testing.T, pg bool)) {
	for _, pg := range []bool{false, true} {
		t.Run(map[bool]string{false: "sqlite", true: "postgres"}[pg], func(t *testing.T) { fn(t, pg) })
	}
}

// TestShareCreateAcrossCloseAndDeny (hostile review share-1, finding 1): a
// share whose body is still streaming when its matter is closed, or its
// creator denied, is refused when it is recorded (its hook ran before it
// existed), and nothing of it is live.
func TestShareCreateAcrossCloseAndDeny(t *testing.T) {
	bothEngines(t, testShareCreateAcross)
}

func testShareCreateAcross(t *testing.T, pg bool) {
	e := startSharing(t, shareOpts{postgres: pg, noMail: true})
	ctx := context.Background()
	g := e.g
	admin := g.Client(t, g.Token(t, "ent-root", auth.AdminGroup), "ADMIN")
	// slow starts a share whose body stops after 1000 bytes until the
	// returned function is called, then returns its outcome.
	slow := func(c *client.Client, m, f string) func() (api.Share, error) {
		// The first part is far more than the sockets between test and
		// gateway buffer (4 MiB send, 128 KiB receive while nobody
		// reads): once the pipe took it, the gateway is reading the body,
		// past every check it makes before.
		const first = 12 << 20
		body := object(first + 1<<20)
		sum := sha256.Sum256(body)
		pr, pw := io.Pipe()
		release, taken := make(chan struct{}), make(chan struct{})
		go func() {
			pw.Write(body[:first])
			close(taken)
			<-release
			pw.Write(body[first:])
			pw.Close()
		}()
		type res struct {
			sh  api.Share
			err error
		}
		done := make(chan res, 1)
		go func() {
			sh, err := c.CreateShare(ctx, m, api.ShareRequest{File: f, Version: 1, To: "client@example.com", SHA256: sum}, pr, int64(len(body)))
			done <- res{sh, err}
		}()
		select {
		case <-taken:
		case r := <-done:
			t.Fatalf("share ended before its body was read: %v", r.err)
		}
		return func() (api.Share, error) {
			close(release)
			r := <-done
			return r.sh, r.err
		}
	}
	live := func(m string) []string {
		list, err := admin.Shares(ctx, m, "")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range list {
			if s.State == api.ShareOK {
				ids = append(ids, s.ID)
			}
		}
		return ids
	}

	const m1 = "2026-0501"
	rw := g.Client(t, g.Token(t, "ent-alice", "matter-"+m1+"-rw"), "LAPTOP")
	f := e.file(m1, rw)
	finish := slow(rw, m1, f)
	if _, err := admin.CloseMatter(ctx, m1, "done"); err != nil {
		t.Fatal(err)
	}
	if _, err := finish(); !isCode(err, api.CodeMatterClosed) {
		t.Fatalf("share across the close: %v, want matter_closed", err)
	}
	if ids := live(m1); len(ids) != 0 {
		t.Fatalf("live shares of a closed matter: %v", ids)
	}

	const m2 = "2026-0502"
	mallory := g.Client(t, g.Token(t, "ent-mallory", "matter-"+m2+"-rw"), "LAPTOP")
	f = e.file(m2, mallory)
	finish = slow(mallory, m2, f)
	if err := admin.Deny(ctx, "ent-mallory", "mallory", "left the firm"); err != nil {
		t.Fatal(err)
	}
	if _, err := finish(); !isCode(err, api.CodeForbidden) {
		t.Fatalf("share across the deny: %v, want forbidden", err)
	}
	if ids := live(m2); len(ids) != 0 {
		t.Fatalf("live shares of a denied user: %v", ids)
	}
}

func isCode(err error, code api.Code) bool {
	var e *client.Error
	return errors.As(err, &e) && e.Body.Code == code
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestShareRulesAtUse (hostile review share-1, findings 1, 3, 4, 6): what
// its hook would have revoked, done behind the gateway's back (straight in
// the store: a hook that failed, a membership change, which has none), is
// refused at the next use with share_revoked, and revokes the share with
// a share.revoke record naming the reason; the sweep revokes an unused
// one; a creator with no access left revokes their own share; the wrong
// codes over a link's life revoke it.
func TestShareRulesAtUse(t *testing.T) {
	bothEngines(t, testShareRulesAtUse)
}

func testShareRulesAtUse(t *testing.T, pg bool) {
	e := startSharing(t, shareOpts{postgres: pg, tune: func(c *share.Config) {
		c.Codes.WrongPerShareTotal = 3
		c.ExpireSweep = 200 * time.Millisecond
	}})
	ctx := context.Background()
	g := e.g
	admin := g.Client(t, g.Token(t, "ent-root", auth.AdminGroup), "ADMIN")
	shareIn := func(entity, m string) (api.Share, string) {
		t.Helper()
		c := g.Client(t, g.Token(t, entity, "matter-"+m+"-rw"), "LAPTOP")
		f := e.file(m, c)
		addr := testenv.RandomName("client") + "@example.com"
		sh, err := e.share(c, m, f, addr, object(1000), 3)
		if err != nil {
			t.Fatal(err)
		}
		return sh, addr
	}
	revokedFor := func(sh api.Share, reason string) {
		t.Helper()
		recs := e.records("share.revoke", "share="+sh.ID)
		if len(recs) != 1 || !strings.Contains(recs[0].Object, reason) {
			t.Fatalf("share.revoke records of %s: %d, want one with %q", sh.ID, len(recs), reason)
		}
		r := e.recipient("GET", "/s/"+sh.ID+"/info", nil, nil)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"state":"revoked"`) {
			t.Fatalf("info of a revoked share: %d %s", r.status, r.body)
		}
	}

	// The creator taken out of the matter (membership recorded, no
	// hook): the grant already given downloads nothing.
	a, addr := shareIn("ent-alice", "2026-0511")
	grant := e.grant(a.ID, e.code(a.ID, addr, 1))
	if _, err := admin.RecordMembership(ctx, "2026-0511", api.MembershipSnapshot{Source: "vault",
		Members: []api.Member{{Entity: "ent-bob", Name: "bob", Role: "rw"}}}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "download after the creator left the matter", e.download(a.ID, grant), http.StatusGone, api.CodeShareRevoked)
	revokedFor(a, "creator no longer a member of the matter")

	// The creator denied in the store only (the hook failed).
	b, addr := shareIn("ent-bob", "2026-0512")
	code := e.code(b.ID, addr, 1)
	if _, _, err := g.Stores.Deny.AddDeny(ctx, store.DenyEntry{Entity: "ent-bob", Name: "bob", Reason: "left", CreatedBy: "test", Time: time.Now()}, rec("admin.deny.add")); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "verify after the creator was denied", e.verify(b.ID, code), http.StatusGone, api.CodeShareRevoked)
	revokedFor(b, "user revoked")

	// The matter closed in the store only.
	d, _ := shareIn("ent-dave", "2026-0514")
	if _, _, err := g.Stores.Closed.CloseMatter(ctx, "2026-0514", "test", "done", time.Now(), rec("admin.close")); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "code after the matter closed", e.recipient("POST", "/s/"+d.ID+"/code", nil, nil), http.StatusGone, api.CodeShareRevoked)
	revokedFor(d, "matter closed")

	// Sharing turned off in the store only, nobody using the link: the
	// sweep revokes it.
	c, _ := shareIn("ent-carol", "2026-0513")
	if err := g.Stores.Sharing.SetSharing(ctx, "2026-0513", store.SharingOff, rec("admin.sharing.set")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the sweep to revoke the share", func() bool { return len(e.records("share.revoke", "share="+c.ID)) > 0 })
	revokedFor(c, "sharing off")

	// Wrong codes over the link's life: the third revokes it.
	w, addr := shareIn("ent-erin", "2026-0515")
	e.code(w.ID, addr, 1)
	for i, want := range []api.Code{api.CodeCodeWrong, api.CodeCodeWrong, api.CodeShareRevoked} {
		r := e.verify(w.ID, "000000")
		if r.status < 400 || r.apiError(t).Code != want {
			// 000000 may be the code itself: one in a million.
			t.Fatalf("wrong code %d: %d %s, want %s", i+1, r.status, r.body, want)
		}
	}
	revokedFor(w, "3 wrong codes")

	// The creator, with no access to the matter left, revokes their own
	// share; another's share stays not found.
	s, _ := shareIn("ent-frank", "2026-0516")
	o, _ := shareIn("ent-gina", "2026-0516")
	gone := g.Client(t, g.Token(t, "ent-frank"), "LAPTOP")
	out, err := gone.RevokeShare(ctx, "2026-0516", s.ID, "sent to the wrong client")
	if err != nil || len(out.Revoked) != 1 || out.Revoked[0].State != api.ShareRevoked {
		t.Fatalf("own share revoked without access: %+v, %v", out, err)
	}
	if _, err := gone.RevokeShare(ctx, "2026-0516", o.ID, ""); !isCode(err, api.CodeNotFound) {
		t.Fatalf("another's share: %v, want not_found", err)
	}
}

// rec is the audit record of a change a test makes straight in the store.
func rec(action string) *audit.Record {
	return &audit.Record{Time: time.Now(), User: "test", Action: action, Result: audit.ResultOK, Status: http.StatusOK, RequestID: "test"}
}
