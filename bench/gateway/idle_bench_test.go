package gatewaybench

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/auth/authtest"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
)

var (
	idlePolls   = flag.Int("idle-polls", 200, "idle long polls held open by BenchmarkIdleLongPoll")
	idleMatters = flag.Int("idle-matters", 50, "matters named by each combined feed of BenchmarkIdleLongPoll")
)

// BenchmarkIdleLongPoll: what one waiting long poll costs the gateway:
// goroutines, Go heap and resident memory per connection, for the
// combined feed (one per agent, naming -idle-matters matters) and the
// per-matter feed (one per matter, what agents held before). The clients
// are raw connections that write their request and never read, so every
// goroutine counted is the server's. In-process: RSS includes the
// connections' client ends (a net.Conn each, no goroutine).
//
//	go test -run '^$' -bench IdleLongPoll -benchtime 1x ./bench/gateway/ -args -idle-polls 2000
func BenchmarkIdleLongPoll(b *testing.B) {
	for _, kind := range []string{"feed", "changes"} {
		b.Run(kind, func(b *testing.B) {
			for range b.N {
				idleLongPolls(b, kind, *idlePolls, *idleMatters)
			}
		})
	}
}

func idleLongPolls(b *testing.B, kind string, n, matters int) {
	g := gatewaytest.Start(b, gatewaytest.Options{Config: func(cfg *gateway.Config) {
		cfg.Limits.PollInterval = gateway.DefaultConfig().Limits.PollInterval
		cfg.Limits.RequestsPerSecond, cfg.Limits.Burst = 1e9, 1<<30
	}})
	ids := make([]string, matters)
	groups := make([]string, matters)
	cursors := make([]api.FeedCursor, matters)
	for i := range ids {
		ids[i] = "m" + strconv.Itoa(i)
		groups[i] = "matter-" + ids[i] + "-rw"
		cursors[i] = api.FeedCursor{Matter: ids[i]}
	}
	body, _ := json.Marshal(api.FeedRequest{Matters: cursors})
	// One user per connection: a user holds at most 8 feeds at once.
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = g.Issuer.Token(b, authtest.Claims{Subject: fmt.Sprintf("ent-%d", i), Username: fmt.Sprintf("u%d", i),
			Groups: groups, Expiry: time.Now().Add(10 * time.Minute)})
	}
	addr := strings.TrimPrefix(g.URL, "http://")
	// A first poll answered, so the lazily built parts are there before
	// the baseline.
	warm, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	fmt.Fprintf(warm, "POST /v1/feed HTTP/1.1\r\nHost: g\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", tokens[0], len(body), body)
	if line, _ := bufio.NewReader(warm).ReadString('\n'); !strings.Contains(line, " 200 ") {
		b.Fatalf("warm-up feed: %q", line)
	}
	warm.Close()
	g0, heap0, rss0 := usage()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	b.ResetTimer()
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		if kind == "feed" {
			fmt.Fprintf(c, "POST /v1/feed?wait=60s HTTP/1.1\r\nHost: g\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", tokens[i], len(body), body)
		} else {
			fmt.Fprintf(c, "GET /v1/matters/%s/changes?since=0&wait=60s HTTP/1.1\r\nHost: g\r\nAuthorization: Bearer %s\r\n\r\n", ids[i%matters], tokens[i])
		}
	}
	// Until every poll waits: the goroutine count stops moving.
	last, still := -1, 0
	for still < 5 {
		time.Sleep(200 * time.Millisecond)
		if g := runtime.NumGoroutine(); g == last {
			still++
		} else {
			last, still = g, 0
		}
	}
	b.StopTimer()
	g1, heap1, rss1 := usage()
	per := func(v float64) float64 { return v / float64(n) }
	b.ReportMetric(per(float64(g1-g0)), "goroutines/poll")
	b.ReportMetric(per(float64(heap1-heap0))/1024, "heap-KiB/poll")
	b.ReportMetric(per(float64(rss1-rss0))/1024, "RSS-KiB/poll")
	fmt.Fprintf(os.Stderr, "%s: %d idle long polls (%d matters each for the feed): +%d goroutines, heap +%.1f MiB, RSS +%.1f MiB\n",
		kind, n, matters, g1-g0, float64(heap1-heap0)/(1<<20), float64(rss1-rss0)/(1<<20))
}

// usage returns the goroutines, the Go heap in use and the resident set
// size, after a collection.
func usage() (goroutines int, heap, rss uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b, _ := os.ReadFile("/proc/self/statm")
	if f := strings.Fields(string(b)); len(f) > 1 {
		pages, _ := strconv.ParseUint(f[1], 10, 64)
		rss = pages * uint64(os.Getpagesize())
	}
	return runtime.NumGoroutine(), ms.HeapInuse, rss
}
