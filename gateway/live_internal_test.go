package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mattersync/mattersync/gateway/store"
)

// snapshotStore serves deny-list snapshots a test hands it, one per
// DenyList call, so a test can order a poll against a local change.
type snapshotStore struct {
	DenyStore // only Counters, DenyList and TokenFloors are called
	mu        sync.Mutex
	gen       int64
	next      chan snapshot
}

type snapshot struct {
	gen     int64
	entries []string
}

func (s *snapshotStore) Counters(context.Context) (store.Counters, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return store.Counters{Deny: s.gen}, nil
}

func (s *snapshotStore) DenyList(ctx context.Context) ([]store.DenyEntry, int64, error) {
	snap := <-s.next
	var out []store.DenyEntry
	for _, e := range snap.entries {
		out = append(out, store.DenyEntry{Entity: e})
	}
	return out, snap.gen, nil
}

func (s *snapshotStore) TokenFloors(context.Context) ([]store.TokenFloor, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return nil, 1 << 40, nil
}

// TestLiveMergesByGeneration: a poll that read the store just before this
// replica's own deny-list change must not undo it when it lands after.
func TestLiveMergesByGeneration(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	st := &snapshotStore{gen: 5, next: make(chan snapshot)}
	l := newLive(st, slog.New(slog.DiscardHandler), m)
	refresh := func(snap snapshot) {
		t.Helper()
		done := make(chan error)
		go func() { done <- l.refresh(context.Background(), true) }()
		st.next <- snap
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	refresh(snapshot{gen: 5})
	isDenied := func(e string) bool { d, _ := l.denied(e, time.Hour); return d }

	// A poll reads generation 5 (no "x"), then this replica denies "x"
	// (generation 6), then the poll lands.
	done := make(chan error)
	go func() { done <- l.refresh(context.Background(), true) }()
	time.Sleep(10 * time.Millisecond) // the poll is waiting in DenyList
	l.setDenied(6, "x", true)
	if !isDenied("x") {
		t.Fatal("local deny not applied at once")
	}
	st.next <- snapshot{gen: 5}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !isDenied("x") {
		t.Fatal("an older snapshot undid this replica's deny")
	}
	// The snapshot that holds the change replaces the local copy ...
	refresh(snapshot{gen: 6, entries: []string{"x"}})
	if !isDenied("x") || len(l.local) != 0 {
		t.Fatalf("snapshot with the change: denied %v, %d local changes kept", isDenied("x"), len(l.local))
	}
	// ... and a later removal elsewhere wins.
	refresh(snapshot{gen: 7})
	if isDenied("x") {
		t.Fatal("removal by another replica not applied")
	}
	// A local removal is not undone by an older snapshot either.
	refresh(snapshot{gen: 8, entries: []string{"y"}})
	l.setDenied(9, "y", false)
	refresh(snapshot{gen: 8, entries: []string{"y"}})
	if isDenied("y") {
		t.Fatal("an older snapshot undid this replica's removal")
	}
}

// counterStore is a DenyStore whose change counter a test moves; Counters
// can be held mid-read, to order a commit against it.
type counterStore struct {
	DenyStore
	mu      sync.Mutex
	changes int64
	hold    chan chan struct{} // if set, Counters hands a release channel and waits on it
}

func (s *counterStore) Counters(context.Context) (store.Counters, error) {
	if s.hold != nil {
		release := make(chan struct{})
		s.hold <- release
		<-release
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return store.Counters{Changes: s.changes}, nil
}

func (s *counterStore) DenyList(context.Context) ([]store.DenyEntry, int64, error) {
	return nil, 0, nil
}

func (s *counterStore) TokenFloors(context.Context) ([]store.TokenFloor, int64, error) {
	return nil, 0, nil
}

func (s *counterStore) bump() {
	s.mu.Lock()
	s.changes++
	s.mu.Unlock()
}

// TestLiveWakesByMatter: this replica's commit wakes its matter's long
// polls only, and the poll that then sees the store's counter move does
// not wake the others; another replica's commit wakes everyone. A commit
// that overlaps a counter read is not taken for this replica's, so
// another replica's commit is never missed (a spurious wake-up is the
// price).
func TestLiveWakesByMatter(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	st := &counterStore{}
	l := newLive(st, slog.New(slog.DiscardHandler), m)
	ctx := context.Background()
	if err := l.refresh(ctx, true); err != nil {
		t.Fatal(err)
	}
	woken := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	commit := func(matter string) {
		began := l.committing()
		st.bump()
		l.committed(matter, began)
	}
	a, b := l.wait("a"), l.wait("b")
	commit("a")
	if !woken(a) || woken(b) {
		t.Fatal("a commit to a must wake a's polls and only them")
	}
	a = l.wait("a")
	l.refresh(ctx, false)
	if woken(a) || woken(b) {
		t.Fatal("the poll took this replica's commit for another replica's")
	}
	st.bump() // another replica's commit
	l.refresh(ctx, false)
	if !woken(a) || !woken(b) {
		t.Fatal("another replica's commit did not wake every poll")
	}
	// A commit that lands while the counter is being read: that poll
	// wakes everyone (it cannot tell), and the commit is not credited to
	// the next poll, which must see another replica's commit.
	b = l.wait("b")
	st.hold = make(chan chan struct{})
	done := make(chan struct{})
	go func() { l.refresh(ctx, false); close(done) }()
	release := <-st.hold
	began := l.committing()
	st.bump()
	l.committed("a", began)
	close(release)
	<-done
	st.hold = nil
	if !woken(b) {
		t.Fatal("a commit during the counter read was taken for this replica's")
	}
	a, b = l.wait("a"), l.wait("b")
	l.refresh(ctx, false)
	st.bump() // another replica's
	l.refresh(ctx, false)
	if !woken(a) || !woken(b) {
		t.Fatal("another replica's commit was missed")
	}
}

// A flood of failures from more sources than the limiter keeps apart
// (many /64s of a /32) costs a bounded map: the sources beyond the bound
// share one bucket, which the flood empties, while a known key keeps its
// own tokens. Idle buckets are forgotten exactly when full again.
func TestLimiterBoundsSources(t *testing.T) {
	l := newLimiter(1, 3)
	l.max = 50
	now := time.Now()
	if ok, _ := l.allow("known", now); !ok {
		t.Fatal("a first request is refused")
	}
	for i := range 10 * l.max {
		l.take(fmt.Sprintf("2001:db8:%x::/64", i), now)
	}
	if n := len(l.buckets); n > l.max+1 { // plus the shared one
		t.Fatalf("%d buckets after %d sources, want at most %d", n, 10*l.max, l.max+1)
	}
	if ok, _ := l.peek("2001:db8:ffff::/64", now); ok {
		t.Error("a new source beyond the bound is not throttled with the others of the flood")
	}
	if ok, _ := l.peek("known", now); !ok {
		t.Error("the flood took the tokens of a key it does not share")
	}
	// Two minutes on, every bucket is full again and forgotten.
	later := now.Add(2*time.Minute + 5*time.Second)
	if ok, _ := l.allow("2001:db8:ffff::/64", later); !ok {
		t.Error("a source is still throttled after its bucket refilled")
	}
	if n := len(l.buckets); n != 1 {
		t.Errorf("%d buckets after the sweep, want 1", n)
	}
}
