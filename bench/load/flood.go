package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// floodResult is what the bad-token flood achieved.
type floodResult struct {
	Asked    int // requests per second asked for
	Sent     int64
	Duration time.Duration
	Answers  counts // by status, or the connection error
}

func (f *floodResult) String() string {
	return fmt.Sprintf("%d requests in %v (%.0f/s, %d/s asked): %s", f.Sent, f.Duration.Round(time.Second),
		float64(f.Sent)/f.Duration.Seconds(), f.Asked, f.Answers.String())
}

// forgedToken looks like a Vault identity token (three base64url parts)
// with a signature nobody made: what a flood of stolen or made-up
// tokens sends.
const forgedToken = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImZvcmdlZCJ9.eyJpc3MiOiJmb3JnZWQiLCJzdWIiOiJub2JvZHkiLCJhdWQiOiJtYXR0ZXJzeW5jIn0.c2lnbmF0dXJlLW5vYm9keS1tYWRl"

// flood sends rate requests per second with a forged token to the
// gateway (through HAProxy, like everyone) for d, from as many workers as
// it takes, and counts the answers.
func (r *runner) flood(ctx context.Context, rate int, d time.Duration) *floodResult {
	res := &floodResult{Asked: rate}
	workers := min(max(rate/100, 4), 256)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = workers
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var sent atomic.Int64
	start := time.Now()
	// Each worker paces itself to rate/workers; a slow answer makes it
	// fall behind, which the achieved rate shows.
	every := time.Duration(float64(time.Second) * float64(workers) / float64(rate))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := start.Add(every * time.Duration(w) / time.Duration(workers))
			for ctx.Err() == nil {
				if !sleep(ctx, time.Until(next)) {
					return
				}
				next = next.Add(every)
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.s.GatewayURL()+"/v1/matters", nil)
				req.Header.Set("Authorization", "Bearer "+forgedToken)
				resp, err := hc.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						res.Answers.add("error: "+errKind(err), 1)
						sent.Add(1)
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				res.Answers.add(resp.Status, 1)
				sent.Add(1)
			}
		}()
	}
	wg.Wait()
	res.Sent, res.Duration = sent.Load(), time.Since(start)
	return res
}
