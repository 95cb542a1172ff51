package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/alerts"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
)

func feedBody(cursors ...api.FeedCursor) []byte {
	b, _ := json.Marshal(api.FeedRequest{Matters: cursors})
	return b
}

func decodeFeed(t *testing.T, r resp) api.Feed {
	t.Helper()
	var f api.Feed
	if r.status != http.StatusOK || json.Unmarshal(r.body, &f) != nil {
		t.Fatalf("feed: %d %s", r.status, r.body)
	}
	return f
}

// TestFeed: one long poll covers several matters: it answers at once for
// matters whose head is past the cursor, waits while none is, wakes on a
// commit to any of them, and is audited once.
func TestFeed(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice := e.token("ent-alice", "matter-a-rw", "matter-b-rw", "matter-c-ro")
	fa := e.newFile("a")
	ca := e.commit("a", alice, fa, 0)

	// a has news (head 1 > 0); b and c none.
	r := e.do("POST", "/v1/feed?wait=10s", alice, nil, feedBody(api.FeedCursor{Matter: "a"}, api.FeedCursor{Matter: "b"}, api.FeedCursor{Matter: "c"}))
	f := decodeFeed(t, r)
	if len(f.Matters) != 1 || f.Matters[0] != (api.FeedMatter{Matter: "a", Head: ca.Seq}) {
		t.Fatalf("feed = %+v; want a at %d", f, ca.Seq)
	}
	if rec := e.record(r.header.Get(api.HeaderRequestID)); rec == nil || rec.Action != "feed" || rec.Object != fmt.Sprintf("matters=3 news=a:%d", ca.Seq) || rec.Result != audit.ResultOK {
		t.Fatalf("audit record %+v", rec)
	}

	// Nothing past the cursors: the poll waits until b changes.
	got := make(chan resp, 1)
	go func() {
		got <- e.do("POST", "/v1/feed?wait=15s", alice, nil, feedBody(api.FeedCursor{Matter: "a", Since: ca.Seq}, api.FeedCursor{Matter: "b"}))
	}()
	select {
	case r := <-got:
		t.Fatalf("answered without news: %d %s", r.status, r.body)
	case <-time.After(300 * time.Millisecond):
	}
	cb := e.commit("b", alice, e.newFile("b"), 0)
	f = decodeFeed(t, <-got)
	if len(f.Matters) != 1 || f.Matters[0] != (api.FeedMatter{Matter: "b", Head: cb.Seq}) {
		t.Fatalf("woken feed = %+v; want b at %d", f, cb.Seq)
	}

	// Without wait, or when the wait passes: answered, empty.
	f = decodeFeed(t, e.do("POST", "/v1/feed?wait=1s", alice, nil, feedBody(api.FeedCursor{Matter: "a", Since: ca.Seq}, api.FeedCursor{Matter: "b", Since: cb.Seq})))
	if len(f.Matters) != 0 {
		t.Fatalf("feed after the wait = %+v; want none", f)
	}
	// A cursor past the head (a store restored from a backup) is news.
	f = decodeFeed(t, e.do("POST", "/v1/feed?wait=10s", alice, nil, feedBody(api.FeedCursor{Matter: "a", Since: ca.Seq + 5})))
	if len(f.Matters) != 1 || f.Matters[0].Head != ca.Seq {
		t.Fatalf("feed with a cursor ahead = %+v", f)
	}
}

// TestFeedRefusals: bad input is refused naming the problem; a matter the
// caller cannot read refuses the whole request as the per-matter feed
// does (and a screened one is marked for the wall alert); a closed matter
// is reported closed without failing the others.
func TestFeedRefusals(t *testing.T) {
	e := newEnv(t, envOpts{tune: func(c *gateway.Config) { c.Limits.MaxFeedMatters = 3 }})
	tok := e.token("ent-1", "matter-a-rw", "matter-b-ro", "matter-w-rw", "matter-w-screened")
	for _, tc := range []struct {
		name, query, body string
		status            int
		msg               string
	}{
		{"no body", "", "", 400, "malformed JSON body"},
		{"empty list", "", `{"matters":[]}`, 400, "matters is empty"},
		{"unknown field", "", `{"matters":[{"matter":"a","since":0,"x":1}]}`, 400, "unknown field"},
		{"bad matter", "", `{"matters":[{"matter":"A/../b","since":0}]}`, 400, "matters[0]: invalid matter ID"},
		{"twice", "", `{"matters":[{"matter":"a","since":0},{"matter":"a","since":1}]}`, 400, "matters[1]: matter a named twice"},
		{"negative since", "", `{"matters":[{"matter":"a","since":-1}]}`, 400, "since must be at least 0"},
		{"too many", "", `{"matters":[{"matter":"a"},{"matter":"b"},{"matter":"c"},{"matter":"d"}]}`, 413, "at most 3"},
		{"bad wait", "?wait=soon", `{"matters":[{"matter":"a"}]}`, 400, "wait must be"},
		{"long wait", "?wait=1h", `{"matters":[{"matter":"a"}]}`, 400, "wait must be at most"},
		{"unknown param", "?since=1", `{"matters":[{"matter":"a"}]}`, 400, "unknown query parameter"},
		{"no role", "", `{"matters":[{"matter":"a"},{"matter":"x"}]}`, 403, "no access to matter x"},
		{"screened", "", `{"matters":[{"matter":"a"},{"matter":"w"}]}`, 403, "no access to matter w"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			r := e.do("POST", "/v1/feed"+tc.query, tok, nil, body)
			if r.status != tc.status || !strings.Contains(r.apiError(t).Message, tc.msg) {
				t.Fatalf("%d %s; want %d %q", r.status, r.body, tc.status, tc.msg)
			}
			if rec := e.record(r.header.Get(api.HeaderRequestID)); rec == nil || rec.Status != tc.status || rec.Action != "feed" {
				t.Fatalf("audit record %+v", rec)
			}
		})
	}
	r := e.do("POST", "/v1/feed", tok, nil, []byte(`{"matters":[{"matter":"w"}]}`))
	if rec := e.record(r.header.Get(api.HeaderRequestID)); rec == nil || rec.Object != alerts.ObjectWall || rec.Matter != "w" {
		t.Fatalf("wall attempt audited as %+v", rec)
	}
	if r := e.do("GET", "/v1/feed", tok, nil, nil); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("GET /v1/feed: %d", r.status)
	}

	// A closed matter is news of its own; the others are still served.
	admin := e.token("ent-admin", "mattersync-admins")
	if r := e.do("POST", "/v1/admin/matters/b/close", admin, nil, []byte(`{"reason":"done"}`)); r.status != http.StatusOK {
		t.Fatalf("close: %d %s", r.status, r.body)
	}
	f := decodeFeed(t, e.do("POST", "/v1/feed?wait=10s", tok, nil, feedBody(api.FeedCursor{Matter: "a"}, api.FeedCursor{Matter: "b"})))
	if len(f.Matters) != 1 || f.Matters[0] != (api.FeedMatter{Matter: "b", Closed: true}) {
		t.Fatalf("feed with a closed matter = %+v", f)
	}
}

// TestFeedChecksTheCaller: a waiting feed answers at once when its caller
// is denied or stamped, and 503 when the replica can no longer refresh
// its deny list, as the per-matter feed does.
func TestFeedChecksTheCaller(t *testing.T) {
	e := newEnv(t, envOpts{})
	admin := e.token("ent-admin", "mattersync-admins")
	poll := func(tok string) (resp, time.Duration) {
		start := time.Now()
		return e.do("POST", "/v1/feed?wait=15s", tok, nil, feedBody(api.FeedCursor{Matter: "a"}, api.FeedCursor{Matter: "b"})), time.Since(start)
	}
	after := func(d time.Duration, f func()) { go func() { time.Sleep(d); f() }() }
	after(300*time.Millisecond, func() { e.do("POST", "/v1/admin/deny", admin, nil, []byte(`{"entity_id":"ent-1"}`)) })
	if r, d := poll(e.token("ent-1", "matter-a-rw", "matter-b-rw")); r.status != http.StatusForbidden || r.apiError(t).Code != api.CodeRevoked || d > 5*time.Second {
		t.Fatalf("denied while waiting: %d %s after %s", r.status, r.body, d)
	}
	// Denied before asking: refused before the body is looked at.
	if r := e.do("POST", "/v1/feed", e.token("ent-1", "matter-a-rw"), nil, []byte(`{}`)); r.apiError(t).Code != api.CodeRevoked {
		t.Fatalf("denied caller: %d %s", r.status, r.body)
	}
	after(300*time.Millisecond, func() { e.do("POST", "/v1/admin/deny/ent-2/reissue", admin, nil, nil) })
	if r, d := poll(e.token("ent-2", "matter-a-rw", "matter-b-rw")); r.status != http.StatusUnauthorized || d > 5*time.Second {
		t.Fatalf("stamped while waiting: %d %s after %s", r.status, r.body, d)
	}
}

// TestFeedLongPollCap: a user holds at most max_long_polls_per_user_matter
// waiting feeds (one per device); one more is refused with 429.
func TestFeedLongPollCap(t *testing.T) {
	e := newEnv(t, envOpts{tune: func(c *gateway.Config) { c.Limits.MaxLongPollsPerUserMatter = 1 }})
	tok := e.token("ent-1", "matter-a-rw")
	// Two feeds that overlap (each waits 3 s for news that never comes):
	// one waits, the other is refused.
	got := make(chan resp, 2)
	for range 2 {
		go func() { got <- e.do("POST", "/v1/feed?wait=3s", tok, nil, feedBody(api.FeedCursor{Matter: "a"})) }()
	}
	statuses := map[int]int{}
	for range 2 {
		r := <-got
		statuses[r.status]++
		if r.status == http.StatusTooManyRequests && r.header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	if statuses[http.StatusOK] != 1 || statuses[http.StatusTooManyRequests] != 1 {
		t.Fatalf("two overlapping feeds answered %v; want one 200 and one 429", statuses)
	}
	// Without wait it is answered.
	if r := e.do("POST", "/v1/feed", tok, nil, feedBody(api.FeedCursor{Matter: "a"})); r.status != http.StatusOK {
		t.Fatalf("feed without wait: %d %s", r.status, r.body)
	}
}
