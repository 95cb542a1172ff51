package hostile

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/audit"
)

// TestGatewayRefusalsFromManySourcesBoundAuditAppends: a refused request
// from a new source address used to cost a synchronous append on the one
// audit chain, and an IPv6 /64 is one source, so a /48 (65,536 of them)
// saturated the chain. Refusals before authentication are now audited on
// their own only within a gateway-wide budget; the rest are counted into
// periodic summaries, at most a hundred records a flush. Every refusal is
// still in the log, on its own or counted.
func TestGatewayRefusalsFromManySourcesBoundAuditAppends(t *testing.T) {
	const rps, interval = 5, time.Second
	g := startGateway(t, func(c *gateway.Config) {
		c.TrustedProxies = []string{"127.0.0.0/8"}
		c.Audit.RefusalRecordsPerSecond = rps
		c.Audit.RefusalSummaryInterval = interval
	}, nil)
	const sources = 3000
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				// One request from each /64 of a /48.
				res, _ := send(t, g, "GET", "/v1/matters/m-1/changes", map[string]string{
					"Authorization": "Bearer garbage", "X-Forwarded-For": fmt.Sprintf("2001:db8:77:%x::1", i)})
				if res.StatusCode != http.StatusUnauthorized {
					t.Errorf("source %d: %d", i, res.StatusCode)
				}
			}
		}()
	}
	for i := range sources {
		next <- i
	}
	close(next)
	wg.Wait()
	// Wait until every refusal is accounted for.
	re := regexp.MustCompile(`^suppressed=(\d+) status=401:(\d+) matters=m-1( sources=\d+)?$`)
	var own, summaries, counted int
	for {
		own, summaries, counted = 0, 0, 0
		err := g.Stores.Audit.AuditRecords(context.Background(), audit.Query{}, func(r *audit.Record) error {
			switch {
			case r.Action == "auth.failures":
				m := re.FindStringSubmatch(r.Object)
				if m == nil {
					t.Fatalf("summary %q", r.Object)
				}
				n, _ := strconv.Atoi(m[1])
				counted += n
				summaries++
			case r.Status == http.StatusUnauthorized:
				own++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if own+counted >= sources || time.Since(start) > time.Minute {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(start)
	if own+counted != sources {
		t.Fatalf("%d refusals on their own + %d counted, want %d", own, counted, sources)
	}
	// The budget's burst plus its rate over the run; at most 100 records a
	// flush, one flush an interval plus the first and the last.
	if max := rps + int(elapsed.Seconds()*rps) + 1; own > max {
		t.Fatalf("%d refusals audited on their own in %s, want at most %d", own, elapsed, max)
	}
	if max := 100 * (int(elapsed/interval) + 2); summaries > max {
		t.Fatalf("%d summary records in %s, want at most %d", summaries, elapsed, max)
	}
	t.Logf("%d sources: %d records of their own, %d summaries, in %s", sources, own, summaries, elapsed.Round(time.Millisecond))
}
