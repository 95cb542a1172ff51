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
// Reads of chunks and file versions stream what they send through one
// copy buffer (a manifest is base64-encoded on the way out, never held
// whole), and take readWeight of the same byte budget for as long as they
// send, so many parallel reads wait or get 503 like uploads do; they count
// against a per-user limit of their own (limits.max_reads_per_user, 429
// beyond), so one member stalling downloads cannot take the whole budget. Other requests without a
// body (lists, long polls) take neither.

// readWeight is what one streaming read holds: the copy buffer and the
// encoder's and connection's buffers, rounded up.
const readWeight = 64 << 10

// inflight bounds the request bodies held at once.
type inflight struct {
	sem      *semaphore.Weighted
	max      int64
	perUser  int // uploads
	perUserR int // streaming reads
	perUserA int // every request but long polls

	mu       sync.Mutex // guards busy, reading, all and batching
	busy     map[string]int
	reading  map[string]int
	all      map[string]int
	batching map[string]int
}

func newInflight(maxBytes int64, perUser, perUserReads, perUserAll int) *inflight {
	return &inflight{sem: semaphore.NewWeighted(maxBytes), max: maxBytes, perUser: perUser, perUserR: perUserReads, perUserA: perUserAll,
		busy: map[string]int{}, reading: map[string]int{}, all: map[string]int{}, batching: map[string]int{}}
}

// admitRequest counts one more request of the caller in flight, or refuses
// it with 429 beyond limits.max_requests_per_user. Long polls (the feeds
// and the presence list asked with a wait) are not counted: they have caps
// of their own, and an old agent holds one per matter. The same routes
// asked without a wait answer at once and count like any request.
func (s *Server) admitRequest(r *http.Request, rq *request, action string) (leave func(), err error) {
	if rq.ident == nil || longPoll(r, action) {
		return func() {}, nil
	}
	leave, ok := s.inflight.enter(s.inflight.all, rq.ident.Entity, s.inflight.perUserA)
	if !ok {
		s.metrics.denials.WithLabelValues("concurrent_per_user").Inc()
		return nil, &Error{Op: "limits", Kind: KindRateLimited, RetryAfter: time.Second,
			Msg: "too many requests at once from this user"}
	}
	return leave, nil
}

// longPoll tells whether r is a long poll: a feed or the presence list
// asked with a wait above zero (an invalid wait is refused by the handler,
// after counting).
func longPoll(r *http.Request, action string) bool {
	switch action {
	case "changes", "feed", "presence.list":
		w, ok := parseWait(r.URL.Query().Get("wait"))
		return ok && w > 0
	}
	return false
}

// enter counts one more request of entity in counts, unless it already has
// limit; leave undoes it.
func (in *inflight) enter(counts map[string]int, entity string, limit int) (leave func(), ok bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if counts[entity] >= limit {
		return nil, false
	}
	counts[entity]++
	return func() {
		in.mu.Lock()
		if counts[entity]--; counts[entity] <= 0 {
			delete(counts, entity)
		}
		in.mu.Unlock()
	}, true
}

// bodyWeight is what a request's body may cost in memory (readWeight for
// a streaming read), 0 for requests whose body is not read (none, or
// refused by its size before reading).
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
	case "file.batch":
		return bounded(l.MaxBatchBytes, 2)
	case "chunk.missing":
		return bounded(missingBodyLimit(l), 2)
	case "chunk.get", "file.get":
		return readWeight
	case "share.create":
		// Streamed to the bucket as it comes: a copy buffer's worth.
		if r.ContentLength <= 0 {
			return 0
		}
		return readWeight
	}
	return 0 // admin bodies: at most 16 KiB
}

// admitBody reserves memory for rq's body before it is read, or for a
// read's buffers before it sends; release returns it.
func (s *Server) admitBody(r *http.Request, rq *request, action string) (release func(), err error) {
	w := s.bodyWeight(r, action)
	if w == 0 {
		return func() {}, nil
	}
	w = min(w, s.inflight.max)
	in := s.inflight
	counts, limit, what := in.busy, in.perUser, "uploads"
	if r.Method == http.MethodGet {
		counts, limit, what = in.reading, in.perUserR, "downloads"
	}
	done, ok := in.enter(counts, rq.ident.Entity, limit)
	if !ok {
		s.metrics.denials.WithLabelValues("concurrent_per_user").Inc()
		return nil, &Error{Op: "limits", Kind: KindRateLimited, RetryAfter: time.Second,
			Msg: "too many " + what + " at once from this user"}
	}
	return s.admitBytes(r.Context(), w, done)
}

// admitBytes takes w bytes of the in-flight budget, waiting at most
// limits.inflight_wait; release returns them, then calls done (also called
// if they are refused).
func (s *Server) admitBytes(ctx context.Context, w int64, done func()) (release func(), err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Limits.InflightWait)
	err = s.inflight.sem.Acquire(ctx, w)
	cancel()
	if err != nil {
		done()
		s.metrics.denials.WithLabelValues("inflight_bytes").Inc()
		return nil, &Error{Op: "limits", Kind: KindUnavailable, RetryAfter: time.Second, Err: err,
			Msg: "the gateway is moving too much at once; retry"}
	}
	s.metrics.inflightBytes.Add(float64(w))
	return func() {
		s.inflight.sem.Release(w)
		s.metrics.inflightBytes.Sub(float64(w))
		done()
	}, nil
}
