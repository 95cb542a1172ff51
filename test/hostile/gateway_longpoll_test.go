package hostile

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/gatewaytest"
	"github.com/mattersync/mattersync/gateway/store"
)

// countingFiles counts change-feed reads per matter: each is what a
// woken long poll costs the store.
type countingFiles struct {
	gateway.FileStore
	mu    sync.Mutex
	reads map[string]int
}

func (c *countingFiles) Changes(ctx context.Context, matter string, since int64, limit int) ([]store.Version, int64, error) {
	c.mu.Lock()
	c.reads[matter]++
	c.mu.Unlock()
	return c.FileStore.Changes(ctx, matter, since, limit)
}

func (c *countingFiles) count(matter string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads[matter]
}

// TestGatewayCommitWakesOnlyItsMatter: every commit used to wake every
// long poll of every matter (300 polls turned one commit into 600 store
// queries), and one user could hold any number of them. A commit now
// wakes only its matter's polls, and a user's long polls are capped, in
// all and per matter: the excess is refused with 429 and Retry-After.
func TestGatewayCommitWakesOnlyItsMatter(t *testing.T) {
	files := &countingFiles{reads: map[string]int{}}
	g := gatewaytest.Start(t, gatewaytest.Options{
		WrapStores: func(s gateway.Stores) gateway.Stores { files.FileStore = s.Files; s.Files = files; return s },
		Config: func(c *gateway.Config) {
			// No store poll during the test: what wakes a poll is the
			// commit itself (another replica's commits are not the point).
			c.Limits.PollInterval, c.Limits.DenyMaxStaleness = time.Hour, 3*time.Hour
			c.Limits.MaxLongPollsPerUser, c.Limits.MaxLongPollsPerUserMatter = 5, 4
		},
	})
	const quiet, busy = "2026-0001", "2026-0002"
	ctx := context.Background()
	sealer := gatewaytest.NewSealer(t)
	// 8 users, 4 long polls each on the quiet matter.
	const users, each = 8, 4
	var woke atomic.Int32
	var polls sync.WaitGroup
	pollCtx, stopPolls := context.WithCancel(ctx)
	defer stopPolls()
	for u := range users {
		cl := g.Client(t, g.Token(t, fmt.Sprintf("ent-%d", u), "matter-"+quiet+"-rw", "matter-"+busy+"-rw"), "LAPTOP")
		for range each {
			polls.Add(1)
			go func() {
				defer polls.Done()
				page, err := cl.Changes(pollCtx, quiet, 0, 60*time.Second)
				if err == nil && len(page.Changes) > 0 {
					woke.Add(1)
				}
			}()
		}
	}
	for files.count(quiet) < users*each {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let the last read reach its wait
	before := files.count(quiet)
	// Commits to the busy matter wake none of them.
	writer := g.Client(t, g.Token(t, "ent-writer", "matter-"+busy+"-rw", "matter-"+quiet+"-rw"), "DESKTOP")
	for range 10 {
		f := sealer.NewFile(t, busy)
		if _, err := writer.Commit(ctx, busy, f.String(), 0, api.CommitRequest{Manifest: sealer.ManifestOf(t, busy, f, 1)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := files.count(quiet) - before; got != 0 {
		t.Fatalf("10 commits to %s made %d change-feed reads of %s", busy, got, quiet)
	}
	// The cap: a fifth poll of one user on one matter is refused; so is
	// a sixth in all.
	tok := g.Token(t, "ent-0", "matter-"+quiet+"-rw", "matter-"+busy+"-rw")
	res, body := send(t, g, "GET", "/v1/matters/"+quiet+"/changes?wait=30s", map[string]string{"Authorization": "Bearer " + tok})
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("a 5th long poll on one matter: %d %s", res.StatusCode, body)
	}
	if res, body := send(t, g, "GET", "/v1/matters/"+quiet+"/changes", map[string]string{"Authorization": "Bearer " + tok}); res.StatusCode != 200 {
		t.Fatalf("a changes request without wait: %d %s", res.StatusCode, body)
	}
	// A fifth in all, on the other matter, is admitted (it waits: since is
	// the head, 10 commits; beyond it the gateway answers at once).
	extraCtx, stopExtra := context.WithCancel(ctx)
	extra := make(chan int, 1)
	go func() {
		req, _ := http.NewRequestWithContext(extraCtx, "GET", g.URL+"/v1/matters/"+busy+"/changes?wait=30s&since=10", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := g.HTTP.Do(req)
		if err != nil {
			extra <- 0 // cancelled while waiting
			return
		}
		res.Body.Close()
		extra <- res.StatusCode
	}()
	for files.count(busy) == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	if res, body := send(t, g, "GET", "/v1/matters/"+busy+"/changes?wait=30s", map[string]string{"Authorization": "Bearer " + tok}); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a 6th long poll of one user: %d %s", res.StatusCode, body)
	}
	// A commit to the quiet matter wakes its polls, with the change.
	f := sealer.NewFile(t, quiet)
	if _, err := writer.Commit(ctx, quiet, f.String(), 0, api.CommitRequest{Manifest: sealer.ManifestOf(t, quiet, f, 1)}); err != nil {
		t.Fatal(err)
	}
	polls.Wait()
	if n := woke.Load(); n != users*each {
		t.Fatalf("%d of %d polls answered the commit", n, users*each)
	}
	if got := files.count(quiet) - before; got > 2*users*each {
		t.Fatalf("one commit made %d change-feed reads for %d polls", got, users*each)
	}
	stopExtra()
	if code := <-extra; code != 0 {
		t.Fatalf("the 5th long poll in all was answered %d, want it waiting", code)
	}
}
