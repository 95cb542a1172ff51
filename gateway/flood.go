package gateway

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mattersync/mattersync/gateway/audit"
)

// Requests that fail before the caller is authenticated (malformed device
// header, missing or invalid token) cost an RSA verification and, if each
// were audited on its own, a synchronous append on the one audit chain: a
// flood of them from anywhere would slow every user. So:
//
//   - each source address (an IPv6 address counts as its /64) has a token
//     bucket of failed authentications (limits.unauthenticated_per_second,
//     unauthenticated_burst); once it is empty, only tokens signed by a
//     key already in the JWKS are verified (a valid token is served: its
//     neighbours behind the same address must not lock it out), anything
//     else is answered 429 unverified;
//   - at most one such refusal per source per second gets its own audit
//     record; the others are counted (mattersync_gateway_audit_suppressed_total)
//     and written as one "auth.failures" summary record per source, within
//     about a second, whose object says how many of each status it stands for.
//
// Successful authentications take nothing from the bucket.

// sourceKey is the key of a source address for the limits: the address, or
// its /64 for IPv6 (one host usually holds a whole /64).
func sourceKey(addr string) string {
	ip := net.ParseIP(addr)
	if ip == nil {
		return addr
	}
	if ip.To4() != nil {
		return ip.String()
	}
	return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
}

// collapser decides which pre-authentication refusals get their own audit
// record, and keeps count of the others until they are summarized.
type collapser struct {
	mu      sync.Mutex // guards sources
	sources map[string]*failures
}

type failures struct {
	last    time.Time   // the last refusal recorded on its own
	since   time.Time   // the first refusal not recorded yet
	pending map[int]int // status -> refusals not recorded yet
}

func newCollapser() *collapser { return &collapser{sources: map[string]*failures{}} }

// record reports whether a refusal from key with status should get its own
// audit record now; if not, it is counted for the summary.
func (c *collapser) record(key string, status int, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.sources[key]
	if f == nil {
		f = &failures{pending: map[int]int{}}
		c.sources[key] = f
	}
	if now.Sub(f.last) >= time.Second {
		f.last = now
		return true
	}
	if len(f.pending) == 0 {
		f.since = now
	}
	f.pending[status]++
	return false
}

// summary is one source's refusals not recorded on their own.
type summary struct {
	key     string
	pending map[int]int
}

// due takes the counts that have waited at least a second (all with
// force), and forgets sources quiet for a minute.
func (c *collapser) due(now time.Time, force bool) []summary {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []summary
	for k, f := range c.sources {
		if len(f.pending) > 0 && (force || now.Sub(f.since) >= time.Second) {
			out = append(out, summary{key: k, pending: f.pending})
			f.pending = map[int]int{}
		}
		if len(f.pending) == 0 && now.Sub(f.last) > time.Minute {
			delete(c.sources, k)
		}
	}
	return out
}

// putBack returns counts whose summary could not be written.
func (c *collapser) putBack(sm summary, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.sources[sm.key]
	if f == nil {
		f = &failures{pending: map[int]int{}}
		c.sources[sm.key] = f
	}
	if len(f.pending) == 0 {
		f.since = now
	}
	for st, n := range sm.pending {
		f.pending[st] += n
	}
}

// object describes a summary in its record: "suppressed=N status=401:a,429:b".
func (sm summary) object() (string, int) {
	total := 0
	statuses := make([]int, 0, len(sm.pending))
	for st, n := range sm.pending {
		total += n
		statuses = append(statuses, st)
	}
	slices.Sort(statuses)
	parts := make([]string, len(statuses))
	for i, st := range statuses {
		parts[i] = strconv.Itoa(st) + ":" + strconv.Itoa(sm.pending[st])
	}
	return fmt.Sprintf("suppressed=%d status=%s", total, strings.Join(parts, ",")), total
}

// flushFailures writes the summary records that are due (all with force).
func (s *Server) flushFailures(ctx context.Context, force bool) {
	now := time.Now()
	for _, sm := range s.collapse.due(now, force) {
		obj, _ := sm.object()
		status := 0
		for st := range sm.pending {
			status = max(status, st)
		}
		rec := audit.Record{Time: now, Source: sm.key, Action: "auth.failures", Object: obj,
			Result: audit.ResultDenied, Status: status, RequestID: newRequestID()}
		if err := s.auditLog.AppendAudit(ctx, &rec); err != nil {
			s.metrics.auditAppends.WithLabelValues("error").Inc()
			s.log.Warn("audit summary of refused requests not written; kept for the next try", "source", sm.key, "object", obj, "err", err)
			s.collapse.putBack(sm, now)
			continue
		}
		s.metrics.auditAppends.WithLabelValues("ok").Inc()
	}
}
