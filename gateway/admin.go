package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/store"
)

// HoldStore keeps each matter's legal hold (the hold handlers).
type HoldStore interface {
	// Hold returns a matter's legal hold (off if never set).
	Hold(ctx context.Context, matter string) (store.Hold, error)
	// SetHold sets or clears a matter's legal hold and adds it to the
	// matter's hold history.
	SetHold(ctx context.Context, h store.Hold, rec *audit.Record) error
	// Holds returns every matter on legal hold, by matter ID.
	Holds(ctx context.Context) ([]store.Hold, error)
	// HoldHistory returns every hold on and off of a matter, oldest
	// first (since the history was kept).
	HoldHistory(ctx context.Context, matter string) ([]store.Hold, error)
}

// EpochStore keeps each matter's key epoch (the epoch handlers, and every
// upload, which checkEpoch refuses below it).
type EpochStore interface {
	// Epoch returns a matter's current epoch: the highest SetEpoch set, 0
	// if none yet. Commits never change it.
	Epoch(ctx context.Context, matter string) (uint32, error)
	// SetEpoch raises a matter's epoch to epoch and returns the one it
	// replaces. Epochs never go down: an epoch below the current one is
	// refused with *store.StaleEpochError (whose Current is also
	// returned); the current one again is a no-op (still audited).
	SetEpoch(ctx context.Context, matter string, epoch uint32, rec *audit.Record) (previous uint32, err error)
}

// UsageStore counts what a matter stores (the usage handler).
type UsageStore interface {
	Usage(ctx context.Context, matter string) (store.Usage, error)
}

// screenedFrom tells whether id is screened from matter: its groups
// include matter-<id>-screened (auth.RolesFromGroups), which takes the
// matter from whatever else it grants, administrators included.
func screenedFrom(id *auth.Identity, matter string) bool {
	return slices.Contains(id.Groups, "matter-"+matter+"-screened")
}

// screenedMatters lists the matters id is screened from.
func screenedMatters(id *auth.Identity) []string {
	var out []string
	for _, g := range id.Groups {
		if rest, ok := strings.CutPrefix(g, "matter-"); ok {
			if m, ok := strings.CutSuffix(rest, "-screened"); ok && format.ValidateMatterID(m) == nil {
				out = append(out, m)
			}
		}
	}
	return out
}

// unscreened refuses the admin routes of a matter to an administrator
// screened from it (issue 19: an ethical wall kept the walled matter's
// hold, epoch and usage routes open to a screened admin). The refusal is
// audited like any other.
func (s *Server) unscreened(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, rq *request) error {
		if screenedFrom(rq.ident, rq.matter) {
			s.metrics.denials.WithLabelValues("forbidden").Inc()
			return E("auth", KindForbidden, "screened from matter %s (ethical wall)", rq.matter)
		}
		return h(w, r, rq)
	}
}

// validEntity accepts Vault entity IDs (UUIDs) and similar opaque IDs.
func validEntity(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validText bounds free text (names, reasons) kept in the store.
func validText(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func (s *Server) denyList(w http.ResponseWriter, r *http.Request, rq *request) error {
	if _, err := queryParams(r, "admin.deny.list"); err != nil {
		return err
	}
	entries, _, err := s.deny.DenyList(r.Context())
	if err != nil {
		return storeErr("admin.deny.list", err)
	}
	floors, _, err := s.deny.TokenFloors(r.Context())
	if err != nil {
		return storeErr("admin.deny.list", err)
	}
	resp := api.DenyList{Entries: make([]api.DenyEntry, len(entries)), Reissue: make([]api.Reissue, len(floors))}
	for i, e := range entries {
		resp.Entries[i] = api.DenyEntry{EntityID: e.Entity, Name: e.Name, Reason: e.Reason, CreatedBy: e.CreatedBy, Time: e.Time}
	}
	for i, f := range floors {
		resp.Reissue[i] = reissueBody(f)
	}
	return s.respond(r.Context(), w, rq, http.StatusOK, resp)
}

func (s *Server) denyAdd(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.deny.add"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	var req api.DenyRequest
	if err := decodeJSON(w, r, op, 16<<10, &req); err != nil {
		return err
	}
	if !validEntity(req.EntityID) {
		return E(op, KindInvalid, "entity_id must be 1 to 128 of A-Z, a-z, 0-9, '-', '_', '.'")
	}
	if !validText(req.Name, 256) || !validText(req.Reason, 1024) {
		return E(op, KindInvalid, "name (256) or reason (1024) too long or has control characters")
	}
	rq.rec.Object = "entity:" + req.EntityID
	rq.rec.Status, rq.rec.Result = http.StatusCreated, audit.ResultOK
	entry := api.DenyEntry{EntityID: req.EntityID, Name: req.Name, Reason: req.Reason, CreatedBy: rq.ident.User}
	created, gen, err := s.deny.AddDeny(r.Context(), store.DenyEntry{Entity: req.EntityID, Name: req.Name, Reason: req.Reason,
		CreatedBy: rq.ident.User, Time: time.Now()}, &rq.rec)
	if err != nil {
		return storeErr(op, err)
	}
	s.live.setDenied(gen, req.EntityID, true)
	s.clearDenied(r.Context(), req.EntityID, rq.rec.RequestID)
	// A revoked user's links stop working too (each share.revoke
	// recorded); on every deny, so a retry after a failure revokes what
	// the first attempt left.
	s.revokeSharesOf(r.Context(), store.ShareFilter{Entity: req.EntityID}, rq.ident.User, "user revoked", rq)
	if !created {
		// Already denied: nothing changed; audited as answered.
		return s.respond(r.Context(), w, rq, http.StatusOK, entry)
	}
	s.mutated(rq)
	writeJSON(w, http.StatusCreated, entry)
	return nil
}

// entityParam validates the {entity} path value, records it and refuses
// any query parameter.
func entityParam(r *http.Request, rq *request, op string) (string, error) {
	entity := r.PathValue("entity")
	if !validEntity(entity) {
		rq.rec.Object = quoteBad(entity)
		return "", E(op, KindInvalid, "invalid entity ID")
	}
	if _, err := queryParams(r, op); err != nil {
		return "", err
	}
	return entity, nil
}

func (s *Server) denyRemove(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.deny.remove"
	entity, err := entityParam(r, rq, op)
	if err != nil {
		return err
	}
	rq.rec.Object = "entity:" + entity
	rq.rec.Status, rq.rec.Result = http.StatusNoContent, audit.ResultOK
	removed, gen, err := s.deny.RemoveDeny(r.Context(), entity, &rq.rec)
	if err != nil {
		return storeErr(op, err)
	}
	if !removed {
		// Nothing changed; audited as answered (404).
		rq.rec.Status, rq.rec.Result = 0, ""
		return E(op, KindNotFound, "entity is not on the deny list")
	}
	s.mutated(rq)
	s.live.setDenied(gen, entity, false)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func reissueBody(f store.TokenFloor) api.Reissue {
	return api.Reissue{EntityID: f.Entity, NotBefore: f.NotBefore, Reason: f.Reason, SetBy: f.SetBy, Time: f.Time}
}

// denyReissue makes every replica refuse the entity's identity tokens
// issued until now: after a matter remove or screen, its devices must fetch
// a new token, which no longer carries the group, instead of using the old
// one until it expires.
func (s *Server) denyReissue(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.deny.reissue"
	entity, err := entityParam(r, rq, op)
	if err != nil {
		return err
	}
	var req api.ReissueRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, op, 16<<10, &req); err != nil {
			return err
		}
	}
	if !validText(req.Reason, 1024) {
		return E(op, KindInvalid, "reason (1024) too long or has control characters")
	}
	rq.rec.Object = "entity:" + entity
	rq.rec.Status, rq.rec.Result = http.StatusOK, audit.ResultOK
	now := time.Now()
	f, gen, err := s.deny.SetTokenFloor(r.Context(), store.TokenFloor{Entity: entity, NotBefore: now, Reason: req.Reason,
		SetBy: rq.ident.User, Time: now}, &rq.rec)
	if err != nil {
		return storeErr(op, err)
	}
	s.mutated(rq)
	s.live.setFloor(gen, entity, f.NotBefore)
	writeJSON(w, http.StatusOK, reissueBody(f))
	return nil
}

func holdBody(h store.Hold) api.Hold {
	return api.Hold{Matter: h.Matter, On: h.On, Reason: h.Reason, Case: h.Case, ChangedBy: h.ChangedBy, Time: h.Time}
}

// holdList answers every matter on hold, but those the administrator is
// screened from (their reasons name the walled case).
func (s *Server) holdList(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.hold.list"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	hs, err := s.holds.Holds(r.Context())
	if err != nil {
		return storeErr(op, err)
	}
	out := api.Holds{Holds: []api.Hold{}}
	for _, h := range hs {
		if !screenedFrom(rq.ident, h.Matter) {
			out.Holds = append(out.Holds, holdBody(h))
		}
	}
	rq.rec.Object = strconv.Itoa(len(out.Holds)) + " holds"
	return s.respond(r.Context(), w, rq, http.StatusOK, out)
}

func (s *Server) holdHistory(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.hold.history"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	hs, err := s.holds.HoldHistory(r.Context(), rq.matter)
	if err != nil {
		return storeErr(op, err)
	}
	out := api.HoldHistory{Matter: rq.matter, History: make([]api.Hold, len(hs))}
	for i, h := range hs {
		out.History[i] = holdBody(h)
	}
	rq.rec.Object = "matter=" + rq.matter
	return s.respond(r.Context(), w, rq, http.StatusOK, out)
}

// holdObject is a hold change's audit object: the matter, the reason and
// the case, so the log alone says which hold changed and why.
func holdObject(matter string, req api.HoldRequest) string {
	o := "matter=" + matter + " reason=" + strconv.Quote(req.Reason)
	if req.Case != "" {
		o += " case=" + strconv.Quote(req.Case)
	}
	if len(o) > 512 {
		o = o[:512]
	}
	return o
}

func (s *Server) holdGet(w http.ResponseWriter, r *http.Request, rq *request) error {
	if _, err := queryParams(r, "admin.hold.get"); err != nil {
		return err
	}
	h, err := s.holds.Hold(r.Context(), rq.matter)
	if err != nil {
		return storeErr("admin.hold.get", err)
	}
	return s.respond(r.Context(), w, rq, http.StatusOK, holdBody(h))
}

func (s *Server) holdSet(on bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, rq *request) error {
		op := "admin.hold.off"
		if on {
			op = "admin.hold.on"
		}
		if _, err := queryParams(r, op); err != nil {
			return err
		}
		// A reason is required to set a hold and to release it (issue 21:
		// a release used to erase the reason), both kept in the history.
		var req api.HoldRequest
		if err := decodeJSON(w, r, op, 16<<10, &req); err != nil {
			return err
		}
		if strings.TrimSpace(req.Reason) == "" || !validText(req.Reason, 1024) {
			return E(op, KindInvalid, `reason is required (at most 1024 characters), as {"reason": "...", "case": "..."}`)
		}
		if !validText(req.Case, 256) {
			return E(op, KindInvalid, "case (256) too long or has control characters")
		}
		rq.rec.Object = holdObject(rq.matter, req)
		h := store.Hold{Matter: rq.matter, On: on, Reason: req.Reason, Case: req.Case, ChangedBy: rq.ident.User, Time: time.Now()}
		rq.rec.Status, rq.rec.Result = http.StatusOK, audit.ResultOK
		if err := s.holds.SetHold(r.Context(), h, &rq.rec); err != nil {
			return storeErr(op, err)
		}
		s.mutated(rq)
		writeJSON(w, http.StatusOK, holdBody(h))
		return nil
	}
}

func (s *Server) epochGet(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.epoch.get"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	e, err := s.epochs.Epoch(r.Context(), rq.matter)
	if err != nil {
		return storeErr(op, err)
	}
	return s.respond(r.Context(), w, rq, http.StatusOK, api.Epoch{Matter: rq.matter, Epoch: e})
}

// epochSet raises a matter's epoch after a rotation, so agents whose key
// caches still hold the old epoch have their uploads refused at once.
func (s *Server) epochSet(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.epoch.set"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	var req api.EpochRequest
	if err := decodeJSON(w, r, op, 16<<10, &req); err != nil {
		return err
	}
	if req.Epoch == 0 {
		return E(op, KindInvalid, "epoch must be an integer from 1 to %d", ^uint32(0))
	}
	rq.rec.Object = "epoch=" + strconv.FormatUint(uint64(req.Epoch), 10)
	rq.rec.Status, rq.rec.Result = http.StatusOK, audit.ResultOK
	prev, err := s.epochs.SetEpoch(r.Context(), rq.matter, req.Epoch, &rq.rec)
	var stale *store.StaleEpochError
	if errors.As(err, &stale) {
		return &Error{Op: op, Kind: KindStaleEpoch, CurrentEpoch: stale.Current, Err: err,
			Msg: fmt.Sprintf("matter %s is at epoch %d: epochs are never lowered (asked for %d)", rq.matter, stale.Current, req.Epoch)}
	}
	if err != nil {
		return storeErr(op, err)
	}
	s.mutated(rq)
	writeJSON(w, http.StatusOK, api.Epoch{Matter: rq.matter, Epoch: req.Epoch, Previous: prev})
	return nil
}

func (s *Server) usageGet(w http.ResponseWriter, r *http.Request, rq *request) error {
	if _, err := queryParams(r, "admin.usage"); err != nil {
		return err
	}
	u, err := s.usage.Usage(r.Context(), rq.matter)
	if err != nil {
		return storeErr("admin.usage", err)
	}
	return s.respond(r.Context(), w, rq, http.StatusOK, api.Usage{Matter: rq.matter, Chunks: u.Chunks, ChunkBytes: u.ChunkBytes,
		Files: u.Files, Versions: u.Versions, ManifestBytes: u.ManifestBytes, Seq: u.Seq})
}

// timeParam parses an RFC 3339 time into Unix microseconds (0 if absent).
func timeParam(v, op, name string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return 0, E(op, KindInvalid, "%s must be an RFC 3339 time", name)
	}
	return t.UnixMicro(), nil
}

// actionsParam parses the export's action filter: up to 16 actions,
// comma-separated, each as the gateway names them (file.commit,
// admin.console.signin). The console's Audit page sends one.
func actionsParam(v, op string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	actions := strings.Split(v, ",")
	if len(actions) > 16 {
		return nil, E(op, KindInvalid, "at most 16 actions")
	}
	for _, a := range actions {
		if a == "" || len(a) > 64 || strings.Trim(a, "abcdefghijklmnopqrstuvwxyz0123456789._-") != "" {
			return nil, E(op, KindInvalid, "action must be a comma-separated list of actions such as file.commit")
		}
	}
	return actions, nil
}

// auditExport streams matching records as JSON lines, in sequence order.
// The export request's own record is written first (fail closed).
func (s *Server) auditExport(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.audit.export"
	q, err := queryParams(r, op, "since", "until", "matter", "user", "entity", "action", "result", "after_seq", "limit")
	if err != nil {
		return err
	}
	var aq audit.Query
	if aq.Since, err = timeParam(q.Get("since"), op, "since"); err != nil {
		return err
	}
	if aq.Until, err = timeParam(q.Get("until"), op, "until"); err != nil {
		return err
	}
	after, err := intParam(q, op, "after_seq", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	limit, err := intParam(q, op, "limit", 0, 0, 1<<30)
	if err != nil {
		return err
	}
	aq.AfterSeq, aq.Limit = after, int(limit)
	aq.Matter, aq.User, aq.Entity = q.Get("matter"), q.Get("user"), q.Get("entity")
	if !validText(aq.Matter, 64) || !validText(aq.User, 256) || !validText(aq.Entity, 128) {
		return E(op, KindInvalid, "filter too long or has control characters")
	}
	if aq.Actions, err = actionsParam(q.Get("action"), op); err != nil {
		return err
	}
	switch aq.Result = q.Get("result"); aq.Result {
	case "", audit.ResultOK, audit.ResultDenied, audit.ResultInvalid, audit.ResultConflict, audit.ResultLegalHold, audit.ResultError:
	default:
		return E(op, KindInvalid, "result must be one of ok, denied, invalid, conflict, legal_hold, error")
	}
	rq.rec.Object = r.URL.RawQuery
	if len(rq.rec.Object) > 512 {
		rq.rec.Object = rq.rec.Object[:512]
	}
	// A screened administrator exports one matter at a time, never the
	// walled one: the log of a walled matter says who worked on what.
	if walled := screenedMatters(rq.ident); len(walled) > 0 {
		switch {
		case aq.Matter == "":
			s.metrics.denials.WithLabelValues("forbidden").Inc()
			return E(op, KindForbidden, "screened from matters %s (ethical wall): export with matter=<a matter you are not screened from>, or ask an administrator who is not screened", strings.Join(walled, ", "))
		case slices.Contains(walled, aq.Matter):
			s.metrics.denials.WithLabelValues("forbidden").Inc()
			return E(op, KindForbidden, "screened from matter %s (ethical wall)", aq.Matter)
		}
	}
	if err := s.appendAudit(r.Context(), rq, http.StatusOK, 0); err != nil {
		return err
	}
	s.extendDeadlines(w, rq, 0, time.Hour)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	err = s.auditLog.AuditRecords(r.Context(), aq, func(rec *audit.Record) error { return enc.Encode(rec) })
	if err != nil {
		// The status is out: a truncated export ends without the final
		// line the client expects.
		s.log.Error("audit export cut", "request_id", rq.id, "err", err)
		return nil
	}
	// A last line marks the export complete, so a cut stream is
	// recognisable.
	enc.Encode(map[string]any{"end": true})
	return nil
}

func (s *Server) auditVerify(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.audit.verify"
	q, err := queryParams(r, op, "max_checkpoint_age", "expect")
	if err != nil {
		return err
	}
	opts := audit.VerifyOptions{CheckpointInterval: s.cfg.Audit.CheckpointInterval, Witnesses: s.Witnesses()}
	if v := q.Get("max_checkpoint_age"); q.Has("max_checkpoint_age") {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return E(op, KindInvalid, "max_checkpoint_age must be a positive duration such as 10m")
		}
		opts.MaxCheckpointAge = d
	}
	if v := q.Get("expect"); q.Has("expect") {
		for _, a := range strings.Split(v, ",") {
			anchor, err := audit.ParseAnchor(a)
			if err != nil {
				return E(op, KindInvalid, "expect must be a comma-separated list of <seq>:<hash>")
			}
			opts.Expect = append(opts.Expect, anchor)
		}
		if len(opts.Expect) > 1000 {
			return E(op, KindTooLarge, "at most 1000 expected checkpoints")
		}
	}
	if err := s.appendAudit(r.Context(), rq, http.StatusOK, 0); err != nil {
		return err
	}
	s.extendDeadlines(w, rq, 0, time.Hour)
	rep, err := audit.Verify(r.Context(), s.auditLog, s.keys, opts)
	if err != nil {
		if errors.Is(err, r.Context().Err()) {
			return nil
		}
		s.log.Error("audit verify failed", "request_id", rq.id, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, api.Error{Code: api.CodeUnavailable, Message: "cannot read the audit log", RequestID: rq.id})
		return nil
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}
