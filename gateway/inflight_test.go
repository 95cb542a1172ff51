package gateway_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
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

// The hostile review: one read-only member opening downloads and never
// draining them held the whole in-flight budget, and every writer's upload
// got 503. Reads now have a per-user cap of their own: the staller gets
// 429 beyond it, and a writer's upload still goes through.
func TestStalledReadsCannotStarveUploads(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{Config: func(c *gateway.Config) {
		c.Limits.MaxInflightBytes = 8 * 64 << 10
		c.Limits.MaxReadsPerUser = 4
		c.Limits.InflightWait = 500 * time.Millisecond
	}})
	sealer := gatewaytest.NewSealer(t)
	const m = "2026-0001"
	ctx := context.Background()
	writer := g.Client(t, g.Token(t, "ent-alice", "matter-"+m+"-rw"), "LAPTOP-A")
	id, sealed := sealer.Chunk(t, m, 8<<20)
	if err := writer.PutChunk(ctx, m, id.String(), sealed); err != nil {
		t.Fatal(err)
	}
	reader := g.Token(t, "ent-reader", "matter-"+m+"-ro")
	statuses := map[string]int{}
	for range 8 {
		c, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.(*net.TCPConn).SetReadBuffer(4096)
		fmt.Fprintf(c, "GET /v1/matters/%s/chunks/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nX-Mattersync-Device: STALLER\r\n\r\n", m, id, reader)
		line, _ := bufio.NewReader(c).ReadString('\n') // the status line; the body is never read
		statuses[strings.TrimSpace(line)]++
	}
	if statuses["HTTP/1.1 429 Too Many Requests"] != 4 {
		t.Errorf("8 stalled downloads with a cap of 4: %v, want 4 refused with 429", statuses)
	}
	id2, sealed2 := sealer.Chunk(t, m, 1024)
	if err := writer.PutChunk(ctx, m, id2.String(), sealed2); err != nil {
		t.Fatalf("a writer's 1 KiB upload while a reader stalls downloads: %v", err)
	}
}

// TestRequestsPerUser: one user's requests in flight are bounded whatever
// they are (max_requests_per_user): stalled downloads fill it, the user's
// next request is refused with 429, another user's is served, and long
// polls (asked with a wait) are not counted.
func TestRequestsPerUser(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{Config: func(c *gateway.Config) {
		c.Limits.MaxRequestsPerUser = 3
		c.Limits.MaxReadsPerUser = 3
	}})
	sealer := gatewaytest.NewSealer(t)
	const m = "2026-0001"
	ctx := context.Background()
	writer := g.Client(t, g.Token(t, "ent-alice", "matter-"+m+"-rw"), "LAPTOP-A")
	id, sealed := sealer.Chunk(t, m, 8<<20)
	if err := writer.PutChunk(ctx, m, id.String(), sealed); err != nil {
		t.Fatal(err)
	}
	reader := g.Token(t, "ent-reader", "matter-"+m+"-ro")
	for range 3 {
		c, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.(*net.TCPConn).SetReadBuffer(4096)
		fmt.Fprintf(c, "GET /v1/matters/%s/chunks/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", m, id, reader)
		if line, _ := bufio.NewReader(c).ReadString('\n'); !strings.Contains(line, " 200 ") {
			t.Fatalf("stalled download: %q", line)
		}
	}
	get := func(tok, path string) *http.Response {
		req, _ := http.NewRequest("GET", g.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := g.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := get(reader, "/v1/matters"); res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("a 4th request of a user with 3 in flight: %d", res.StatusCode)
	}
	if res := get(reader, "/v1/matters/"+m+"/changes?since=0&wait=1s"); res.StatusCode != http.StatusOK {
		t.Fatalf("the long poll of that user: %d", res.StatusCode)
	}
	// Without a wait the feed answers at once: not a long poll, counted.
	if res := get(reader, "/v1/matters/"+m+"/changes?since=0"); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the feed without wait of a user with 3 in flight: %d, want 429", res.StatusCode)
	}
	if res := get(g.Token(t, "ent-bob", "matter-"+m+"-ro"), "/v1/matters"); res.StatusCode != http.StatusOK {
		t.Fatalf("another user: %d", res.StatusCode)
	}
}
