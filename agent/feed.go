package agent

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/kms"
)

// The agent holds one long poll for all its matters (POST /v1/feed): the
// gateway answers which matters have news past their cursor, and the
// feed pokes those matters' loops, whose passes read the changes. One
// connection per laptop, not one per matter.

// feedWait is how long one feed request waits for news.
const feedWait = 30 * time.Second

// feedPause is how long a matter whose feed went back (witness.go) or
// that was closed stays out of the feed: the gateway answers such a
// matter at once, so it is asked again only after a poll's length (for
// IT's resync, or until the matter list drops it).
const feedPause = 30 * time.Second

// feedLoops is the set of matter loops the feed serves. Run adds and
// removes loops; the feed reads it before every request and restarts a
// waiting request when it changes.
type feedLoops struct {
	mu      sync.Mutex // guards loops and changed
	loops   map[string]*matterLoop
	changed chan struct{} // closed and replaced when loops changes
}

func newFeedLoops() *feedLoops {
	return &feedLoops{loops: map[string]*matterLoop{}, changed: make(chan struct{})}
}

// set puts l (nil: none) in the set for matter.
func (f *feedLoops) set(matter string, l *matterLoop) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l == nil {
		delete(f.loops, matter)
	} else {
		f.loops[matter] = l
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

// snapshot returns the loops and a channel closed at the next change.
func (f *feedLoops) snapshot() (map[string]*matterLoop, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]*matterLoop, len(f.loops))
	for k, v := range f.loops {
		out[k] = v
	}
	return out, f.changed
}

// feed long-polls the combined feed until ctx ends or access is revoked.
// A matter's cursor sent is the larger of what its loop applied and the
// head already announced to it: a matter is poked once per news, not at
// every poll while its pass runs.
func (a *Agent) feed(ctx context.Context, set *feedLoops) {
	announced := map[string]int64{}  // matter -> head already poked for
	dropsSeen := map[string]int64{}  // matter -> drops the feed last counted (incoming.go)
	paused := map[string]time.Time{} // matter -> left out of the feed until
	backoff := time.Second
	for ctx.Err() == nil {
		loops, changed := set.snapshot()
		now := time.Now()
		cursors := map[string]int64{}
		cur := map[string]int64{}
		wait := feedWait
		failed := false
		for id := range loops {
			if until, ok := paused[id]; ok {
				if now.Before(until) {
					wait = min(wait, until.Sub(now))
					continue
				}
				delete(paused, id)
			}
			c, err := a.idx.Cursor(ctx, id)
			if err != nil && !errors.Is(err, index.ErrNotFound) {
				failed = true
				break
			}
			cur[id] = int64(c)
			cursors[id] = max(int64(c), announced[id])
		}
		if failed {
			if !sleepCtx(ctx, backoff) {
				return
			}
			continue
		}
		if len(cursors) == 0 {
			// Nothing to ask for: wait for a loop to start or a pause to end.
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
			case <-changed:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		// A request waiting for the old set is cut short when the set
		// changes, so a new matter's news is not missed for a poll.
		pctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-changed:
				cancel()
			case <-pctx.Done():
			}
		}()
		var feed api.Feed
		var err error
		if a.drops != nil {
			// Drop news for the matters whose clients' uploads this
			// agent delivers (rw): the same long poll, no second one.
			drops := map[string]int64{}
			for id := range cursors {
				if l := loops[id]; l != nil && l.m.role == kms.RoleRW {
					drops[id] = dropsSeen[id]
				}
			}
			feed, err = a.drops.FeedDrops(pctx, cursors, drops, wait)
		} else {
			feed, err = a.remote.Feed(pctx, cursors, wait)
		}
		cut := pctx.Err() != nil && ctx.Err() == nil
		cancel()
		if cut {
			continue
		}
		if err != nil {
			if errors.Is(a.checkRevoked(err), ErrRevoked) {
				return
			}
			if remoteCode(err) == api.CodeForbidden {
				// A matter it listed is no longer readable (removed or
				// screened since the matter list): list the matters again.
				select {
				case a.recheck <- struct{}{}:
				default:
				}
			}
			a.log.Debug("feed failed; retrying", "err", err)
			if !sleepCtx(ctx, backoff/2+rand.N(backoff/2+1)) {
				return
			}
			backoff = min(2*backoff, time.Minute)
			continue
		}
		backoff = time.Second
		for _, m := range feed.Matters {
			l := loops[m.Matter]
			if l == nil {
				continue
			}
			switch {
			case m.Closed:
				// The pass gets 410 and has the matter list checked again.
				paused[m.Matter] = time.Now().Add(feedPause)
			case m.Head < cur[m.Matter]:
				// The feed went back from what this agent applied: the
				// pass checks the signed head and stops the matter.
				paused[m.Matter] = time.Now().Add(feedPause)
				announced[m.Matter] = m.Head
			default:
				announced[m.Matter] = m.Head
			}
			if m.Drops != nil && *m.Drops != dropsSeen[m.Matter] {
				dropsSeen[m.Matter] = *m.Drops
				a.incoming.setDue(m.Matter)
			}
			l.poke()
		}
	}
}

// sleepCtx waits d, or less if ctx ends first (then false).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
