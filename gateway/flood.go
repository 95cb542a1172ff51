package gateway

import (
	"context"
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/mattersync/mattersync/gateway/audit"
)

// Requests that fail before the caller is authenticated (malformed device
// header, missing or invalid token) cost a signature check and, if each
// were audited on its own, a synchronous append on the one audit chain: a
// flood of them from anywhere would slow every user. So:
//
//   - each source address (an IPv6 address counts as its /64) has a token
//     bucket of failed authentications (limits.unauthenticated_per_second,
//     unauthenticated_burst); once it is empty, only tokens signed by a
//     key already in the JWKS are verified (a valid token is served: its
//     neighbours behind the same address must not lock it out), anything
//     else is answered 429 unverified;
//   - such a refusal gets an audit record of its own only if its source had
//     none in the last second and the gateway-wide budget allows
//     (audit.refusal_records_per_second, 20: a fraction of what the chain
//     takes); the others are counted (mattersync_gateway_audit_suppressed_total)
//     per source, and every audit.refusal_summary_interval the counts
//     become "auth.failures" summary records written in the background. A
//     flush writes at most maxSummaryRecords (the sources with most
//     refusals; the rest in one record for all of them), and at most
//     maxTrackedSources sources are counted apart: many sources (a /48 is
//     65,536 /64s) cost a bounded number of appends, never one per source.
//
// Successful authentications take nothing from the bucket.

const (
	// maxSummaryRecords bounds the auth.failures records of one flush.
	maxSummaryRecords = 100
	// maxTrackedSources bounds the sources counted apart between flushes;
	// refusals from further sources are counted together.
	maxTrackedSources = 10_000
	// maxSummaryMatters bounds the matters named in one summary.
	maxSummaryMatters = 4
	// otherSources is the key of the refusals counted together, and the
	// source of their record.
	otherSources = "other"
)

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
// record, and counts the others per source until they are summarized.
type collapser struct {
	budget *rate.Limiter // records of their own, gateway-wide

	mu      sync.Mutex // guards sources
	sources map[string]*failures
}

type failures struct {
	last    time.Time   // the last refusal recorded on its own
	n       int         // refusals counted
	status  map[int]int // status -> refusals
	matters []string    // matters named, at most maxSummaryMatters
	more    int         // further matters named (not kept)
	sources int         // distinct sources counted in
	// untracked: refusals from sources beyond maxTrackedSources are in
	// (otherSources only; how many sources is not known).
	untracked bool
}

func newCollapser(perSecond float64) *collapser {
	return &collapser{budget: rate.NewLimiter(rate.Limit(perSecond), int(math.Ceil(perSecond))), sources: map[string]*failures{}}
}

// record reports whether a refusal from source key with status, naming
// matter ("": none), should get its own audit record now; if not, it is
// counted for the source's summary.
func (c *collapser) record(key string, status int, matter string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.sources[key]
	if f == nil && len(c.sources) >= maxTrackedSources {
		key = otherSources
		if f = c.sources[key]; f == nil {
			f = &failures{status: map[int]int{}}
			c.sources[key] = f
		}
		f.untracked = true
	}
	if f == nil {
		f = &failures{status: map[int]int{}, sources: 1}
		c.sources[key] = f
	}
	if key != otherSources && now.Sub(f.last) >= time.Second && c.budget.AllowN(now, 1) {
		f.last = now
		return true
	}
	f.add(1, map[int]int{status: 1}, []string{matter}, 0)
	return false
}

func (f *failures) add(n int, status map[int]int, matters []string, more int) {
	f.n += n
	for st, k := range status {
		f.status[st] += k
	}
	f.more += more
	for _, m := range matters {
		switch {
		case m == "" || slices.Contains(f.matters, m):
		case len(f.matters) < maxSummaryMatters:
			f.matters = append(f.matters, m)
		default:
			f.more++
		}
	}
}

// summary is one source's refusals, or several sources' (otherSources).
type summary struct {
	key string
	*failures
}

// take empties the counts and returns them as at most maxSummaryRecords
// summaries: the sources with most refusals, then one for all the others.
func (c *collapser) take() []summary {
	c.mu.Lock()
	all := c.sources
	c.sources = map[string]*failures{}
	c.mu.Unlock()
	var rest *summary
	if f := all[otherSources]; f != nil {
		rest = &summary{otherSources, f}
		delete(all, otherSources)
	}
	out := make([]summary, 0, len(all)+1)
	for k, f := range all {
		if f.n > 0 {
			out = append(out, summary{k, f})
		}
	}
	slices.SortFunc(out, func(a, b summary) int {
		if a.n != b.n {
			return b.n - a.n
		}
		return strings.Compare(a.key, b.key)
	})
	if len(out) >= maxSummaryRecords {
		if rest == nil {
			rest = &summary{otherSources, &failures{status: map[int]int{}}}
		}
		for _, sm := range out[maxSummaryRecords-1:] {
			rest.add(sm.n, sm.status, sm.matters, sm.more)
			rest.sources += sm.sources
		}
		out = out[:maxSummaryRecords-1]
	}
	if rest != nil {
		out = append(out, *rest)
	}
	return out
}

// putBack returns counts whose summary could not be written.
func (c *collapser) putBack(sm summary) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.sources[sm.key]
	if f == nil {
		c.sources[sm.key] = sm.failures
		return
	}
	f.add(sm.n, sm.status, sm.matters, sm.more)
	f.sources += sm.sources
	f.untracked = f.untracked || sm.untracked
}

// object describes a summary in its record:
// "suppressed=N status=401:a,429:b[ matters=x,y[,+k]][ sources=s[+]]"
// (sources: in the record of otherSources, how many sources it stands
// for; "+": and further ones not counted apart).
func (sm summary) object() string {
	statuses := slices.Sorted(maps.Keys(sm.status))
	parts := make([]string, len(statuses))
	for i, st := range statuses {
		parts[i] = strconv.Itoa(st) + ":" + strconv.Itoa(sm.status[st])
	}
	obj := fmt.Sprintf("suppressed=%d status=%s", sm.n, strings.Join(parts, ","))
	if len(sm.matters) > 0 {
		ms := slices.Sorted(slices.Values(sm.matters))
		if sm.more > 0 {
			ms = append(ms, "+"+strconv.Itoa(sm.more))
		}
		obj += " matters=" + strings.Join(ms, ",")
	}
	if sm.key == otherSources {
		obj += " sources=" + strconv.Itoa(sm.sources)
		if sm.untracked {
			obj += "+"
		}
	}
	return obj
}

// summarizeFailures writes the counted refusals as auth.failures records
// every interval, and once more when ctx ends (within the shutdown's
// grace). It runs apart from the store poll, so a slow audit store delays
// summaries, never the deny list.
func (s *Server) summarizeFailures(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			s.flushFailures(fctx)
			cancel()
			return
		case <-t.C:
			s.flushFailures(ctx)
		}
	}
}

// flushFailures writes the counted refusals as summary records; counts
// whose record cannot be written are kept for the next flush.
func (s *Server) flushFailures(ctx context.Context) {
	now := time.Now()
	for _, sm := range s.collapse.take() {
		obj := sm.object()
		status := 0
		for st := range sm.status {
			status = max(status, st)
		}
		rec := audit.Record{Time: now, Source: sm.key, Action: "auth.failures", Object: obj,
			Result: audit.ResultDenied, Status: status, RequestID: newRequestID()}
		if len(sm.matters) == 1 && sm.more == 0 {
			rec.Matter = sm.matters[0]
		}
		if err := s.auditLog.AppendAudit(ctx, &rec); err != nil {
			s.metrics.auditAppends.WithLabelValues("error").Inc()
			s.log.Warn("audit summary of refused requests not written; kept for the next try", "source", sm.key, "object", obj, "err", err)
			s.collapse.putBack(sm)
			continue
		}
		s.metrics.auditAppends.WithLabelValues("ok").Inc()
	}
}
