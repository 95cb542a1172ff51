package gateway

// The admin routes of a matter's lifecycle: retention policies, what a
// matter's storage holds, and runs of purge and garbage collection
// (gateway/lifecycle does the work; docs/LIFECYCLE.md).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/lifecycle"
	"github.com/mattersync/mattersync/gateway/store"
)

// startLifecycle builds the lifecycle runner (Run starts it), if the
// bucket can be listed and deleted from.
func (s *Server) startLifecycle(d Deps, reg prometheus.Registerer) error {
	lb := d.LifecycleBlobs
	if lb == nil {
		lb, _ = d.Blobs.(lifecycle.Blobs)
	}
	if lb == nil {
		s.log.Warn("lifecycle off: the blob store cannot list or delete objects (purge, garbage collection and their routes are unavailable)")
		return nil
	}
	r, err := lifecycle.New(s.cfg.Lifecycle, d.Stores.Lifecycle, lb, lifecycle.Options{Logger: s.log, Registerer: reg, SigningKey: d.SigningKey})
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	s.lifecycle = r
	// Objects written while their matter is on hold carry the storage's
	// legal hold from the start, if the bucket has Object Lock.
	hc, ok := d.Blobs.(heldCreator)
	lh, lok := lb.(lifecycle.LegalHolds)
	if !ok || !lok {
		s.log.Warn("legal holds are not enforced by the storage: the blob store cannot write objects under legal hold")
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	locked, err := lh.ObjectLockEnabled(ctx)
	switch {
	case err != nil:
		s.log.Warn("cannot tell whether the bucket has S3 Object Lock; assuming it has", "err", err)
	case !locked:
		s.log.Error("the bucket has no S3 Object Lock: legal holds are not enforced by the storage (docs/LIFECYCLE.md, \"The bucket\")")
		return nil
	}
	s.blobs = heldBlobs{Blobs: s.blobs, held: hc, holds: s.holds}
	return nil
}

// heldCreator writes objects under the storage's legal hold (blob.Store,
// memblob).
type heldCreator interface {
	CreateHeld(ctx context.Context, key string, r io.Reader, size int64, sum [32]byte) error
	SetLegalHold(ctx context.Context, key, versionID string, on bool) error
}

// heldBlobs writes an object of a matter on hold under the storage's legal
// hold. It reads the hold before and after the write: a hold set or lifted
// during the write is carried to the object here, and one set before the
// write's first read finds it in the lifecycle's pass over the matter's
// objects, which lists them after the hold was set.
type heldBlobs struct {
	Blobs
	held  heldCreator
	holds HoldStore
}

func (b heldBlobs) Create(ctx context.Context, key string, r io.Reader, size int64, sum [32]byte) error {
	m := blob.ParseKey(key).Matter
	if m == "" {
		return b.Blobs.Create(ctx, key, r, size, sum)
	}
	before, err := b.holds.Hold(ctx, m)
	if err != nil {
		return err
	}
	if before.On {
		err = b.held.CreateHeld(ctx, key, r, size, sum)
	} else {
		err = b.Blobs.Create(ctx, key, r, size, sum)
	}
	if err != nil {
		return err
	}
	after, err := b.holds.Hold(ctx, m)
	if err != nil {
		return err
	}
	if after.On != before.On {
		return b.held.SetLegalHold(ctx, key, "", after.On)
	}
	return nil
}

// lifecycleRoutes registers the lifecycle's admin routes.
func (s *Server) lifecycleRoutes() {
	s.handle("/v1/admin/matters/{m}/retention", map[string]method{
		http.MethodGet:    {"admin.retention.get", permAdmin, s.unscreened(s.retentionGet)},
		http.MethodPut:    {"admin.retention.set", permAdmin, s.unscreened(s.retentionSet)},
		http.MethodDelete: {"admin.retention.clear", permAdmin, s.unscreened(s.retentionClear)},
	})
	s.handle("/v1/admin/matters/{m}/hold/storage", map[string]method{
		http.MethodGet: {"admin.hold.storage", permAdmin, s.unscreened(s.holdStorage)},
	})
	s.handle("/v1/admin/matters/{m}/shred", map[string]method{
		http.MethodGet:  {"admin.shred.get", permAdmin, s.unscreened(s.shredGet)},
		http.MethodPost: {"admin.shred", permAdmin, s.unscreened(s.shredPost)},
	})
	s.handle("/v1/admin/matters/{m}/storage", map[string]method{
		http.MethodGet: {"admin.storage.usage", permAdmin, s.unscreened(s.storageGet)},
	})
	s.handle("/v1/admin/storage/runs", map[string]method{
		http.MethodGet:  {"admin.storage.runs", permAdmin, s.runList},
		http.MethodPost: {"admin.storage.gc", permAdmin, s.runAdd},
	})
	s.handle("/v1/admin/storage/runs/{id}", map[string]method{
		http.MethodGet: {"admin.storage.run", permAdmin, s.runGet},
	})
}

// lifecycleOff refuses a lifecycle route when the runner is off.
func (s *Server) lifecycleOff(op string) error {
	if s.lifecycle == nil {
		return E(op, KindUnavailable, "the lifecycle is off on this gateway: its blob store cannot list or delete objects")
	}
	return nil
}

// retention is matter's policy as it applies, with its source.
func (s *Server) retention(r *http.Request, op, matter string) (api.Retention, error) {
	st := s.cfg.Lifecycle
	mr, ok, err := s.lifecycleStores().Retention.MatterRetention(r.Context(), matter)
	if err != nil {
		return api.Retention{}, storeErr(op, err)
	}
	h, err := s.holds.Hold(r.Context(), matter)
	if err != nil {
		return api.Retention{}, storeErr(op, err)
	}
	out := api.Retention{Matter: matter, VersionsDays: st.Retention.VersionsDays, MinVersions: st.Retention.MinVersions,
		DeletedDays: st.Retention.DeletedDays, Source: api.RetentionFirm, Hold: h.On}
	if ok {
		out.VersionsDays, out.MinVersions, out.DeletedDays = mr.VersionsDays, mr.MinVersions, mr.DeletedDays
		out.Source, out.Reason, out.SetBy, out.Time = api.RetentionMatter, mr.Reason, mr.SetBy, mr.Time
	}
	return out, nil
}

// lifecycleStores is the store's lifecycle roles.
func (s *Server) lifecycleStores() lifecycle.Stores { return s.lifecycleRoles }

func (s *Server) retentionGet(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.retention.get"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	out, err := s.retention(r, op, rq.matter)
	if err != nil {
		return err
	}
	rq.rec.Object = "matter=" + rq.matter
	return s.respond(r.Context(), w, rq, http.StatusOK, out)
}

// retentionObject is a policy change's audit object: the matter, the
// policy and why, so the log alone says who changed what and why.
func retentionObject(matter string, p *store.Retention, reason string) string {
	o := "matter=" + matter
	if p != nil {
		o += fmt.Sprintf(" versions_days=%d min_versions=%d deleted_days=%d", p.VersionsDays, p.MinVersions, p.DeletedDays)
	} else {
		o += " policy=firm"
	}
	o += " reason=" + strconv.Quote(reason)
	if len(o) > 512 {
		o = o[:512]
	}
	return o
}

// retentionReason reads a retention change's body and checks its reason.
func retentionReason(w http.ResponseWriter, r *http.Request, op string) (api.RetentionRequest, error) {
	var req api.RetentionRequest
	if _, err := queryParams(r, op); err != nil {
		return req, err
	}
	if err := decodeJSON(w, r, op, 16<<10, &req); err != nil {
		return req, err
	}
	if strings.TrimSpace(req.Reason) == "" || !validText(req.Reason, 1024) {
		return req, E(op, KindInvalid, `reason is required (at most 1024 characters): who asked, or which rule applies`)
	}
	return req, nil
}

func (s *Server) retentionSet(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.retention.set"
	req, err := retentionReason(w, r, op)
	if err != nil {
		return err
	}
	// Fields left out keep what applies now.
	cur, err := s.retention(r, op, rq.matter)
	if err != nil {
		return err
	}
	p := store.Retention{VersionsDays: cur.VersionsDays, MinVersions: cur.MinVersions, DeletedDays: cur.DeletedDays}
	for _, f := range []struct {
		v   *int
		dst *int
	}{{req.VersionsDays, &p.VersionsDays}, {req.MinVersions, &p.MinVersions}, {req.DeletedDays, &p.DeletedDays}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	if req.VersionsDays == nil && req.MinVersions == nil && req.DeletedDays == nil {
		return E(op, KindInvalid, "give at least one of versions_days, min_versions, deleted_days")
	}
	if err := p.Validate(); err != nil {
		return wrap(op, KindInvalid, err, "retention policy refused: "+strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	rq.rec.Object = retentionObject(rq.matter, &p, req.Reason)
	rq.rec.Status, rq.rec.Result = http.StatusOK, audit.ResultOK
	mr := store.MatterRetention{Matter: rq.matter, Retention: p, Reason: req.Reason, SetBy: rq.ident.User, Time: time.Now()}
	if err := s.lifecycleStores().Retention.SetRetention(r.Context(), mr, &rq.rec); err != nil {
		return storeErr(op, err)
	}
	s.mutated(rq)
	writeJSON(w, http.StatusOK, api.Retention{Matter: rq.matter, VersionsDays: p.VersionsDays, MinVersions: p.MinVersions, DeletedDays: p.DeletedDays,
		Source: api.RetentionMatter, Reason: mr.Reason, SetBy: mr.SetBy, Time: mr.Time.UTC().Truncate(time.Microsecond), Hold: cur.Hold})
	return nil
}

func (s *Server) retentionClear(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.retention.clear"
	req, err := retentionReason(w, r, op)
	if err != nil {
		return err
	}
	if req.VersionsDays != nil || req.MinVersions != nil || req.DeletedDays != nil {
		return E(op, KindInvalid, "DELETE returns the matter to the firm's policy: give only a reason")
	}
	rq.rec.Object = retentionObject(rq.matter, nil, req.Reason)
	rq.rec.Status, rq.rec.Result = http.StatusOK, audit.ResultOK
	removed, err := s.lifecycleStores().Retention.ClearRetention(r.Context(), rq.matter, &rq.rec)
	if err != nil {
		return storeErr(op, err)
	}
	if !removed {
		rq.rec.Status, rq.rec.Result = 0, ""
		return E(op, KindNotFound, "matter %s has no retention policy of its own: the firm's applies", rq.matter)
	}
	s.mutated(rq)
	out, err := s.retention(r, op, rq.matter)
	if err != nil {
		// Changed and audited; the answer is what cannot be read.
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) storageGet(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.storage.usage"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	u, err := s.lifecycleStores().Collector.LifecycleUsage(r.Context(), rq.matter)
	if err != nil {
		return storeErr(op, err)
	}
	h, err := s.holds.Hold(r.Context(), rq.matter)
	if err != nil {
		return storeErr(op, err)
	}
	out := api.Storage{Matter: rq.matter, LiveObjects: u.LiveChunks + u.LiveManifests, LiveBytes: u.LiveChunkBytes + u.LiveBytes,
		OldObjects: u.OldChunks + u.OldManifests, OldBytes: u.OldChunkBytes + u.OldBytes, GarbageObjects: u.Garbage, GarbageBytes: u.GarbageBytes,
		QueuedObjects: u.Doomed, QueuedBytes: u.DoomedBytes, Hold: h.On, GraceHours: int64(s.cfg.Lifecycle.Grace / time.Hour)}
	if h.On {
		out.HeldObjects = out.LiveObjects + out.OldObjects + out.GarbageObjects + out.QueuedObjects
	}
	rq.rec.Object = "matter=" + rq.matter
	return s.respond(r.Context(), w, rq, http.StatusOK, out)
}

func runBody(r store.LifecycleRun) api.Run {
	out := api.Run{ID: r.ID, Matter: r.Matter, DryRun: r.DryRun, RequestedBy: r.RequestedBy, State: r.State, Replica: r.Replica,
		Progress: r.Progress, Error: r.Error, Requested: r.Requested, Started: r.Started, Updated: r.Updated}
	if r.Summary != "" {
		var sum api.RunSummary
		if json.Unmarshal([]byte(r.Summary), &sum) == nil {
			out.Summary = &sum
		}
	}
	return out
}

func (s *Server) runAdd(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.storage.gc"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	if err := s.lifecycleOff(op); err != nil {
		return err
	}
	var req api.RunRequest
	if err := decodeJSON(w, r, op, 16<<10, &req); err != nil {
		return err
	}
	if req.Matter != "" {
		if err := format.ValidateMatterID(req.Matter); err != nil {
			return E(op, KindInvalid, "invalid matter ID (1 to %d of a-z, 0-9 and inner '-')", format.MaxMatterIDLen)
		}
		if screenedFrom(rq.ident, req.Matter) {
			s.metrics.denials.WithLabelValues("forbidden").Inc()
			return E(op, KindForbidden, "screened from matter %s (ethical wall)", req.Matter)
		}
		rq.rec.Matter = req.Matter
	}
	rq.rec.Status, rq.rec.Result = http.StatusAccepted, audit.ResultOK
	run := store.LifecycleRun{Matter: req.Matter, DryRun: req.DryRun, RequestedBy: rq.ident.User, State: store.RunRequested, Requested: time.Now()}
	id, err := s.lifecycleStores().Runs.AddRun(r.Context(), run, &rq.rec)
	if err != nil {
		return storeErr(op, err)
	}
	s.mutated(rq)
	run.ID = id
	run.Requested = run.Requested.UTC().Truncate(time.Microsecond)
	w.Header().Set("Location", "/v1/admin/storage/runs/"+strconv.FormatInt(id, 10))
	writeJSON(w, http.StatusAccepted, runBody(run))
	return nil
}

func (s *Server) runGet(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.storage.run"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		rq.rec.Object = quoteBad(r.PathValue("id"))
		return E(op, KindInvalid, "run ID must be a positive integer")
	}
	rq.rec.Object = "run=" + strconv.FormatInt(id, 10)
	run, err := s.lifecycleStores().Runs.LifecycleRun(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return E(op, KindNotFound, "no run %d", id)
	}
	if err != nil {
		return storeErr(op, err)
	}
	return s.respond(r.Context(), w, rq, http.StatusOK, runBody(run))
}

func (s *Server) runList(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.storage.runs"
	q, err := queryParams(r, op, "limit")
	if err != nil {
		return err
	}
	limit, err := intParam(q, op, "limit", 20, 1, 1000)
	if err != nil {
		return err
	}
	runs, err := s.lifecycleStores().Runs.LifecycleRuns(r.Context(), int(limit))
	if err != nil {
		return storeErr(op, err)
	}
	out := api.Runs{Runs: make([]api.Run, len(runs))}
	for i, run := range runs {
		out.Runs[i] = runBody(run)
	}
	return s.respond(r.Context(), w, rq, http.StatusOK, out)
}

// Lifecycle returns the server's lifecycle runner, nil if the lifecycle is
// off (benchmarks and tests run passes with it directly).
func (s *Server) Lifecycle() *lifecycle.Runner { return s.lifecycle }

func (s *Server) holdStorage(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.hold.storage"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	ws, err := s.lifecycleStores().Worm.Worm(r.Context(), rq.matter)
	if err != nil {
		return storeErr(op, err)
	}
	rq.rec.Object = "matter=" + rq.matter
	return s.respond(r.Context(), w, rq, http.StatusOK, api.HoldStorage{Matter: rq.matter, On: ws.On, State: string(ws.State),
		Objects: ws.Objects, Error: ws.Error, Updated: ws.Time})
}

// shredBody is a matter's shred state, with its destruction record once
// there is one.
func (s *Server) shredBody(r *http.Request, op, matter string) (api.Shred, error) {
	st, err := s.lifecycleStores().Shred.ShredState(r.Context(), matter)
	if err != nil {
		return api.Shred{}, storeErr(op, err)
	}
	out := api.Shred{Matter: matter, Shredded: st.Time, By: st.By, Reason: st.Reason, DeletedObjects: st.Objects, DeletedBytes: st.Bytes}
	d, err := s.lifecycleStores().Shred.Destruction(r.Context(), matter)
	switch {
	case err == nil:
		out.Destruction = &api.Destruction{Record: d.Record, KeyID: d.KeyID, Signature: d.Signature}
	case !errors.Is(err, store.ErrNotFound):
		return out, storeErr(op, err)
	}
	return out, nil
}

func (s *Server) shredGet(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.shred.get"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	out, err := s.shredBody(r, op, rq.matter)
	if err != nil {
		return err
	}
	rq.rec.Object = "matter=" + rq.matter
	return s.respond(r.Context(), w, rq, http.StatusOK, out)
}

// shredPost removes every record of a closed matter's storage and starts
// the run that deletes its objects; a matter on hold is refused. The
// matter's key is the admin's to delete first (mattersync-admin matter
// close --shred): the gateway holds none.
func (s *Server) shredPost(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.shred"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	if err := s.lifecycleOff(op); err != nil {
		return err
	}
	var req api.ShredRequest
	if err := decodeJSON(w, r, op, 16<<10, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Reason) == "" || !validText(req.Reason, 1024) {
		return E(op, KindInvalid, `reason is required (at most 1024 characters), as {"reason": "..."}`)
	}
	rq.rec.Status, rq.rec.Result = http.StatusAccepted, audit.ResultOK
	sh, run, err := s.lifecycle.Shred(r.Context(), rq.matter, rq.ident.User, req.Reason, &rq.rec)
	if errors.Is(err, store.ErrLegalHold) {
		rq.rec.Status, rq.rec.Result = 0, ""
		return wrap(op, KindLegalHold, err, "the matter is under legal hold: shredding is refused")
	}
	if err != nil && sh.Time.IsZero() {
		return storeErr(op, err)
	}
	s.mutated(rq)
	// Closed before it was shredded, so its shares were revoked then;
	// this catches any a failed revocation left.
	s.revokeSharesOf(r.Context(), store.ShareFilter{Matter: rq.matter}, rq.ident.User, "matter shredded", rq)
	if err != nil {
		// Shredded and audited; the run starts with the next scheduled one.
		s.log.Error("shred: run not recorded", "matter", rq.matter, "err", err)
	}
	out, berr := s.shredBody(r, op, rq.matter)
	if berr != nil {
		return berr
	}
	out.Files, out.Versions, out.Chunks, out.Run = sh.Files, sh.Versions, sh.Chunks, run
	writeJSON(w, http.StatusAccepted, out)
	return nil
}
