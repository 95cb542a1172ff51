package gateway

import (
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestWaitAny: a combined feed's channel closes at a commit to any matter
// it names, not at another matter's, and at a broadcast; a waiter woken
// or stopped is forgotten under every matter (nothing accumulates).
func TestWaitAny(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	l := newLive(nil, slog.New(slog.DiscardHandler), m)
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	ab, stopAB := l.waitAny([]string{"a", "b"})
	c, stopC := l.waitAny([]string{"c"})
	l.committed("b", l.committing())
	if !closed(ab) || closed(c) {
		t.Fatalf("commit to b: feed(a,b) woken %v, feed(c) woken %v; want true, false", closed(ab), closed(c))
	}
	stopAB() // after a wake-up: harmless
	l.committed("a", l.committing())
	if closed(c) {
		t.Fatal("commit to a woke feed(c)")
	}
	l.mu.Lock()
	l.broadcastLocked()
	l.mu.Unlock()
	if !closed(c) {
		t.Fatal("broadcast did not wake feed(c)")
	}
	stopC()
	_, stop := l.waitAny([]string{"a", "d"})
	stop()
	if n := len(l.multi); n != 0 {
		t.Fatalf("%d matters still list waiters after every feed was woken or stopped", n)
	}
}
