package gateway

// Closed matters: the gateway refuses their writes and their changes feed
// (410 matter_closed) and lists them to agents, which stop syncing them
// (docs/LIFECYCLE.md, "Closing a matter").

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

// ClosedStore keeps which matters are closed (sqlcore documents each).
type ClosedStore interface {
	CloseMatter(ctx context.Context, matter, by, reason string, now time.Time, rec *audit.Record) (c store.Closed, again bool, err error)
	MatterClosed(ctx context.Context, matter string) (store.Closed, error)
	ClosedMatters(ctx context.Context, entity string, matters []string) ([]store.Closed, error)
}

// refuseClosed refuses op on a closed matter.
func (s *Server) refuseClosed(ctx context.Context, op, matter string) error {
	if s.closed == nil || matter == "" {
		return nil
	}
	c, err := s.closed.MatterClosed(ctx, matter)
	if err != nil {
		return storeErr(op, err)
	}
	if !c.Time.IsZero() {
		return E(op, KindMatterClosed, "matter %s was closed on %s: it takes no more changes and is no longer synced", matter, c.Time.UTC().Format("2006-01-02"))
	}
	return nil
}

func closedBody(c store.Closed) api.ClosedMatter {
	return api.ClosedMatter{ID: c.Matter, Closed: c.Time, By: c.By, Reason: c.Reason}
}

func (s *Server) closeGet(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.close.get"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	c, err := s.closed.MatterClosed(r.Context(), rq.matter)
	if err != nil {
		return storeErr(op, err)
	}
	rq.rec.Object = "matter=" + rq.matter
	return s.respond(r.Context(), w, rq, http.StatusOK, closedBody(c))
}

// closePost closes a matter: from now on its writes and its changes feed
// are refused, and agents are told. Closing again answers the first close.
func (s *Server) closePost(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.close"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	var req api.CloseRequest
	if err := decodeJSON(w, r, op, 16<<10, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Reason) == "" || !validText(req.Reason, 1024) {
		return E(op, KindInvalid, `reason is required (at most 1024 characters), as {"reason": "..."}`)
	}
	rq.rec.Status, rq.rec.Result = http.StatusOK, audit.ResultOK
	c, again, err := s.closed.CloseMatter(r.Context(), rq.matter, rq.ident.User, req.Reason, time.Now(), &rq.rec)
	if err != nil {
		rq.rec.Status, rq.rec.Result = 0, ""
		return storeErr(op, err)
	}
	// A closed matter's links stop working (each share.revoke recorded);
	// on a repeated close too, so a retry revokes what a failure left.
	s.revokeSharesOf(r.Context(), store.ShareFilter{Matter: rq.matter}, rq.ident.User, "matter closed", rq)
	if again {
		rq.rec.Object = "matter=" + rq.matter + " already closed"
		return s.respond(r.Context(), w, rq, http.StatusOK, closedBody(c))
	}
	s.mutated(rq)
	writeJSON(w, http.StatusOK, closedBody(c))
	return nil
}
