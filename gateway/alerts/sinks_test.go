package alerts_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/alerts"
)

var sample = alerts.Alert{ID: "mass_download-42", Rule: alerts.RuleMassDownload, Severity: alerts.Critical, Time: monday.Add(3 * time.Hour),
	Entity: "ent-1", User: "alice", Device: "LAPTOP-7", Source: "10.0.0.7", Matter: "2026-0042", Summary: `alice downloaded 250 files "quickly" [sic]`, Records: []int64{40, 41, 42}}

type counts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counts) count(sink, result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[sink+"/"+result]++
}

func (c *counts) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

// The webhook signs each alert and is retried with backoff until the
// receiver takes it.
func TestWebhookSignedAndRetried(t *testing.T) {
	secret := []byte("0123456789abcdef-webhook-key")
	var calls atomic.Int32
	got := make(chan alerts.Alert, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts := r.Header.Get("X-Mattersync-Timestamp")
		if r.Header.Get("X-Mattersync-Signature") != alerts.Sign(secret, ts, body) {
			t.Errorf("bad signature %q", r.Header.Get("X-Mattersync-Signature"))
		}
		if alerts.Sign([]byte("another key, sixteen+"), ts, body) == r.Header.Get("X-Mattersync-Signature") {
			t.Error("the signature does not depend on the key")
		}
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var a alerts.Alert
		if err := json.Unmarshal(body, &a); err != nil {
			t.Error(err)
		}
		got <- a
	}))
	defer srv.Close()
	wh, err := alerts.NewWebhook(alerts.WebhookConfig{URL: srv.URL, SecretEnv: "X", Timeout: time.Second, MaxAttempts: 5}, secret)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var c counts
	d := alerts.NewDispatcher(ctx, []alerts.Sink{wh}, 5, c.count, slog.New(slog.DiscardHandler))
	d.SetBackoff(func(int) time.Duration { return 10 * time.Millisecond })
	d.Enqueue(sample)
	select {
	case a := <-got:
		if a.ID != sample.ID || a.Matter != sample.Matter {
			t.Fatalf("received %+v", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the alert never arrived")
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
	waitFor(t, func() bool { return c.get("webhook/retry") == 2 && c.get("webhook/ok") == 1 })
}

// A receiver that never answers does not block Enqueue: the queue is
// bounded, the oldest alerts are dropped and counted.
func TestEnqueueNeverBlocks(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	wh, _ := alerts.NewWebhook(alerts.WebhookConfig{URL: srv.URL, SecretEnv: "X", Timeout: time.Hour, MaxAttempts: 1}, []byte("0123456789abcdef"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var c counts
	d := alerts.NewDispatcher(ctx, []alerts.Sink{wh}, 1, c.count, slog.New(slog.DiscardHandler))
	done := make(chan struct{})
	go func() {
		for range alerts.QueueSize + 50 {
			d.Enqueue(sample)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Enqueue blocked")
	}
	if n := c.get("webhook/dropped"); n < 49 {
		t.Fatalf("%d dropped, want at least 49", n)
	}
}

// Syslog: RFC 5424 messages, octet-counted over TCP, reconnecting after
// the receiver closes.
func TestSyslogRFC5424(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	msgs := make(chan string, 4)
	closed := make(chan struct{}, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer func() { c.Close(); closed <- struct{}{} }()
				// One message per connection: the sink must reconnect.
				r := bufio.NewReader(c)
				n, err := r.ReadString(' ')
				if err != nil {
					return
				}
				size, _ := strconv.Atoi(strings.TrimSpace(n))
				b := make([]byte, size)
				if _, err := io.ReadFull(r, b); err != nil {
					return
				}
				msgs <- string(b)
			}()
		}
	}()
	s, err := alerts.NewSyslog(alerts.SyslogConfig{Network: "tcp", Address: ln.Addr().String(), AppName: "mattersync-gateway", Facility: 13})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var c counts
	d := alerts.NewDispatcher(ctx, []alerts.Sink{s}, 5, c.count, slog.New(slog.DiscardHandler))
	d.SetBackoff(func(int) time.Duration { return 10 * time.Millisecond })
	second := sample
	second.ID = "mass_download-43"
	// <PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] BOM MSG
	re := regexp.MustCompile(`^<106>1 2026-12-07T03:00:00\.000000Z \S+ mattersync-gateway - mass_download \[mattersync@32473 id="mass_download-4[23]" rule="mass_download" severity="critical" entity="ent-1" user="alice" device="LAPTOP-7" source="10\.0\.0\.7" matter="2026-0042" records="40,41,42"\] \x{FEFF}alice downloaded 250 files "quickly" \[sic\]$`)
	for _, a := range []alerts.Alert{sample, second} {
		d.Enqueue(a)
		select {
		case m := <-msgs:
			if !re.MatchString(m) || !strings.Contains(m, a.ID) {
				t.Fatalf("message %q", m)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no syslog message")
		}
		<-closed // the receiver hung up: the next alert needs a new connection
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met")
}
