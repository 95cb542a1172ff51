package gateway

import (
	"context"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

// Request bodies are what a member with write access can make the gateway
// hold in memory: commit bodies (up to max_commit_bytes) are decoded whole,
// chunk bodies are streamed but held for the whole transfer. Two bounds:
//
//   - a weighted semaphore on the bytes of all bodies in flight
//     (limits.max_inflight_bytes), taken before the body is read, for its
//     Content-Length (twice that for JSON bodies, which are decoded: the
//     raw body and the decoded copy), waiting at most limits.inflight_wait,
//     then 503 with Retry-After;
//   - at most limits.max_concurrent_per_user requests with a body per
//     entity at once, else 429.
//
// Requests without a body (reads, long polls) take neither.

// inflight bounds the request bodies held at once.
type inflight struct {
	sem     *semaphore.Weighted
	max     int64
	perUser int

	mu   sync.Mutex // guards busy
	busy map[string]int
}

func newInflight(maxBytes int64, perUser int) *inflight {
	return &inflight{sem: semaphore.NewWeighted(maxBytes), max: maxBytes, perUser: perUser, busy: map[string]int{}}
}

// bodyWeight is what a request's body may cost in memory, 0 for requests
// whose body is not read (none, or refused by its size before reading).
func (s *Server) bodyWeight(r *http.Request, action string) int64 {
	l := s.cfg.Limits
	bounded := func(limit, factor int64) int64 {
		switch n := r.ContentLength; {
		case n == 0, n > limit:
			return 0
		case n < 0: // chunked: up to the limit
			return factor * limit
		default:
			return factor * n
		}
	}
	switch action {
	case "chunk.put":
		if r.ContentLength <= 0 {
			return 0 // 411 or 400 before reading
		}
		return bounded(l.MaxChunkBytes, 1)
	case "file.commit", "file.delete":
		return bounded(l.MaxCommitBytes, 2)
	case "chunk.missing":
		return bounded(missingBodyLimit(l), 2)
	}
	return 0 // admin bodies: at most 16 KiB
}

// admitBody reserves memory for rq's body before it is read; release
// returns it.
func (s *Server) admitBody(r *http.Request, rq *request, action string) (release func(), err error) {
	w := s.bodyWeight(r, action)
	if w == 0 {
		return func() {}, nil
	}
	w = min(w, s.inflight.max)
	in := s.inflight
	entity := rq.ident.Entity
	in.mu.Lock()
	if in.busy[entity] >= in.perUser {
		in.mu.Unlock()
		s.metrics.denials.WithLabelValues("concurrent_per_user").Inc()
		return nil, &Error{Op: "limits", Kind: KindRateLimited, RetryAfter: time.Second,
			Msg: "too many uploads at once from this user"}
	}
	in.busy[entity]++
	in.mu.Unlock()
	done := func() {
		in.mu.Lock()
		if in.busy[entity]--; in.busy[entity] <= 0 {
			delete(in.busy, entity)
		}
		in.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Limits.InflightWait)
	err = in.sem.Acquire(ctx, w)
	cancel()
	if err != nil {
		done()
		s.metrics.denials.WithLabelValues("inflight_bytes").Inc()
		return nil, &Error{Op: "limits", Kind: KindUnavailable, RetryAfter: time.Second, Err: err,
			Msg: "the gateway is receiving too much at once; retry"}
	}
	s.metrics.inflightBytes.Add(float64(w))
	return func() {
		in.sem.Release(w)
		s.metrics.inflightBytes.Sub(float64(w))
		done()
	}, nil
}
