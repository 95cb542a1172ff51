package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

// DenyStore keeps the deny list and the reissue stamps, and the
// generations replicas poll to learn of each other's writes (live, and the
// deny handlers).
type DenyStore interface {
	// DenyList returns every deny-list entry, oldest first, and the
	// generation it reflects.
	DenyList(ctx context.Context) ([]store.DenyEntry, int64, error)
	// AddDeny adds an entry and returns the deny generation after it.
	// created is false if the entity was already denied: the entry is left
	// as it was and rec is not written (nothing changed; the caller audits
	// the request with its own status).
	AddDeny(ctx context.Context, e store.DenyEntry, rec *audit.Record) (created bool, gen int64, err error)
	// RemoveDeny removes an entity's entry and returns the deny generation
	// after it; removed is false (and rec not written) if there was none.
	RemoveDeny(ctx context.Context, entity string, rec *audit.Record) (removed bool, gen int64, err error)
	// TokenFloors returns every entity's reissue stamp and the deny-list
	// generation it reflects.
	TokenFloors(ctx context.Context) ([]store.TokenFloor, int64, error)
	// SetTokenFloor makes the gateway refuse f.Entity's identity tokens
	// issued before f.NotBefore; a later stamp already set stays. It bumps
	// the deny-list generation (replicas reload both) and returns the stamp
	// in force and the generation after the change.
	SetTokenFloor(ctx context.Context, f store.TokenFloor, rec *audit.Record) (store.TokenFloor, int64, error)
	// Counters returns the change-feed and deny-list generations: they
	// grow with every commit and every deny-list change, so a replica that
	// polls them learns of other replicas' writes.
	Counters(ctx context.Context) (store.Counters, error)
}

// Pusher is a store that pushes other writers' changes as they commit
// (PostgreSQL's LISTEN/NOTIFY), so a replica learns of a deny within a
// round trip rather than at its next poll.
type Pusher interface {
	// Listen holds a connection of its own, outside the requests' pool,
	// and calls push for every deny-list change and every other
	// replica's commit, until ctx ends (nil) or the connection fails
	// (its error). Once listening it calls push with store.PushResync:
	// what changed before went unannounced.
	Listen(ctx context.Context, push func(store.Push)) error
}

// live is what a replica learns by polling the store: the deny list, the
// reissue stamps, and whether another replica committed something (to wake
// long polls); and the long polls waiting here.
type live struct {
	store   DenyStore
	log     *slog.Logger
	metrics *metrics

	mu       sync.Mutex // guards the fields below
	deny     map[string]struct{}
	floors   map[string]time.Time // entity -> tokens issued before are refused
	denyGen  int64                // generation of the snapshot in deny and floors
	local    []localChange        // this replica's changes newer than the snapshot
	changes  int64
	loadedAt time.Time // last successful poll (monotonic)

	// Long polls wait on their matter's channel, closed and replaced when
	// the matter changes here; everyone's is closed when the deny list
	// changes or another replica committed (the store's change counter
	// moved by more than this replica's own commits explain).
	wake map[string]chan struct{}
	// Combined feeds (feed.go) wait on one channel for several matters:
	// each is listed under every matter it waits for, closed at the first
	// change of any (or a broadcast) and then forgotten by all.
	multi   map[string]map[*multiWait]struct{}
	reads   int64          // counter reads completed (refresh)
	reading bool           // a counter read is under way
	credit  int64          // own commits known to fall between the last read and the next
	polls   map[string]int // long polls in flight per entity
	mpolls  map[entityMatter]int

	// kick asks the store poll for a refresh now (a pushed deny-list
	// change, or the push connection re-established); one pending kick
	// stands for any number.
	kick chan struct{}
}

type entityMatter struct{ entity, matter string }

// localChange is a deny-list or reissue change this replica made, applied
// at once, and again on top of every snapshot older than it (a poll that
// read the store just before the change must not undo it).
type localChange struct {
	gen   int64 // the deny generation the change produced
	apply func(deny map[string]struct{}, floors map[string]time.Time)
}

func newLive(s DenyStore, log *slog.Logger, m *metrics) *live {
	return &live{store: s, log: log, metrics: m, deny: map[string]struct{}{}, floors: map[string]time.Time{},
		wake: map[string]chan struct{}{}, multi: map[string]map[*multiWait]struct{}{}, denyGen: -1, polls: map[string]int{}, mpolls: map[entityMatter]int{},
		kick: make(chan struct{}, 1)}
}

// refresh polls the store's counters and reloads the deny list and the
// reissue stamps when their generation moved (or force).
func (l *live) refresh(ctx context.Context, force bool) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	l.mu.Lock()
	credit := l.credit
	l.credit, l.reading = 0, true
	l.mu.Unlock()
	c, err := l.store.Counters(ctx)
	l.mu.Lock()
	l.reading = false
	l.reads++
	reload := force || c.Deny != l.denyGen
	l.mu.Unlock()
	if err != nil {
		return err
	}
	var set map[string]struct{}
	var floors map[string]time.Time
	var gen int64
	if reload {
		entries, g1, err := l.store.DenyList(ctx)
		if err != nil {
			return err
		}
		fl, g2, err := l.store.TokenFloors(ctx)
		if err != nil {
			return err
		}
		set = make(map[string]struct{}, len(entries))
		for _, e := range entries {
			set[e.Entity] = struct{}{}
		}
		floors = make(map[string]time.Time, len(fl))
		for _, f := range fl {
			floors[f.Entity] = f.NotBefore
		}
		// Two reads: the older generation is what both surely hold; a
		// change in between is reloaded at the next poll.
		gen = min(g1, g2)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if reload && gen >= l.denyGen {
		if gen != l.denyGen {
			// Long polls check their caller again.
			defer l.broadcastLocked()
			// When this replica learned of a change, to match against
			// the time IT's change was acknowledged (a rare event).
			l.log.Info("deny list reloaded", "generation", gen, "entries", len(set), "floors", len(floors))
		}
		l.denyGen = gen
		kept := l.local[:0]
		for _, ch := range l.local {
			if ch.gen > gen {
				ch.apply(set, floors)
				kept = append(kept, ch)
			}
		}
		l.local = kept
		l.deny, l.floors = set, floors
		l.metrics.denyEntries.Set(float64(len(set)))
	}
	if c.Changes != l.changes {
		// Only another replica's commits need everyone woken: this
		// replica woke its own commits' matters already.
		if c.Changes-l.changes > credit {
			l.broadcastLocked()
		}
		l.changes = c.Changes
	}
	l.loadedAt = time.Now()
	return nil
}

// denied reports whether entity is on the deny list, and whether the list
// is fresh enough to trust.
func (l *live) denied(entity string, maxAge time.Duration) (denied, fresh bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, denied = l.deny[entity]
	return denied, time.Since(l.loadedAt) <= maxAge
}

// notBefore returns the entity's reissue stamp, if any.
func (l *live) notBefore(entity string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.floors[entity]
	return t, ok
}

// applyLocal applies this replica's own change at once; gen is the deny
// generation the change produced in the store.
func (l *live) applyLocal(gen int64, apply func(deny map[string]struct{}, floors map[string]time.Time)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	apply(l.deny, l.floors)
	if gen > l.denyGen {
		l.local = append(l.local, localChange{gen: gen, apply: apply})
	}
	l.metrics.denyEntries.Set(float64(len(l.deny)))
	l.broadcastLocked() // long polls check their caller again
}

// setFloor applies a reissue stamp made here.
func (l *live) setFloor(gen int64, entity string, notBefore time.Time) {
	l.applyLocal(gen, func(_ map[string]struct{}, floors map[string]time.Time) {
		if notBefore.After(floors[entity]) {
			floors[entity] = notBefore
		}
	})
}

// setDenied applies this replica's own deny-list change at once; gen is
// the deny generation after it.
func (l *live) setDenied(gen int64, entity string, on bool) {
	l.applyLocal(gen, func(deny map[string]struct{}, _ map[string]time.Time) {
		if on {
			deny[entity] = struct{}{}
		} else {
			delete(deny, entity)
		}
	})
}

// wait returns a channel closed at the next change of matter, or of the
// deny list, or another replica's commit.
func (l *live) wait(matter string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch := l.wake[matter]
	if ch == nil {
		ch = make(chan struct{})
		l.wake[matter] = ch
	}
	return ch
}

// committing is called before this replica commits; its result goes to
// committed.
func (l *live) committing() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reads
}

// kickRefresh makes the store poll refresh now.
func (l *live) kickRefresh() {
	select {
	case l.kick <- struct{}{}:
	default: // one is pending already
	}
}

// woken wakes the long polls of matter after another replica committed
// to it (a push). The store poll still wakes everyone when it sees the
// change counter move: a push is never relied on.
func (l *live) woken(matter string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.wakeLocked(matter)
}

func (l *live) wakeLocked(matter string) {
	if ch := l.wake[matter]; ch != nil {
		close(ch)
		delete(l.wake, matter)
	}
	for mw := range l.multi[matter] {
		l.fireLocked(mw)
	}
}

// committed wakes the long polls of matter after this replica committed
// to it. began is what committing returned: a commit that began after the
// last counter read and ended before the next one started moved the
// store's change counter in between, which the next poll then need not
// take for another replica's. Any other (ending during a read, or spanning
// one) is not counted: its poll wakes everyone, as it would for another
// replica's commit, which costs queries but never misses a change.
func (l *live) committed(matter string, began int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if began == l.reads && !l.reading {
		l.credit++
	}
	l.wakeLocked(matter)
}

func (l *live) broadcastLocked() {
	for _, ch := range l.wake {
		close(ch)
	}
	clear(l.wake)
	for _, ws := range l.multi {
		for mw := range ws {
			l.fireLocked(mw)
		}
	}
}

// multiWait is one combined feed's wake-up channel.
type multiWait struct {
	ch      chan struct{}
	matters []string
}

// waitAny returns a channel closed at the next change of any of matters,
// of the deny list, or another replica's commit; stop forgets it (call it
// when done waiting, woken or not).
func (l *live) waitAny(matters []string) (wake <-chan struct{}, stop func()) {
	mw := &multiWait{ch: make(chan struct{}), matters: matters}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range matters {
		ws := l.multi[m]
		if ws == nil {
			ws = map[*multiWait]struct{}{}
			l.multi[m] = ws
		}
		ws[mw] = struct{}{}
	}
	return mw.ch, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.forgetLocked(mw)
	}
}

// fireLocked closes mw's channel and forgets it (at most once: a
// forgotten waiter is in no list).
func (l *live) fireLocked(mw *multiWait) {
	close(mw.ch)
	l.forgetLocked(mw)
}

func (l *live) forgetLocked(mw *multiWait) {
	for _, m := range mw.matters {
		if ws := l.multi[m]; ws != nil {
			delete(ws, mw)
			if len(ws) == 0 {
				delete(l.multi, m)
			}
		}
	}
}

// admitPoll takes a long-poll slot of entity on matter, or reports that
// the entity holds max already (or perMatter on this matter); release
// gives it back.
func (l *live) admitPoll(entity, matter string, max, perMatter int) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	em := entityMatter{entity, matter}
	if l.polls[entity] >= max || l.mpolls[em] >= perMatter {
		return nil, false
	}
	l.polls[entity]++
	l.mpolls[em]++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.polls[entity]--; l.polls[entity] == 0 {
			delete(l.polls, entity)
		}
		if l.mpolls[em]--; l.mpolls[em] == 0 {
			delete(l.mpolls, em)
		}
	}, true
}

// admitLongPoll takes a long-poll slot for the caller (a request with
// wait > 0), or refuses it with 429: each waiting poll is woken by every
// change of its matter, so one user holding many would multiply the work
// of every commit there (limits.max_long_polls_per_user, in all and on
// one matter).
func (s *Server) admitLongPoll(op string, rq *request, wait time.Duration) (release func(), err error) {
	if wait <= 0 {
		return func() {}, nil
	}
	l := s.cfg.Limits
	release, ok := s.live.admitPoll(rq.ident.Entity, rq.matter, l.MaxLongPollsPerUser, l.MaxLongPollsPerUserMatter)
	if !ok {
		s.metrics.denials.WithLabelValues("long_polls").Inc()
		return nil, &Error{Op: op, Kind: KindRateLimited, RetryAfter: 5 * time.Second,
			Msg: fmt.Sprintf("too many long polls at once (at most %d per user, %d on one matter): ask without wait, or later", l.MaxLongPollsPerUser, l.MaxLongPollsPerUserMatter)}
	}
	return release, nil
}

// limiter is a token bucket per key (an entity, or a source address for
// failed authentications). At most maxLimiterKeys buckets exist at once:
// keys beyond them (a flood from many /64s) share one overflow bucket, so
// memory stays bounded whatever the number of sources, and the flood
// throttles itself rather than the known keys.
type limiter struct {
	rps   rate.Limit
	burst int
	max   int // buckets kept apart; further keys share overflowKey

	mu        sync.Mutex // guards the fields below
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	l    *rate.Limiter
	last time.Time
}

// maxLimiterKeys bounds a limiter's buckets (about 200 bytes each).
const maxLimiterKeys = 100_000

// overflowKey is the bucket shared by keys beyond a limiter's bound.
const overflowKey = "\x00overflow"

func newLimiter(rps float64, burst int) *limiter {
	return &limiter{rps: rate.Limit(rps), burst: burst, max: maxLimiterKeys, buckets: map[string]*bucket{}}
}

// peek reports whether key has a token left, without taking it, or how
// long until it has one.
func (l *limiter) peek(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil && len(l.buckets) >= l.max {
		b = l.buckets[overflowKey]
	}
	if b == nil {
		return true, 0
	}
	tokens := b.l.TokensAt(now)
	if tokens >= 1 {
		return true, 0
	}
	return false, time.Duration((1 - tokens) / float64(l.rps) * float64(time.Second))
}

// take takes a token for key if there is one (a failed authentication).
func (l *limiter) take(key string, now time.Time) {
	l.allow(key, now)
}

// sweep forgets the buckets idle long enough to be full again: exact, since
// a new bucket starts full. Called at most once a minute, or when the
// bound is reached (then at most once a second: a flood of new keys must
// not turn every request into a scan of the map).
func (l *limiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < time.Second {
		return
	}
	full := time.Duration(float64(l.burst)/float64(l.rps)*float64(time.Second)) + time.Minute
	for k, b := range l.buckets {
		if now.Sub(b.last) > full {
			delete(l.buckets, k)
		}
	}
	l.lastSweep = now
}

// allow takes a token for key, or says how long to wait for one.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	return l.allowN(key, 1, now)
}

// allowN takes n tokens for key, or none and says how long to wait for
// them; n must not be more than the burst (Config.Validate), else it is
// never allowed.
func (l *limiter) allowN(key string, n int, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil && (now.Sub(l.lastSweep) > time.Minute || len(l.buckets) >= l.max) {
		l.sweep(now)
	}
	if b == nil && len(l.buckets) >= l.max {
		key = overflowKey
		b = l.buckets[key]
	}
	if b == nil {
		b = &bucket{l: rate.NewLimiter(l.rps, l.burst)}
		l.buckets[key] = b
	}
	b.last = now
	r := b.l.ReserveN(now, n)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}
