package gateway

import (
	"context"
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
