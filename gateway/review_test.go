package gateway_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store/sqlite"
)

// TestReadyzSaysOnlyOKOrFail: the causes name hosts, users and buckets;
// they go to the log, not to whoever asks /readyz.
func TestReadyzSaysOnlyOKOrFail(t *testing.T) {
	logs := &logBuffer{}
	e := newEnv(t, envOpts{bucket: "no-such-bucket-4f2a", logs: logs})
	r := e.opsGet("/readyz")
	if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), `"s3":"fail"`) || strings.Contains(string(r.body), "no-such-bucket") {
		t.Fatalf("readyz: %d %s", r.status, r.body)
	}
	for _, c := range []string{"store", "jwks", "deny_list", "audit"} {
		if !strings.Contains(string(r.body), `"`+c+`":"ok"`) {
			t.Errorf("readyz lacks %s ok: %s", c, r.body)
		}
	}
	if l := logs.lines("readiness check failed"); len(l) == 0 || !strings.Contains(l[0]["err"].(string), "no-such-bucket") {
		t.Fatalf("the cause is not logged: %v", l)
	}
}

// TestDenyAuditStatus: the audit record of a deny-list change says what
// the answer said.
func TestDenyAuditStatus(t *testing.T) {
	e := newEnv(t, envOpts{})
	admin := e.token("ent-admin", "mattersync-admins")
	for _, step := range []struct {
		method, path string
		body         string
		status       int
		result       string
	}{
		{"POST", "/v1/admin/deny", `{"entity_id":"ent-x"}`, 201, audit.ResultOK},
		{"POST", "/v1/admin/deny", `{"entity_id":"ent-x"}`, 200, audit.ResultOK},
		{"DELETE", "/v1/admin/deny/ent-x", "", 204, audit.ResultOK},
		{"DELETE", "/v1/admin/deny/ent-x", "", 404, audit.ResultInvalid},
	} {
		var body []byte
		if step.body != "" {
			body = []byte(step.body)
		}
		r := e.do(step.method, step.path, admin, nil, body)
		rec := e.record(r.header.Get(api.HeaderRequestID))
		if r.status != step.status || rec == nil || rec.Status != step.status || rec.Result != step.result || rec.Object != "entity:ent-x" {
			t.Fatalf("%s %s: answered %d, audited %+v; want %d/%s", step.method, step.path, r.status, rec, step.status, step.result)
		}
	}
}

// TestLongPollChecksTheCaller: a long poll answers at once when its caller
// is denied or stamped while it waits, and 503 when the replica can no
// longer refresh its deny list, instead of waiting out `wait`.
func TestLongPollChecksTheCaller(t *testing.T) {
	e := newEnv(t, envOpts{})
	admin := e.token("ent-admin", "mattersync-admins")
	poll := func(tok string) (resp, time.Duration) {
		start := time.Now()
		return e.do("GET", "/v1/matters/a/changes?since=0&wait=15s", tok, nil, nil), time.Since(start)
	}
	after := func(d time.Duration, f func()) { go func() { time.Sleep(d); f() }() }

	after(300*time.Millisecond, func() { e.do("POST", "/v1/admin/deny", admin, nil, []byte(`{"entity_id":"ent-1"}`)) })
	if r, d := poll(e.token("ent-1", "matter-a-rw")); r.status != http.StatusForbidden || r.apiError(t).Code != api.CodeRevoked || d > 5*time.Second {
		t.Fatalf("denied while waiting: %d %s after %s", r.status, r.body, d)
	}
	after(300*time.Millisecond, func() { e.do("POST", "/v1/admin/deny/ent-2/reissue", admin, nil, nil) })
	if r, d := poll(e.token("ent-2", "matter-a-rw")); r.status != http.StatusUnauthorized || d > 5*time.Second {
		t.Fatalf("stamped while waiting: %d %s after %s", r.status, r.body, d)
	}
	// The deny list cannot be refreshed any more (audit appends still work).
	after(300*time.Millisecond, func() {
		if _, err := e.db.(*sqlite.Store).DB().Exec(`DROP TABLE counters`); err != nil {
			t.Error(err)
		}
	})
	r, d := poll(e.token("ent-3", "matter-a-rw"))
	if r.status != http.StatusServiceUnavailable || r.apiError(t).Code != api.CodeUnavailable || d > 5*time.Second {
		t.Fatalf("deny list stale while waiting: %d %s after %s", r.status, r.body, d)
	}
	if rec := e.record(r.header.Get(api.HeaderRequestID)); rec == nil || rec.Status != 503 {
		t.Fatalf("audit record %+v", rec)
	}
}
