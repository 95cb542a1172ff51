package gateway

// Membership history: mattersync-admin reports a matter's membership (as
// Vault has it) after every change it makes, and a membership sync reports
// every matter's on a schedule; the store records the differences, with
// who, when, why and how they were seen, in the audit record's
// transaction. `mattersync-admin report who-could-open` answers from it.

import (
	"context"
	"net/http"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

// MembershipStore keeps the membership history.
type MembershipStore interface {
	// RecordMembership records the differences between snap and the
	// membership recorded before, with rec, in one transaction.
	RecordMembership(ctx context.Context, snap store.MembershipSnapshot, rec *audit.Record) ([]store.MembershipChange, error)
	// MembershipHistory returns a matter's changes in order.
	MembershipHistory(ctx context.Context, matter string) ([]store.MembershipChange, error)
}

// maxSnapshotMembers bounds a snapshot (a matter's groups).
const maxSnapshotMembers = 10_000

// evidenceRoutes registers the routes of the membership history and of
// compliance reports.
func (s *Server) evidenceRoutes() {
	// A version's sealed manifest for an administrator: compliance reports
	// open it on the officer's machine to name the file (the gateway
	// still never sees the name). Audited as admin.file.get.
	s.handle("/v1/admin/matters/{m}/files/{file}", map[string]method{
		http.MethodGet: {"admin.file.get", permAdmin, s.unscreened(s.getFile)},
	})
	s.handle("/v1/admin/matters/{m}/members", map[string]method{
		http.MethodPut: {"admin.members.record", permAdmin, s.unscreened(s.membersRecord)},
	})
	s.handle("/v1/admin/matters/{m}/members/history", map[string]method{
		http.MethodGet: {"admin.members.history", permAdmin, s.unscreened(s.membersHistory)},
	})
}

func (s *Server) membersRecord(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.members.record"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	var req api.MembershipSnapshot
	if err := decodeJSON(w, r, op, 4<<20, &req); err != nil {
		return err
	}
	if req.Source != store.SourceAdmin && req.Source != store.SourceVault {
		return E(op, KindInvalid, `source must be "admin" or "vault"`)
	}
	if len(req.Members) > maxSnapshotMembers {
		return E(op, KindTooLarge, "at most %d members", maxSnapshotMembers)
	}
	if !validText(req.Reason, 1024) || !validText(req.Subject, 128) {
		return E(op, KindInvalid, "reason (1024) or subject (128) too long or has control characters")
	}
	snap := store.MembershipSnapshot{Matter: rq.matter, Subject: req.Subject, Source: req.Source, By: rq.ident.User, Reason: req.Reason, Time: time.Now()}
	for _, m := range req.Members {
		if m.Entity == "" || !validText(m.Entity, 128) || !validText(m.Name, 256) {
			return E(op, KindInvalid, "every member needs an entity (128) and a name (256) without control characters")
		}
		if m.Role != "rw" && m.Role != "ro" && m.Role != "screened" {
			return E(op, KindInvalid, "role %q: rw, ro or screened", m.Role)
		}
		snap.Members = append(snap.Members, store.Member{Entity: m.Entity, Name: m.Name, Role: m.Role})
	}
	rq.rec.Status, rq.rec.Result = http.StatusOK, audit.ResultOK
	cs, err := s.memberships.RecordMembership(r.Context(), snap, &rq.rec)
	if err != nil {
		return storeErr(op, err)
	}
	s.mutated(rq)
	writeJSON(w, http.StatusOK, membershipBody(rq.matter, cs))
	return nil
}

func (s *Server) membersHistory(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.members.history"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	cs, err := s.memberships.MembershipHistory(r.Context(), rq.matter)
	if err != nil {
		return storeErr(op, err)
	}
	rq.rec.Object = "matter=" + rq.matter
	return s.respond(r.Context(), w, rq, http.StatusOK, membershipBody(rq.matter, cs))
}

func membershipBody(matter string, cs []store.MembershipChange) api.MembershipHistory {
	out := api.MembershipHistory{Matter: matter, Changes: make([]api.MembershipChange, len(cs))}
	for i, c := range cs {
		out.Changes[i] = api.MembershipChange{Matter: c.Matter, N: c.N, Entity: c.Entity, Name: c.Name, Role: c.Role, Added: c.Added,
			Source: c.Source, By: c.By, Reason: c.Reason, Time: c.Time}
	}
	return out
}
