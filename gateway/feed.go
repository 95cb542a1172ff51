package gateway

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/alerts"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/auth"
)

// The combined feed: one long poll per agent for all its matters
// (POST /v1/feed), instead of one per matter. It answers which matters
// have news (their head), not the changes themselves: the agent reads
// those with GET …/changes, so the per-matter feed stays the one place
// that pages changes, and this answer stays small whatever happened.
//
// It is checked like the per-matter feed: every matter must be readable
// by the caller (a screened or unknown one refuses the whole request with
// the per-matter feed's 403, audited with the wall marker), the caller is
// checked again at every wake-up and at least every deny_max_staleness
// (revoked: 403 at once; stale deny list: 503), and a closed matter is
// reported as closed (the per-matter feed answers 410) without failing
// the others.

// feedPollKey is the matter key under which a combined feed counts
// against limits.max_long_polls_per_user_matter: at most that many feeds
// per user at once (one per device).
const feedPollKey = "*feed"

// maxFeedObjectMatters bounds the matters named in a feed's audit record.
const maxFeedObjectMatters = 8

// feedBodyLimit bounds the request body: a cursor is at most about 90
// bytes of JSON.
func feedBodyLimit(l Limits) int64 { return int64(l.MaxFeedMatters)*96 + 1024 }

func (s *Server) feed(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "feed"
	q, err := queryParams(r, op, "wait")
	if err != nil {
		return err
	}
	wait, err := s.waitParam(q, op)
	if err != nil {
		return err
	}
	var req api.FeedRequest
	if err := decodeJSON(w, r, op, feedBodyLimit(s.cfg.Limits), &req); err != nil {
		return err
	}
	matters, since, err := s.feedCursors(rq, req)
	if err != nil {
		return err
	}
	// Drops asked for: the matters whose cursor counts them (feed news
	// of file-request uploads, requests.go).
	drops := map[string]int64{}
	var dropMatters []string
	for _, c := range req.Matters {
		if c.Drops != nil && s.drops != nil {
			drops[c.Matter] = *c.Drops
			dropMatters = append(dropMatters, c.Matter)
		}
	}
	if len(matters) == 1 {
		rq.rec.Matter = matters[0]
	}
	rq.rec.Object = "matters=" + strconv.Itoa(len(matters))
	closed := map[string]bool{}
	if s.closed != nil {
		cs, err := s.closed.ClosedMatters(r.Context(), "", matters)
		if err != nil {
			return storeErr(op, err)
		}
		for _, c := range cs {
			closed[c.Matter] = true
		}
	}
	release, ok := s.live.admitPoll(rq.ident.Entity, feedPollKey, s.cfg.Limits.MaxLongPollsPerUser, s.cfg.Limits.MaxLongPollsPerUserMatter)
	if wait > 0 && !ok {
		s.metrics.denials.WithLabelValues("long_polls").Inc()
		return &Error{Op: op, Kind: KindRateLimited, RetryAfter: 5 * time.Second,
			Msg: "too many long polls at once from this user (at most " + strconv.Itoa(s.cfg.Limits.MaxLongPollsPerUserMatter) + " combined feeds): ask without wait, or later"}
	}
	if ok {
		defer release()
	}
	s.extendDeadlines(w, rq, 0, wait)
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	recheck := time.NewTicker(s.cfg.Limits.DenyMaxStaleness)
	defer recheck.Stop()
	for {
		// Take the wake-up channel before reading, so a commit between
		// the read and the wait is not missed.
		wake, stop := s.live.waitAny(matters)
		heads, err := s.files.Heads(r.Context(), matters)
		if err != nil {
			stop()
			return storeErr(op, err)
		}
		var dheads map[string]int64
		if len(dropMatters) > 0 {
			if dheads, err = s.drops.DropHeads(r.Context(), dropMatters); err != nil {
				stop()
				return storeErr(op, err)
			}
		}
		resp := api.Feed{Matters: []api.FeedMatter{}}
		for i, m := range matters {
			known, asked := drops[m]
			if h := heads[m]; closed[m] || h != since[i] || asked && dheads[m] != known {
				fm := api.FeedMatter{Matter: m, Head: h, Closed: closed[m]}
				if asked {
					n := dheads[m]
					fm.Drops = &n
				}
				resp.Matters = append(resp.Matters, fm)
			}
		}
		timedOut, woken := false, false
		for len(resp.Matters) == 0 && wait > 0 && !timedOut && !woken {
			select {
			case <-wake:
				woken = true
			case <-recheck.C:
			case <-deadline.C:
				timedOut = true
			case <-r.Context().Done():
				stop()
				return wrap(op, KindUnavailable, r.Context().Err(), "request cancelled")
			}
			// A caller revoked or stamped during the wait gets nothing
			// more, and a replica that lost the deny list answers nothing.
			if err := s.stillAllowed(op, rq); err != nil {
				stop()
				return err
			}
		}
		stop()
		if woken {
			continue
		}
		rq.rec.Object += feedObject(resp.Matters)
		return s.respond(r.Context(), w, rq, http.StatusOK, resp)
	}
}

// feedCursors validates a feed request: 1 to max_feed_matters cursors,
// valid and distinct matter IDs, since ≥ 0, each matter readable by the
// caller (the same 403 as the per-matter feed otherwise).
func (s *Server) feedCursors(rq *request, req api.FeedRequest) (matters []string, since []int64, err error) {
	const op = "feed"
	switch n := len(req.Matters); {
	case n == 0:
		return nil, nil, E(op, KindInvalid, "matters is empty: name at least one matter")
	case n > s.cfg.Limits.MaxFeedMatters:
		return nil, nil, E(op, KindTooLarge, "%d matters; at most %d in one feed request", n, s.cfg.Limits.MaxFeedMatters)
	}
	seen := make(map[string]bool, len(req.Matters))
	for i, c := range req.Matters {
		if err := format.ValidateMatterID(c.Matter); err != nil {
			rq.rec.Object = quoteBad(c.Matter)
			return nil, nil, E(op, KindInvalid, "matters[%d]: invalid matter ID (1 to %d of a-z, 0-9 and inner '-')", i, format.MaxMatterIDLen)
		}
		if seen[c.Matter] {
			return nil, nil, E(op, KindInvalid, "matters[%d]: matter %s named twice", i, c.Matter)
		}
		seen[c.Matter] = true
		if c.Since < 0 {
			return nil, nil, E(op, KindInvalid, "matters[%d]: since must be at least 0", i)
		}
		if c.Drops != nil && *c.Drops < 0 {
			return nil, nil, E(op, KindInvalid, "matters[%d]: drops must be at least 0", i)
		}
		if rq.ident.Role(c.Matter) == auth.None {
			s.metrics.denials.WithLabelValues("forbidden").Inc()
			rq.rec.Matter = c.Matter
			if slices.Contains(screenedMatters(rq.ident), c.Matter) {
				rq.rec.Object = alerts.ObjectWall // the wall-attempt alert rule
			}
			// The same answer whether or not the matter exists.
			return nil, nil, E(op, KindForbidden, "no access to matter %s", c.Matter)
		}
		matters = append(matters, c.Matter)
		since = append(since, c.Since)
	}
	return matters, since, nil
}

// feedObject names, in the audit record, the matters answered with news
// (at most maxFeedObjectMatters, then "+k"): " news=m:head,…".
func feedObject(ms []api.FeedMatter) string {
	if len(ms) == 0 {
		return ""
	}
	parts := make([]string, 0, min(len(ms), maxFeedObjectMatters)+1)
	for _, m := range ms[:min(len(ms), maxFeedObjectMatters)] {
		v := m.Matter + ":" + strconv.FormatInt(m.Head, 10)
		if m.Closed {
			v += ":closed"
		}
		parts = append(parts, v)
	}
	if len(ms) > maxFeedObjectMatters {
		parts = append(parts, "+"+strconv.Itoa(len(ms)-maxFeedObjectMatters))
	}
	return " news=" + strings.Join(parts, ",")
}
