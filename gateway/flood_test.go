package gateway_test

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/auth/authtest"
)

// countingVerifier counts token verifications (the RSA work).
type countingVerifier struct {
	v *auth.Verifier
	n atomic.Int64
}

func (c *countingVerifier) Verify(ctx context.Context, tok string) (*auth.Identity, error) {
	c.n.Add(1)
	return c.v.Verify(ctx, tok)
}

func (c *countingVerifier) Ready(ctx context.Context) error { return c.v.Ready(ctx) }

func (c *countingVerifier) KnownKey(ctx context.Context, tok string) bool {
	return c.v.KnownKey(ctx, tok)
}

func newCountingEnv(t *testing.T, tune func(*gateway.Config)) (*env, *countingVerifier) {
	t.Helper()
	iss := authtest.New(t)
	v, err := auth.NewVerifier(context.Background(), auth.Config{JWKSURL: iss.URL, Issuer: iss.Issuer, Audience: authtest.Audience})
	if err != nil {
		t.Fatal(err)
	}
	cv := &countingVerifier{v: v}
	return newEnv(t, envOpts{issuer: iss, verifier: cv, tune: tune}), cv
}

// sourceRecords returns the audit records of requests from sources
// starting with source, and
// the number of refusals its auth.failures summaries stand for.
func sourceRecords(t *testing.T, e *env, source string) (single []*audit.Record, suppressed int) {
	t.Helper()
	re := regexp.MustCompile(`^suppressed=(\d+) status=`)
	e.store.Audit.AuditRecords(context.Background(), audit.Query{}, func(r *audit.Record) error {
		if !strings.HasPrefix(r.Source, source) {
			return nil
		}
		if r.Action == "auth.failures" {
			m := re.FindStringSubmatch(r.Object)
			if m == nil || r.Result != audit.ResultDenied {
				t.Fatalf("summary record %+v", r)
			}
			n, _ := strconv.Atoi(m[1])
			suppressed += n
			return nil
		}
		c := *r
		single = append(single, &c)
		return nil
	})
	return single, suppressed
}

// waitSummaries waits until the refusals from source are all accounted
// for in the audit log.
func waitSummaries(t *testing.T, e *env, source string, want int) []*audit.Record {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		single, suppressed := sourceRecords(t, e, source)
		if len(single)+suppressed == want {
			return single
		}
		if len(single)+suppressed > want || time.Now().After(deadline) {
			t.Fatalf("source %s: %d records and %d summarized, want %d in all", source, len(single), suppressed, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestUnauthenticatedRateLimit(t *testing.T) {
	e, cv := newCountingEnv(t, func(c *gateway.Config) {
		c.Limits.UnauthenticatedPerSecond, c.Limits.UnauthenticatedBurst = 0.5, 5
	})
	from := func(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }
	bad := "not-a-token"
	good := e.token("ent-1", "matter-a-rw")
	for i := range 5 {
		if r := e.do("GET", "/v1/matters", bad, from("203.0.113.7"), nil); r.status != http.StatusUnauthorized {
			t.Fatalf("bad token %d: %d", i, r.status)
		}
	}
	if n := cv.n.Load(); n != 5 {
		t.Fatalf("%d verifications, want 5", n)
	}
	r := e.do("GET", "/v1/matters", bad, from("203.0.113.7"), nil)
	if r.status != http.StatusTooManyRequests || r.apiError(t).Code != api.CodeRateLimited {
		t.Fatalf("over the limit: %d %s", r.status, r.body)
	}
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 || ra > 2 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	// Garbage from it is no longer verified...
	if n := cv.n.Load(); n != 5 {
		t.Fatalf("%d verifications after the limit, want still 5", n)
	}
	// ...but a token signed by a known key is: a valid one is served (a
	// colleague behind the same NAT address), and an expired one is told
	// so (401), so its client fetches a new one instead of waiting.
	if r := e.do("GET", "/v1/matters", good, from("203.0.113.7"), nil); r.status != 200 {
		t.Fatalf("valid token from the flooding address: %d %s", r.status, r.body)
	}
	expired := e.issuer.Token(t, authtest.Claims{Subject: "ent-1", Username: "u", IssuedAt: time.Now().Add(-10 * time.Minute), Expiry: time.Now().Add(-5 * time.Minute)})
	if r := e.do("GET", "/v1/matters", expired, from("203.0.113.7"), nil); r.status != http.StatusUnauthorized {
		t.Fatalf("expired token from the flooding address: %d %s", r.status, r.body)
	}
	if n := cv.n.Load(); n != 7 {
		t.Fatalf("%d verifications, want 7 (5 failures, the valid and the expired token)", n)
	}
	// Other addresses are not affected, and valid tokens take nothing.
	for i := range 10 {
		if r := e.do("GET", "/v1/matters", good, from("203.0.113.9"), nil); r.status != 200 {
			t.Fatalf("valid request %d from another address: %d", i, r.status)
		}
	}
	// An IPv6 /64 is one source.
	for i := range 5 {
		e.do("GET", "/v1/matters", bad, from("2001:db8:1::"+strconv.Itoa(i+1)), nil)
	}
	if r := e.do("GET", "/v1/matters", bad, from("2001:db8:1::99"), nil); r.status != http.StatusTooManyRequests {
		t.Fatalf("6th failure from one /64: %d", r.status)
	}
	if r := e.do("GET", "/v1/matters", bad, from("2001:db8:2::1"), nil); r.status != http.StatusUnauthorized {
		t.Fatalf("another /64: %d", r.status)
	}
	// Every refusal is in the audit log, one way or the other.
	single := waitSummaries(t, e, "203.0.113.7", 8)
	if single[0].Status != 401 || single[0].Action != "matters.list" {
		t.Fatalf("first refusal's record %+v", single[0])
	}
	waitSummaries(t, e, "2001:db8:1:", 6)
	rep, err := audit.Verify(context.Background(), e.store.Audit, nil, audit.VerifyOptions{})
	if err != nil || !rep.OK {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

func TestAuthFailuresCollapsed(t *testing.T) {
	e, _ := newCountingEnv(t, nil)
	const n = 60
	start := time.Now()
	for i := range n {
		hdr := map[string]string{"X-Forwarded-For": "203.0.113.50"}
		if i%3 == 0 {
			hdr[api.HeaderDevice] = strings.Repeat("d", 65) // refused before the token, also collapsed
		}
		e.do("GET", "/v1/matters/a/changes", "garbage."+strconv.Itoa(i), hdr, nil)
	}
	elapsed := time.Since(start)
	single := waitSummaries(t, e, "203.0.113.50", n)
	// At most one record of its own per second (the flood took elapsed).
	if max := int(elapsed/time.Second) + 1; len(single) > max {
		t.Fatalf("%d records of their own in %s, want at most %d", len(single), elapsed, max)
	}
	_, suppressed := sourceRecords(t, e, "203.0.113.50")
	m := e.opsGet("/metrics")
	if !strings.Contains(string(m.body), "mattersync_gateway_audit_suppressed_total "+strconv.Itoa(suppressed)+"\n") {
		t.Fatalf("metric audit_suppressed_total is not %d", suppressed)
	}
	var summary *audit.Record
	e.store.Audit.AuditRecords(context.Background(), audit.Query{}, func(r *audit.Record) error {
		if r.Action == "auth.failures" && summary == nil {
			c := *r
			summary = &c
		}
		return nil
	})
	if summary == nil || !regexp.MustCompile(`^suppressed=\d+ status=(400:\d+,)?401:\d+ matters=a$`).MatchString(summary.Object) || summary.Entity != "" || summary.Matter != "a" {
		t.Fatalf("summary record %+v", summary)
	}
}
