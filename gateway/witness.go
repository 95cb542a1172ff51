package gateway

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

// WitnessStore is what agents witness and what brings them back after a
// restore (issue 20): the signed checkpoints after the one an agent holds,
// and the resyncs IT ran on a matter.
type WitnessStore interface {
	// CheckpointsAfter returns up to limit checkpoints with Seq > after,
	// in Seq order.
	CheckpointsAfter(ctx context.Context, after int64, limit int) ([]audit.Checkpoint, error)
	// LastResync returns the matter's newest resync, or store.ErrNotFound.
	LastResync(ctx context.Context, matter string) (store.Resync, error)
	// AddResync records a resync (numbering it and noting the matter's
	// feed head) with its audit record, in one transaction.
	AddResync(ctx context.Context, r store.Resync, rec *audit.Record) (store.Resync, error)
}

func (s *Server) witnessRoutes() {
	s.handle("/v1/matters/{m}/integrity", map[string]method{
		http.MethodPost: {"integrity.report", permRead, s.integrityReport},
	})
	s.handle("/v1/matters/{m}/head", map[string]method{
		http.MethodGet: {"matter.head", permRead, s.matterHead},
	})
	s.handle("/v1/admin/matters/{m}/resync", map[string]method{
		http.MethodPost: {"admin.matter.resync", permAdmin, s.unscreened(s.matterResync)},
	})
}

// integrityReport records what an agent refused: a chunk or manifest that
// did not open, a path the format refuses, a gateway that went backwards.
// The record's action is integrity.<kind>, which the integrity alert rule
// fires on; the gateway learns IDs and numbers only, never a name.
func (s *Server) integrityReport(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "integrity.report"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	var req api.IntegrityReport
	if err := decodeJSON(w, r, op, 4<<10, &req); err != nil {
		return err
	}
	switch {
	case !api.ValidIntegrityKind(req.Kind):
		return E(op, KindInvalid, "kind must be one of chunk_auth, manifest_auth, refused_path, too_large, rollback, fork")
	case !api.ValidIntegrityObject(req.Object):
		return E(op, KindInvalid, "object must be 1 to %d characters of 0-9 a-z : . _ = -", api.MaxIntegrityObject)
	case !api.ValidDevice(req.Device):
		return E(op, KindInvalid, "device must be 1 to %d printable ASCII characters", api.MaxDeviceLen)
	case req.Version < 0:
		return E(op, KindInvalid, "version must not be negative")
	}
	rq.rec.Action = "integrity." + string(req.Kind)
	if rq.rec.Device == "" {
		// The header names the device of every other record; the body's
		// is kept when there is none (an event must not be lost to it).
		rq.rec.Device = req.Device
	}
	rq.rec.Object = req.Object
	if req.Version > 0 {
		rq.rec.Object += "@" + strconv.FormatInt(req.Version, 10)
	}
	s.log.Warn("integrity event reported by an agent", "matter", rq.matter, "kind", req.Kind, "object", rq.rec.Object,
		"user", rq.ident.User, "device", req.Device, "request_id", rq.id)
	if err := s.appendAudit(r.Context(), rq, http.StatusNoContent, 0); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// matterHead answers what an agent witnesses: the matter's feed head, its
// resync count and the newest signed checkpoint with the checkpoints after
// the one the agent holds (?after=<seq>), all signed with the audit key.
func (s *Server) matterHead(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "matter.head"
	q, err := queryParams(r, op, "after", "seq")
	if err != nil {
		return err
	}
	after, err := intParam(q, op, "after", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	at, err := intParam(q, op, "seq", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	rq.rec.Object = "after=" + strconv.FormatInt(after, 10) + " seq=" + strconv.FormatInt(at, 10)
	h, err := s.head(r.Context(), rq.matter, after, at)
	if err != nil {
		return err
	}
	return s.respond(r.Context(), w, rq, http.StatusOK, h)
}

// head builds and signs a matter's head. The checkpoint is read before the
// feed head, so the feed head is never older than the checkpoint.
func (s *Server) head(ctx context.Context, matter string, after, at int64) (*api.MatterHead, error) {
	const op = "matter.head"
	h := &api.MatterHead{Matter: matter, Path: []audit.Checkpoint{}}
	switch c, err := s.auditLog.LastCheckpoint(ctx); {
	case err == nil:
		h.Checkpoint = &c
		if after < c.Seq {
			path, err := s.witness.CheckpointsAfter(ctx, after, api.MaxHeadPath)
			if err != nil {
				return nil, storeErr(op, err)
			}
			// Another replica may have signed since LastCheckpoint: the
			// path ends at the checkpoint this head names.
			for len(path) > 0 && path[len(path)-1].Seq > c.Seq {
				path = path[:len(path)-1]
			}
			h.Path = path
			h.More = len(path) > 0 && path[len(path)-1].Seq < c.Seq
		}
	case !errors.Is(err, store.ErrNotFound):
		return nil, storeErr(op, err)
	}
	switch rs, err := s.witness.LastResync(ctx, matter); {
	case err == nil:
		h.Resync = rs.N
	case !errors.Is(err, store.ErrNotFound):
		return nil, storeErr(op, err)
	}
	since := int64(1 << 62)
	if at > 0 {
		since = at - 1
	}
	vs, seq, err := s.files.Changes(ctx, matter, since, 1)
	if err != nil {
		return nil, storeErr(op, err)
	}
	h.Seq = seq
	if at > 0 && len(vs) == 1 && vs[0].Seq == at {
		h.At = &api.Change{Seq: at, FileID: vs[0].File.String(), Version: vs[0].Version, Deleted: vs[0].Deleted}
	}
	h.Time = time.Now().UTC().Truncate(time.Microsecond)
	h.Signature = ed25519.Sign(s.key, api.HeadMessage(h))
	return h, nil
}

// matterResync records that IT resynced a matter after restoring the
// store: agents that stopped on the rollback see the resync count grow in
// the signed head, start again from the store as it is and commit what it
// lacks (docs/EVIDENCE.md, "Agents as witnesses").
func (s *Server) matterResync(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.matter.resync"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	var req api.ResyncRequest
	if err := decodeJSON(w, r, op, 16<<10, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Reason) == "" || !validText(req.Reason, 1024) {
		return E(op, KindInvalid, `reason is required (at most 1024 characters), as {"reason": "..."}`)
	}
	rq.rec.Object = "reason=" + clip(req.Reason, 200)
	rq.rec.Status, rq.rec.Result = http.StatusOK, audit.ResultOK
	rs, err := s.witness.AddResync(r.Context(), store.Resync{Matter: rq.matter, By: rq.ident.User, Reason: req.Reason, Time: time.Now()}, &rq.rec)
	if err != nil {
		return storeErr(op, err)
	}
	s.mutated(rq)
	s.log.Warn("matter resync: agents stopped on a rollback start again", "matter", rq.matter, "resync", rs.N, "seq", rs.Seq, "by", rs.By)
	writeJSON(w, http.StatusOK, api.Resync{Matter: rs.Matter, Resync: rs.N, Seq: rs.Seq, By: rs.By, Reason: rs.Reason, Time: rs.Time})
	return nil
}
