package gateway_test

import (
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
)

// stalledPut starts a chunk upload that sends a little of its body and
// then waits, holding whatever the gateway reserved for it; abort ends it.
func (e *env) stalledPut(matter, token string, size int) (abort func()) {
	e.t.Helper()
	id, body := e.chunk(matter, size)
	pr, pw := io.Pipe()
	req, err := http.NewRequest("PUT", e.url+"/v1/matters/"+matter+"/chunks/"+id.String(), pr)
	if err != nil {
		e.t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set(api.HeaderChecksum, sumHex(body))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	if _, err := pw.Write(body[:100]); err != nil {
		e.t.Fatal(err)
	}
	return func() {
		pw.CloseWithError(errors.New("client gave up"))
		<-done
	}
}

// inflightBytes reads the gateway's reserved body bytes from /metrics.
func (e *env) inflightBytes() int64 {
	e.t.Helper()
	m := regexp.MustCompile(`(?m)^mattersync_gateway_inflight_body_bytes (\S+)$`).FindSubmatch(e.opsGet("/metrics").body)
	if m == nil {
		e.t.Fatal("no inflight_body_bytes metric")
	}
	f, _ := strconv.ParseFloat(string(m[1]), 64)
	return int64(f)
}

func (e *env) waitInflight(want int64) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.inflightBytes() != want {
		if time.Now().After(deadline) {
			e.t.Fatalf("inflight bytes %d, want %d", e.inflightBytes(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestInflightBodyBytes(t *testing.T) {
	e := newEnv(t, envOpts{tune: func(c *gateway.Config) {
		c.Limits.MaxChunkBytes, c.Limits.MaxCommitBytes = 1<<20, 256<<10
		c.Limits.MaxInflightBytes = 3 << 19 // 1.5 MiB
		c.Limits.InflightWait = 300 * time.Millisecond
	}})
	tok := e.token("ent-1", "matter-a-rw")
	const size = 600 << 10
	sealed := int64(size + 60) // a chunk's sealed overhead
	abort1 := e.stalledPut("a", tok, size)
	abort2 := e.stalledPut("a", tok, size)
	e.waitInflight(2 * sealed)
	// No room for a third: refused after inflight_wait, nothing stored.
	id, body := e.chunk("a", size)
	start := time.Now()
	r := e.do("PUT", "/v1/matters/a/chunks/"+id.String(), tok, map[string]string{api.HeaderChecksum: sumHex(body)}, body)
	if r.status != http.StatusServiceUnavailable || r.apiError(t).Code != api.CodeUnavailable || r.header.Get("Retry-After") != "1" {
		t.Fatalf("upload beyond max_inflight_bytes: %d %s (Retry-After %q)", r.status, r.body, r.header.Get("Retry-After"))
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("refused after %s, want after waiting inflight_wait", d)
	}
	// Small bodies still fit; reads take nothing.
	f := e.newFile("a")
	e.commit("a", tok, f, 0)
	if r := e.do("GET", "/v1/matters/a/files/"+f.String(), tok, nil, nil); r.status != 200 {
		t.Fatalf("read: %d", r.status)
	}
	// Room again once a transfer ends; a waiting upload gets it.
	go func() { time.Sleep(100 * time.Millisecond); abort1() }()
	r = e.do("PUT", "/v1/matters/a/chunks/"+id.String(), tok, map[string]string{api.HeaderChecksum: sumHex(body)}, body)
	if r.status != http.StatusCreated {
		t.Fatalf("upload after room was made: %d %s", r.status, r.body)
	}
	abort2()
	e.waitInflight(0)
}

func TestConcurrentUploadsPerUser(t *testing.T) {
	e := newEnv(t, envOpts{tune: func(c *gateway.Config) { c.Limits.MaxConcurrentPerUser = 2 }})
	alice, bob := e.token("ent-a", "matter-a-rw"), e.token("ent-b", "matter-a-rw")
	abort1 := e.stalledPut("a", alice, 10<<10)
	abort2 := e.stalledPut("a", alice, 10<<10)
	defer abort1()
	defer abort2()
	e.waitInflight(2 * (10<<10 + 60))
	id, body := e.chunk("a", 100)
	r := e.do("PUT", "/v1/matters/a/chunks/"+id.String(), alice, map[string]string{api.HeaderChecksum: sumHex(body)}, body)
	if r.status != http.StatusTooManyRequests || r.apiError(t).Code != api.CodeRateLimited || r.header.Get("Retry-After") == "" {
		t.Fatalf("third upload of one user: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/matters", alice, nil, nil); r.status != 200 {
		t.Fatalf("a read of the same user: %d", r.status)
	}
	if r := e.do("PUT", "/v1/matters/a/chunks/"+id.String(), bob, map[string]string{api.HeaderChecksum: sumHex(body)}, body); r.status != http.StatusCreated {
		t.Fatalf("another user's upload: %d %s", r.status, r.body)
	}
}
