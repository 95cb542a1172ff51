package gateway

// Presence: who has a document open (docs/API.md, "Presence"). An agent
// that sees an Office owner file or a LibreOffice lock file next to a
// synced document opens a presence on the document's file ID (never its
// name) and refreshes it while the lock file is there; a presence not
// refreshed expires, so a crashed laptop does not hold a document for
// ever. Colleagues' agents long-poll GET /v1/presence and mark their copy
// read-only while it is open elsewhere. Opens, closes and expiries are
// audited.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/store"
)

// PresenceStore keeps who has which document open (sqlcore documents
// each method).
type PresenceStore interface {
	SetPresence(ctx context.Context, p store.Presence, now time.Time, rec *audit.Record) (store.Presence, bool, error)
	ClearPresence(ctx context.Context, matter string, file format.ID, entity, device string, now time.Time, rec *audit.Record) (bool, error)
	Presences(ctx context.Context, now time.Time) ([]store.Presence, int64, error)
	PresenceGen(ctx context.Context) (int64, error)
	ExpirePresence(ctx context.Context, now time.Time, limit int, rec func(store.Presence) *audit.Record) ([]store.Presence, error)
	ClearEntityPresence(ctx context.Context, entity string, rec func(store.Presence) *audit.Record) ([]store.Presence, error)
}

// clearDenied closes every presence of a denied entity (audited
// presence.close, object "<file> denied"): a revoked user's open
// documents must not hold colleagues' copies read-only until they expire.
// A failure is logged: they expire anyway within their TTL.
func (s *Server) clearDenied(ctx context.Context, entity, requestID string) {
	now := time.Now()
	closed, err := s.presence.ClearEntityPresence(ctx, entity, func(p store.Presence) *audit.Record {
		return &audit.Record{Time: now, Entity: p.Entity, User: p.User, Device: p.Device, Matter: p.Matter,
			Action: "presence.close", Object: p.File.String() + " denied", Result: audit.ResultOK, RequestID: requestID}
	})
	if err != nil {
		s.log.Warn("a denied user's presences not closed (they expire by themselves)", "entity", entity, "err", err)
		return
	}
	if len(closed) > 0 {
		s.metrics.auditAppends.WithLabelValues("ok").Add(float64(len(closed)))
		s.presenceHub.changed()
	}
}

// presenceHub is this replica's copy of every presence, reloaded when the
// store's presence generation moves (an open, close or expiry on any
// replica), and the long polls waiting for it to change.
type presenceHub struct {
	store PresenceStore

	mu      sync.Mutex // guards the fields below; held while reloading
	list    []store.Presence
	gen     int64
	stale   bool // reload before the next use
	sweep   bool // an entry of the copy expired: the sweep is due
	waiters int
	wake    chan struct{} // closed and replaced when the copy may have changed
}

func newPresenceHub(st PresenceStore) *presenceHub {
	return &presenceHub{store: st, stale: true, wake: make(chan struct{})}
}

// wait returns a channel closed at the next change, and a func to call
// when the caller stops waiting.
func (h *presenceHub) wait() (<-chan struct{}, func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.waiters++
	return h.wake, func() { h.mu.Lock(); h.waiters--; h.mu.Unlock() }
}

// changed marks the copy stale and wakes the waiters.
func (h *presenceHub) changed() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.changedLocked()
}

func (h *presenceHub) changedLocked() {
	h.stale = true
	close(h.wake)
	h.wake = make(chan struct{})
}

// snapshot returns every presence not expired at now. A refresh neither
// moves the store's generation nor wakes anyone (it changes no answer), so
// the copy may hold an older expiry: the store is read again before a
// presence is taken as expired.
func (h *presenceHub) snapshot(ctx context.Context, now time.Time) ([]store.Presence, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if slices.ContainsFunc(h.list, func(p store.Presence) bool { return !p.Expires.After(now) }) {
		h.stale, h.sweep = true, true
	}
	if h.stale {
		list, gen, err := h.store.Presences(ctx, time.Now())
		if err != nil {
			return nil, err
		}
		h.list, h.gen, h.stale = list, gen, false
	}
	return h.list, nil
}

// run sweeps expired presences (auditing each) and, while long polls
// wait, polls the store's generation for other replicas' changes, every
// interval, until ctx ends.
func (s *Server) runPresence(ctx context.Context, interval time.Duration) {
	h := s.presenceHub
	t := time.NewTicker(interval)
	defer t.Stop()
	lastSweep := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		h.mu.Lock()
		due := h.stale || h.sweep || now.Sub(lastSweep) > 30*time.Second
		h.sweep = false
		for _, p := range h.list {
			due = due || !p.Expires.After(now)
		}
		waiting := h.waiters > 0
		known := h.gen
		h.mu.Unlock()
		if due {
			lastSweep = now
			expired, err := s.presence.ExpirePresence(ctx, now, 500, func(p store.Presence) *audit.Record {
				return &audit.Record{Time: now, Entity: p.Entity, User: p.User, Device: p.Device, Matter: p.Matter,
					Action: "presence.expire", Object: p.File.String(), Result: audit.ResultOK, RequestID: newRequestID()}
			})
			if err != nil && ctx.Err() == nil {
				s.log.Warn("presence sweep failed", "err", err)
			}
			if len(expired) > 0 {
				s.metrics.auditAppends.WithLabelValues("ok").Add(float64(len(expired)))
				h.changed()
				continue
			}
			if err == nil {
				// What the copy took as expired was refreshed: read it
				// again (no wake: no answer changes).
				if _, err := h.snapshot(ctx, now); err != nil && ctx.Err() == nil {
					s.log.Warn("presence reload failed", "err", err)
				}
			}
		}
		if waiting {
			gen, err := s.presence.PresenceGen(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("presence poll failed", "err", err)
				}
				continue
			}
			if gen != known {
				h.changed()
			}
		}
	}
}

// presenceFile parses the request's file ID and device: a presence is a
// device's, so the device header is required.
func presenceFile(r *http.Request, rq *request, op string) (format.ID, error) {
	file, err := parseID(rq, op, "file", r.PathValue("file"))
	if err != nil {
		return file, err
	}
	if rq.rec.Device == "" {
		return file, E(op, KindInvalid, "presence needs the %s header (the device the document is open on)", api.HeaderDevice)
	}
	return file, nil
}

// presencePut opens or refreshes the caller's presence on a file.
func (s *Server) presencePut(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "presence.open"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	file, err := presenceFile(r, rq, op)
	if err != nil {
		return err
	}
	var req api.PresenceRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, op, 1<<10, &req); err != nil {
			return err
		}
	}
	ttl := req.TTLSeconds
	if ttl == 0 {
		ttl = api.DefaultPresenceTTL
	}
	if ttl < api.MinPresenceTTL || ttl > api.MaxPresenceTTL {
		return E(op, KindInvalid, "ttl_seconds must be %d to %d", api.MinPresenceTTL, api.MaxPresenceTTL)
	}
	now := time.Now()
	p := store.Presence{Matter: rq.matter, File: file, Entity: rq.ident.Entity, User: rq.ident.User, Device: rq.rec.Device,
		Expires: now.Add(time.Duration(ttl) * time.Second).UTC().Truncate(time.Microsecond)}
	rq.rec.Status, rq.rec.Result = http.StatusOK, audit.ResultOK
	out, opened, err := s.presence.SetPresence(r.Context(), p, now, &rq.rec)
	if err != nil {
		rq.rec.Status, rq.rec.Result = 0, ""
		rq.rec.Action = op
		switch {
		case errors.Is(err, store.ErrNotFound):
			return E(op, KindNotFound, "no such file in matter %s", rq.matter)
		case errors.Is(err, store.ErrPresenceLimit):
			return wrap(op, KindRateLimited, err, fmt.Sprintf("too many documents open: at most %d per matter and %d in all per user", store.MaxPresencesPerEntityMatter, store.MaxPresencesPerEntity))
		}
		return storeErr(op, err)
	}
	s.mutated(rq)
	if opened {
		// A refresh is not: it changes no answer, and the copy reads the
		// store again before it takes a presence as expired (snapshot).
		s.presenceHub.changed()
	}
	writeJSON(w, http.StatusOK, api.PresenceAnswer{Matter: rq.matter, FileID: file.String(), Open: true, Opened: opened, Since: out.Since, Expires: out.Expires})
	return nil
}

// presenceDelete closes the caller's presence on a file (on this device).
func (s *Server) presenceDelete(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "presence.close"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	file, err := presenceFile(r, rq, op)
	if err != nil {
		return err
	}
	rq.rec.Status, rq.rec.Result = http.StatusOK, audit.ResultOK
	closed, err := s.presence.ClearPresence(r.Context(), rq.matter, file, rq.ident.Entity, rq.rec.Device, time.Now(), &rq.rec)
	if err != nil {
		rq.rec.Status, rq.rec.Result = 0, ""
		return storeErr(op, err)
	}
	s.mutated(rq)
	if closed {
		s.presenceHub.changed()
	}
	writeJSON(w, http.StatusOK, api.PresenceAnswer{Matter: rq.matter, FileID: file.String()})
	return nil
}

// visiblePresence is what id may see of list at now: the presences on its
// matters (screened ones are not among them), their tag, and when the
// first of them expires (zero: none).
// At most maxPresenceList are listed (by matter, file and open time).
func visiblePresence(list []store.Presence, id *auth.Identity, now time.Time) ([]api.OpenDocument, string, time.Time) {
	out := []api.OpenDocument{}
	h := sha256.New()
	var next time.Time
	for _, p := range list {
		if !p.Expires.After(now) || id.Role(p.Matter) == auth.None {
			continue
		}
		if len(out) == maxPresenceList {
			break
		}
		out = append(out, api.OpenDocument{Matter: p.Matter, FileID: p.File.String(), Entity: p.Entity, User: p.User, Device: p.Device, Since: p.Since})
		for _, v := range []string{p.Matter, p.File.String(), p.Entity, p.User, p.Device, strconv.FormatInt(p.Since.UnixMicro(), 10)} {
			h.Write([]byte(strconv.Itoa(len(v)) + ":" + v))
		}
		if next.IsZero() || p.Expires.Before(next) {
			next = p.Expires
		}
	}
	return out, hex.EncodeToString(h.Sum(nil)[:16]), next
}

// maxPresenceList bounds a list answer: a user sees the presences of
// their matters, each user's bounded (store.MaxPresencesPerEntity); past
// this many an agent marks enough copies read-only to be useless anyway.
const maxPresenceList = 1000

// presenceList answers the documents open on the caller's matters; with
// wait and since (the tag of the caller's last answer), it holds the
// request until that answer changes.
func (s *Server) presenceList(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "presence.list"
	q, err := queryParams(r, op, "since", "wait")
	if err != nil {
		return err
	}
	since := q.Get("since")
	if since != "" && (len(since) != 32 || !isLowerHex(since)) {
		return E(op, KindInvalid, "since must be the tag of an earlier answer (32 lowercase hex characters)")
	}
	wait, err := s.waitParam(q, op)
	if err != nil {
		return err
	}
	rq.rec.Object = "since=" + since
	release, err := s.admitLongPoll(op, rq, wait)
	if err != nil {
		return err
	}
	defer release()
	s.extendDeadlines(w, rq, 0, wait)
	deadline := time.Now().Add(wait)
	recheck := time.NewTicker(s.cfg.Limits.DenyMaxStaleness)
	defer recheck.Stop()
	for {
		wake, done := s.presenceHub.wait()
		now := time.Now()
		list, err := s.presenceHub.snapshot(r.Context(), now)
		if err != nil {
			done()
			return storeErr(op, err)
		}
		docs, tag, next := visiblePresence(list, rq.ident, now)
		if tag != since || !now.Before(deadline) {
			done()
			return s.respond(r.Context(), w, rq, http.StatusOK, api.PresenceList{Tag: tag, Open: docs})
		}
		until := deadline
		if !next.IsZero() && next.Before(until) {
			until = next // an entry expires: answer without it
		}
		timer := time.NewTimer(time.Until(until))
		select {
		case <-wake:
		case <-timer.C:
		case <-recheck.C:
		case <-r.Context().Done():
			timer.Stop()
			done()
			return wrap(op, KindUnavailable, r.Context().Err(), "request cancelled")
		}
		timer.Stop()
		done()
		if err := s.stillAllowed(op, rq); err != nil {
			return err
		}
	}
}

func isLowerHex(v string) bool {
	return !slices.ContainsFunc([]byte(v), func(c byte) bool { return !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') })
}

func (s *Server) presenceRoutes() {
	s.handle("/v1/matters/{m}/presence/{file}", map[string]method{
		// Write: a colleague's open makes copies read-only, which a
		// read-only member must not be able to do to the editors.
		http.MethodPut:    {"presence.open", permWrite, s.presencePut},
		http.MethodDelete: {"presence.close", permWrite, s.presenceDelete},
	})
	s.handle("/v1/presence", map[string]method{
		http.MethodGet: {"presence.list", permAny, s.presenceList},
	})
}
