package gateway_test

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth"
)

func TestRateLimit(t *testing.T) {
	e := newEnv(t, envOpts{tune: func(c *gateway.Config) {
		c.Limits.RequestsPerSecond, c.Limits.Burst, c.Limits.MaxBatchItems = 0.5, 3, 1
	}})
	alice, bob := e.token("ent-a", "matter-a-rw"), e.token("ent-b", "matter-a-rw")
	for i := range 3 {
		if r := e.do("GET", "/v1/matters", alice, nil, nil); r.status != 200 {
			t.Fatalf("request %d within the burst: %d", i, r.status)
		}
	}
	r := e.do("GET", "/v1/matters", alice, nil, nil)
	if r.status != http.StatusTooManyRequests || r.apiError(t).Code != api.CodeRateLimited {
		t.Fatalf("over the limit: %d %s", r.status, r.body)
	}
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 || ra > 2 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	if rec := e.record(r.header.Get(api.HeaderRequestID)); rec == nil || rec.Result != audit.ResultDenied || rec.Status != 429 {
		t.Fatalf("audit record %+v", rec)
	}
	// The bucket is per user.
	if r := e.do("GET", "/v1/matters", bob, nil, nil); r.status != 200 {
		t.Fatalf("another user: %d", r.status)
	}
}

func TestOpsEndpoints(t *testing.T) {
	e := newEnv(t, envOpts{tune: func(c *gateway.Config) { c.Audit.CheckpointInterval = time.Second }})
	if r := e.opsGet("/healthz"); r.status != 200 || !strings.Contains(string(r.body), `"ok"`) {
		t.Fatalf("healthz: %d %s", r.status, r.body)
	}
	if r := e.opsGet("/readyz"); r.status != 200 {
		t.Fatalf("readyz: %d %s", r.status, r.body)
	}
	tok := e.token("ent-1", "matter-a-rw")
	e.putChunk("a", tok, 100)
	e.do("GET", "/v1/matters/a/changes", "", nil, nil) // refused: counted as a denial
	r := e.opsGet("/metrics")
	for _, want := range []string{
		`mattersync_gateway_requests_total{method="PUT",route="/v1/matters/{m}/chunks/{id}",status="201"} 1`,
		`mattersync_gateway_denials_total{reason="unauthenticated"} 1`,
		`mattersync_gateway_audit_appends_total{result="ok"} 2`,
		`mattersync_gateway_received_bytes_total{route="/v1/matters/{m}/chunks/{id}"} 160`,
		`mattersync_gateway_request_duration_seconds_count{route="/v1/matters/{m}/chunks/{id}"} 1`,
	} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// The API's listener serves none of them, however the path is spelled:
	// a path deny in front of it (HAProxy) is no longer what keeps them in.
	for _, p := range []string{"/metrics", "/readyz", "/healthz", "/%6detrics", "/%72eadyz", "/v1/../metrics"} {
		if r := e.do("GET", p, "", nil, nil); r.status == 200 || strings.Contains(string(r.body), "mattersync_gateway") || strings.Contains(string(r.body), "checks") {
			t.Errorf("API listener, GET %s: %d %.80s", p, r.status, r.body)
		}
	}
	if r := e.opsGet("/%6detrics"); r.status != 404 {
		t.Errorf("ops listener, GET /%%6detrics: %d", r.status)
	}
	// The background loop signs checkpoints of the chain head.
	deadline := time.Now().Add(20 * time.Second)
	for {
		cps, err := e.store.Audit.Checkpoints(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(cps) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint signed by the background loop")
		}
		time.Sleep(50 * time.Millisecond)
	}
	rep, err := audit.Verify(context.Background(), e.store.Audit, []ed25519.PublicKey{e.key.Public().(ed25519.PublicKey)}, audit.VerifyOptions{})
	if err != nil || !rep.OK || rep.Checkpoints == 0 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
}

func TestNotReadyWithoutJWKS(t *testing.T) {
	v, err := auth.NewVerifier(context.Background(), auth.Config{JWKSURL: "http://127.0.0.1:1/keys", Issuer: "x", Audience: "y"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOpts{verifier: v})
	r := e.opsGet("/readyz")
	if r.status != 503 || !strings.Contains(string(r.body), `"jwks"`) || !strings.Contains(string(r.body), `"store":"ok"`) {
		t.Fatalf("readyz without JWKS: %d %s", r.status, r.body)
	}
}

// TestOpsPprof: the profiler answers on the ops listener only when
// ops_pprof is set, and never on the API's listener.
func TestOpsPprof(t *testing.T) {
	off := newEnv(t, envOpts{})
	if r := off.opsGet("/debug/pprof/"); r.status != http.StatusNotFound {
		t.Fatalf("ops_pprof off, GET /debug/pprof/: %d", r.status)
	}
	on := newEnv(t, envOpts{tune: func(c *gateway.Config) { c.OpsPprof = true }})
	if r := on.opsGet("/debug/pprof/"); r.status != http.StatusOK || !strings.Contains(string(r.body), "goroutine") {
		t.Fatalf("ops_pprof on, GET /debug/pprof/: %d %.200s", r.status, r.body)
	}
	if r := on.opsGet("/debug/pprof/goroutine?debug=1"); r.status != http.StatusOK || !strings.Contains(string(r.body), "goroutine profile") {
		t.Fatalf("goroutine profile: %d %.200s", r.status, r.body)
	}
	if r := on.do("GET", "/debug/pprof/", "", nil, nil); r.status == http.StatusOK {
		t.Fatalf("API listener serves the profiler: %d", r.status)
	}
}
