package gateway

// File requests (docs/SHARING.md, "Request files"): a member with rw on a
// matter asks for a link through which a client, once they proved control
// of the named address with a one-time code, uploads files sealed in the
// browser to the request's X25519 public key. The member's agent made
// the key pair and wrapped its private half under the matter's epoch key:
// the gateway stores both halves' public and wrapped forms and can open
// nothing. Members' agents claim each drop (one agent per drop), write
// the file into the matter's Incoming folder, commit it like any file and
// mark the drop done with its file ID. The client's side is
// requestpage.go; the code machinery (HMAC-hashed codes, limits per
// request and address, grants) is the shares'.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/alerts"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/share"
	"github.com/mattersync/mattersync/gateway/store"
)

// RequestStore keeps file requests, their codes and grants, and records
// the uploads against their limits. Every change appends its audit record
// in the same transaction.
type RequestStore interface {
	CreateRequest(ctx context.Context, q store.Request, rec *audit.Record) error
	// Request returns a request or store.ErrNotFound.
	Request(ctx context.Context, id string) (store.Request, error)
	Requests(ctx context.Context, f store.RequestFilter) ([]store.Request, error)
	// RevokeRequests revokes the live requests f selects and returns
	// them; rec (may be nil) is appended only when any was.
	RevokeRequests(ctx context.Context, f store.RequestFilter, by, reason string, now time.Time, rec *audit.Record) ([]store.Request, error)
	// The uses below check the request's rules (the shares' rules, rw
	// membership, and its key's epoch still the matter's) in their
	// transaction: a refusal is a *store.ShareBlocked.
	AddRequestCode(ctx context.Context, c store.ShareCode, lim store.CodeLimits, r store.ShareRules, rec *audit.Record) error
	VerifyRequestCode(ctx context.Context, id string, hash [32]byte, g store.ShareGrant, now time.Time, lim store.CodeLimits, r store.ShareRules, rec *audit.Record) (store.Request, error)
	// CheckUpload says whether AddDrop would take an upload of size
	// bytes now, before its object is stored.
	CheckUpload(ctx context.Context, id string, grant [32]byte, size int64, now time.Time, r store.ShareRules) (store.Request, error)
	AddDrop(ctx context.Context, d store.Drop, grant [32]byte, r store.ShareRules, rec *audit.Record) error
}

// DropStore keeps the drops and who delivers them.
type DropStore interface {
	// Drop returns a drop or store.ErrNotFound.
	Drop(ctx context.Context, id string) (store.Drop, error)
	Drops(ctx context.Context, matter string, pending bool, limit int) ([]store.Drop, error)
	// DropHeads counts the drops ever uploaded to each of matters (the
	// combined feed's news of drops).
	DropHeads(ctx context.Context, matters []string) (map[string]int64, error)
	ClaimDrop(ctx context.Context, c store.DropClaim, now time.Time, rec *audit.Record) (store.Drop, error)
	FinishDrop(ctx context.Context, c store.DropClaim, file format.ID, problem string, now time.Time, rec *audit.Record) (store.Drop, error)
}

// maxPendingDrops bounds a listing of a matter's pending drops.
const maxPendingDrops = 100

func (s *Server) requestRoutes() {
	s.handle("/v1/matters/{m}/requests", map[string]method{
		http.MethodPost: {"request.create", permWrite, s.createRequest},
	})
	s.handle("/v1/matters/{m}/requests/{id}", map[string]method{
		http.MethodDelete: {"request.revoke", permWrite, s.revokeOwnRequest},
	})
	s.handle("/v1/matters/{m}/drops", map[string]method{
		http.MethodGet: {"drop.list", permWrite, s.listDrops},
	})
	s.handle("/v1/matters/{m}/drops/{id}/claim", map[string]method{
		http.MethodPost: {"drop.claim", permWrite, s.claimDrop},
	})
	s.handle("/v1/matters/{m}/drops/{id}/object", map[string]method{
		http.MethodGet: {"drop.download", permWrite, s.dropObject},
	})
	s.handle("/v1/matters/{m}/drops/{id}/done", map[string]method{
		http.MethodPost: {"drop.done", permWrite, s.finishDrop},
	})
	s.handle("/v1/admin/requests", map[string]method{
		http.MethodGet: {"admin.request.list", permAdmin, s.listRequests},
	})
	s.handle("/v1/admin/drops", map[string]method{
		http.MethodGet: {"admin.drop.list", permAdmin, s.listUndelivered},
	})
	s.handle("/v1/admin/requests/{id}", map[string]method{
		http.MethodDelete: {"request.revoke", permAdmin, s.revokeRequestAdmin},
	})
}

// requestObject names a request in its audit records.
func requestObject(q store.Request) string {
	return "request=" + q.ID + " from=" + q.Recipient
}

// dropObjectName names a drop in its audit records.
func dropObjectName(d store.Drop) string {
	return "drop=" + d.ID + " request=" + d.Request + " from=" + d.Sender
}

func requestState(q store.Request, now time.Time) api.RequestState {
	switch err := q.Usable(now); {
	case err == nil:
		return api.RequestOK
	case errors.Is(err, store.ErrRequestRevoked) && q.RevokeReason == reasonExpired && q.RevokedBy == "",
		errors.Is(err, store.ErrRequestExpired):
		return api.RequestExpired
	case errors.Is(err, store.ErrRequestRevoked):
		return api.RequestRevoked
	}
	return api.RequestFull
}

func requestBody(q store.Request, cfg *share.Config, now time.Time) api.Request {
	out := api.Request{ID: q.ID, Recipient: q.Recipient, Matter: q.Matter, Expires: q.Expires, MaxFiles: q.MaxFiles,
		MaxFileBytes: q.MaxFileBytes, MaxBytes: q.MaxBytes, Files: q.Files, Bytes: q.Bytes, CreatorID: q.Entity, Creator: q.User,
		Created: q.Created, State: requestState(q, now), RevokedBy: q.RevokedBy, RevokeReason: q.RevokeReason}
	if cfg != nil {
		out.URL = cfg.RequestLink(q.ID)
	}
	if !q.Revoked.IsZero() {
		t := q.Revoked
		out.Revoked = &t
	}
	return out
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func dropBody(d store.Drop, q store.Request) api.Drop {
	out := api.Drop{ID: d.ID, Request: d.Request, Sender: d.Sender, Size: d.Size, Uploaded: d.Uploaded,
		PublicKey: b64(q.PublicKey), WrappedKey: b64(q.WrappedKey), Problem: d.Problem}
	if !d.ClaimUntil.IsZero() {
		t := d.ClaimUntil
		out.ClaimUntil = &t
	}
	if !d.Done.IsZero() {
		t := d.Done
		out.Done, out.File = &t, d.File.String()
	}
	return out
}

func (s *Server) createRequest(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "request.create"
	if s.sharing.cfg == nil {
		return E(op, KindSharingOff, "this gateway takes no files from outside the firm (no sharing: section in its configuration)")
	}
	cfg := s.sharing.cfg
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	var req api.RequestCreate
	if err := decodeJSON(w, r, op, 4<<10, &req); err != nil {
		return err
	}
	to, ok := recipientAddress(req.To)
	if !ok {
		return E(op, KindInvalid, "to must be one bare mail address, e.g. client@example.com")
	}
	expires := req.Expires
	if expires == 0 {
		expires = int64(cfg.DefaultExpiry / time.Second)
	}
	if expires < 60 || expires > int64(cfg.MaxExpiry/time.Second) {
		return E(op, KindInvalid, "expires must be from 60 to %d seconds (sharing.max_expiry)", int64(cfg.MaxExpiry/time.Second))
	}
	maxFiles := req.MaxFiles
	if maxFiles == 0 {
		maxFiles = cfg.Requests.DefaultMaxFiles
	}
	if maxFiles < 1 || maxFiles > cfg.Requests.MaxFiles {
		return E(op, KindInvalid, "max_files must be from 1 to %d (sharing.requests.max_files)", cfg.Requests.MaxFiles)
	}
	pub, err := base64.RawURLEncoding.DecodeString(req.PublicKey)
	if err != nil || len(pub) != format.RequestKeySize {
		return E(op, KindInvalid, "public_key must be a 32-byte X25519 key in base64url without padding")
	}
	wrapped, err := base64.RawURLEncoding.DecodeString(req.WrappedKey)
	if err != nil {
		return E(op, KindInvalid, "wrapped_key must be base64url without padding")
	}
	epoch, err := format.RequestKeyEpoch(wrapped)
	if err != nil {
		return E(op, KindInvalid, "wrapped_key is not a wrapped request key (docs/FORMAT.md, appendix C)")
	}
	ctx := r.Context()
	if err := s.refuseClosed(ctx, op, rq.matter); err != nil {
		return err
	}
	if on, err := s.sharingOn(ctx, rq.matter); err != nil {
		return storeErr(op, err)
	} else if !on {
		return E(op, KindSharingOff, "sharing is off for matter %s (mattersync-admin matter sharing on %s)", rq.matter, rq.matter)
	}
	// Wrapped under the matter's current epoch: a key wrapped under an
	// epoch a removed member held would be readable by them.
	if err := s.checkEpoch(ctx, op, rq.matter, epoch); err != nil {
		return err
	}
	now := time.Now()
	q := store.Request{ID: newShareID(), Matter: rq.matter, Recipient: to, Entity: rq.ident.Entity, User: rq.ident.User,
		Created: now, Expires: now.Add(time.Duration(expires) * time.Second), MaxFiles: maxFiles,
		MaxFileBytes: cfg.Requests.MaxFileBytes, MaxBytes: cfg.Requests.MaxBytes, PublicKey: pub, WrappedKey: wrapped}
	rq.rec.Object = requestObject(q) + " expires=" + q.Expires.UTC().Format(time.RFC3339) + " max_files=" + strconv.FormatInt(maxFiles, 10)
	rq.rec.Status, rq.rec.Result = http.StatusCreated, audit.ResultOK
	if err := s.requests.CreateRequest(ctx, q, &rq.rec); err != nil {
		rq.rec.Status, rq.rec.Result = 0, ""
		return storeErr(op, err)
	}
	s.mutated(rq)
	writeJSON(w, http.StatusCreated, requestBody(q, cfg, now))
	return nil
}

// requestRefusal is the answer to a use of q the store (or q.Usable)
// refused with err; the first refusal for expiry marks the request
// expired with its request.expire record.
func (s *Server) requestRefusal(ctx context.Context, op string, rq *request, q store.Request, err error) error {
	var b *store.ShareBlocked
	switch {
	case errors.As(err, &b):
		// The maker is told by the request.revoke record's reason (the
		// request list shows it).
		s.revokeRequestFor(ctx, q, "", b.Reason, rq.id)
		return E(op, KindRequestRevoked, "this link was withdrawn by the firm")
	case errors.Is(err, store.ErrCodeCap):
		s.log.Warn("request revoked after too many wrong codes", "request", q.ID, "matter", q.Matter, "maker", q.User, "request_id", rq.id)
		s.revokeRequestFor(ctx, q, alerts.ObjectCodeCap, fmt.Sprintf("%d wrong codes", s.sharing.cfg.Codes.WrongPerShareTotal), rq.id)
		return E(op, KindRequestRevoked, "this link was withdrawn by the firm")
	case errors.Is(err, store.ErrRequestExpired):
		s.markRequestExpired(ctx, q, rq.id)
		return E(op, KindRequestExpired, "this link expired on %s", q.Expires.UTC().Format(time.RFC1123))
	case errors.Is(err, store.ErrRequestRevoked):
		if requestState(q, time.Now()) == api.RequestExpired {
			return E(op, KindRequestExpired, "this link expired on %s", q.Expires.UTC().Format(time.RFC1123))
		}
		return E(op, KindRequestRevoked, "this link was withdrawn by the firm")
	case errors.Is(err, store.ErrRequestFull):
		return E(op, KindRequestFull, "this link has taken the %d files it allows", q.MaxFiles)
	case errors.Is(err, store.ErrRequestTooLarge):
		return E(op, KindTooLarge, "the file is larger than this link allows (%d bytes per file, %d in all, %d used)", q.MaxFileBytes, q.MaxBytes, q.Bytes)
	}
	return s.shareRefusal(ctx, op, rq, store.Share{}, err)
}

// revokeRequestFor revokes q, which its rules (or the wrong-code cap)
// refused, for reason, with its request.revoke record (mark, an
// alerts.Object* marker or "", starting the object, as the shares'
// revokeMarked does); once, whichever replica sees it first. A failure
// is logged: the rules refuse it meanwhile.
func (s *Server) revokeRequestFor(ctx context.Context, q store.Request, mark, reason, requestID string) {
	now := time.Now()
	obj := requestObject(q) + " reason=" + strconv.Quote(reason)
	if mark != "" {
		obj = mark + " " + requestObject(q) + " creator=" + q.User + " reason=" + strconv.Quote(reason)
	}
	rec := &audit.Record{Time: now, Matter: q.Matter, Action: "request.revoke", Object: obj,
		Result: audit.ResultOK, Status: http.StatusOK, RequestID: requestID, User: revokedByGateway}
	done, err := s.requests.RevokeRequests(context.WithoutCancel(ctx), store.RequestFilter{ID: q.ID}, revokedByGateway, reason, now, rec)
	if err != nil {
		s.log.Warn("refused request not marked revoked (refused meanwhile)", "request", q.ID, "err", err)
		return
	}
	if len(done) > 0 {
		s.metrics.auditAppends.WithLabelValues("ok").Inc()
	}
}

// markRequestExpired records request.expire for q, once (as markExpired
// does for shares).
func (s *Server) markRequestExpired(ctx context.Context, q store.Request, requestID string) {
	now := time.Now()
	rec := &audit.Record{Time: now, Matter: q.Matter, Action: "request.expire", Object: requestObject(q) + " expired=" + q.Expires.UTC().Format(time.RFC3339),
		Result: audit.ResultOK, Status: http.StatusOK, RequestID: requestID}
	done, err := s.requests.RevokeRequests(context.WithoutCancel(ctx), store.RequestFilter{ID: q.ID}, "", reasonExpired, now, rec)
	if err != nil {
		s.log.Warn("request.expire not recorded (the next refusal tries again)", "request", q.ID, "err", err)
		return
	}
	if len(done) > 0 {
		s.metrics.auditAppends.WithLabelValues("ok").Inc()
	}
}

// revokeRequestsOf revokes the live requests f selects, one record each:
// the hook of user revocation, matter close and shred and sharing off
// (called from revokeSharesOf, so every place that revokes shares
// revokes requests too). A failure is logged.
func (s *Server) revokeRequestsOf(ctx context.Context, f store.ShareFilter, by, reason string, rq *request) {
	if s.requests == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	list, err := s.requests.Requests(ctx, store.RequestFilter(f))
	now := time.Now()
	for _, q := range list {
		if err != nil {
			break
		}
		if !q.Revoked.IsZero() {
			continue
		}
		rec := audit.Record{Entity: rq.ident.Entity, User: rq.ident.User, Device: rq.rec.Device, Source: rq.rec.Source, RequestID: rq.id,
			Time: now, Matter: q.Matter, Action: "request.revoke", Result: audit.ResultOK, Status: http.StatusOK,
			Object: requestObject(q) + " reason=" + strconv.Quote(reason)}
		var done []store.Request
		if done, err = s.requests.RevokeRequests(ctx, store.RequestFilter{ID: q.ID}, by, reason, now, &rec); err == nil && len(done) > 0 {
			s.metrics.auditAppends.WithLabelValues("ok").Inc()
		}
	}
	if err != nil {
		s.log.Error("requests not revoked: revoke them with DELETE /v1/admin/requests/{id}", "matter", f.Matter, "entity", f.Entity, "reason", reason, "err", err)
	}
}

func (s *Server) revokeOwnRequest(w http.ResponseWriter, r *http.Request, rq *request) error {
	q, reason, err := linkToRevoke(s, w, r, rq, "request", s.requests.Request)
	if err != nil {
		return err
	}
	if q.Matter != rq.matter || q.Entity != rq.ident.Entity {
		return E("request.revoke", KindNotFound, "no such request")
	}
	return s.revokeOneRequest(w, r, rq, q, reason)
}

func (s *Server) revokeRequestAdmin(w http.ResponseWriter, r *http.Request, rq *request) error {
	q, reason, err := linkToRevoke(s, w, r, rq, "request", s.requests.Request)
	if err != nil {
		return err
	}
	rq.matter, rq.rec.Matter = q.Matter, q.Matter
	if screenedFrom(rq.ident, q.Matter) {
		return E("request.revoke", KindNotFound, "no such request")
	}
	return s.revokeOneRequest(w, r, rq, q, reason)
}

func (s *Server) revokeOneRequest(w http.ResponseWriter, r *http.Request, rq *request, q store.Request, reason string) error {
	const op = "request.revoke"
	if reason == "" {
		reason = "revoked by " + rq.ident.User
	}
	rq.rec.Matter = q.Matter
	rq.rec.Object = requestObject(q) + " reason=" + strconv.Quote(reason)
	rq.rec.Status, rq.rec.Result = http.StatusOK, audit.ResultOK
	done, err := s.requests.RevokeRequests(r.Context(), store.RequestFilter{ID: q.ID}, rq.ident.User, reason, time.Now(), &rq.rec)
	if err != nil {
		rq.rec.Status, rq.rec.Result = 0, ""
		return storeErr(op, err)
	}
	out := api.RequestRevocation{Revoked: []api.Request{}}
	now := time.Now()
	for _, d := range done {
		out.Revoked = append(out.Revoked, requestBody(d, s.sharing.cfg, now))
	}
	if len(done) == 0 {
		rq.rec.Object = requestObject(q) + " already revoked or expired"
		return s.respond(r.Context(), w, rq, http.StatusOK, out)
	}
	s.mutated(rq)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// listRequests answers the requests of a matter and/or a maker, but those
// of matters the administrator is screened from.
func (s *Server) listRequests(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.request.list"
	q, err := queryParams(r, op, "matter", "user")
	if err != nil {
		return err
	}
	f := store.RequestFilter{Matter: q.Get("matter")}
	if f.Matter != "" {
		if err := format.ValidateMatterID(f.Matter); err != nil {
			return E(op, KindInvalid, "invalid matter ID")
		}
		rq.rec.Matter = f.Matter
	}
	user := q.Get("user")
	if user != "" && !validText(user, 256) {
		return E(op, KindInvalid, "user too long or has control characters")
	}
	rq.rec.Object = "matter=" + f.Matter + " user=" + user
	list, err := s.requests.Requests(r.Context(), f)
	if err != nil {
		return storeErr(op, err)
	}
	out := api.RequestList{Requests: []api.Request{}}
	now := time.Now()
	for _, x := range list {
		if user != "" && x.Entity != user && x.User != user || screenedFrom(rq.ident, x.Matter) {
			continue
		}
		out.Requests = append(out.Requests, requestBody(x, s.sharing.cfg, now))
	}
	return s.respond(r.Context(), w, rq, http.StatusOK, out)
}

// listDrops answers a matter's pending drops, each with its request's
// public and wrapped keys.
func (s *Server) listDrops(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "drop.list"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	ctx := r.Context()
	list, err := s.drops.Drops(ctx, rq.matter, true, maxPendingDrops)
	if err != nil {
		return storeErr(op, err)
	}
	out := api.DropList{Drops: []api.Drop{}}
	reqs := map[string]store.Request{}
	for _, d := range list {
		q, ok := reqs[d.Request]
		if !ok {
			if q, err = s.requests.Request(ctx, d.Request); err != nil {
				return storeErr(op, err)
			}
			reqs[d.Request] = q
		}
		out.Drops = append(out.Drops, dropBody(d, q))
	}
	rq.rec.Object = "pending=" + strconv.Itoa(len(out.Drops))
	return s.respond(ctx, w, rq, http.StatusOK, out)
}

// matterDrop reads the drop in the path, refusing one of another matter
// as not found.
func (s *Server) matterDrop(r *http.Request, rq *request, op string) (store.Drop, store.Request, error) {
	id := r.PathValue("id")
	if !validShareID(id) {
		rq.rec.Object = quoteBad(id)
		return store.Drop{}, store.Request{}, E(op, KindNotFound, "no such drop")
	}
	rq.rec.Object = "drop=" + id
	ctx := r.Context()
	d, err := s.drops.Drop(ctx, id)
	if err != nil {
		return d, store.Request{}, notFound(op, err, "no such drop")
	}
	if d.Matter != rq.matter {
		return d, store.Request{}, E(op, KindNotFound, "no such drop")
	}
	rq.rec.Object = dropObjectName(d)
	q, err := s.requests.Request(ctx, d.Request)
	if err != nil {
		return d, q, storeErr(op, err)
	}
	return d, q, nil
}

func (s *Server) dropClaimant(rq *request) store.DropClaim {
	return store.DropClaim{Entity: rq.ident.Entity, Device: rq.rec.Device, User: rq.ident.User}
}

// claimDrop gives the calling agent (user and device) the drop for
// sharing.requests.claim_ttl: first come, first served; a claim not
// finished in time may be taken by another agent.
func (s *Server) claimDrop(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "drop.claim"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	if s.sharing.cfg == nil {
		return E(op, KindSharingOff, "this gateway takes no files from outside the firm")
	}
	d, q, err := s.matterDrop(r, rq, op)
	if err != nil {
		return err
	}
	if rq.rec.Device == "" {
		return E(op, KindInvalid, "a claim needs the %s header: the claim is the device's", api.HeaderDevice)
	}
	now := time.Now()
	c := s.dropClaimant(rq)
	c.Drop, c.Until = d.ID, now.Add(s.sharing.cfg.Requests.ClaimTTL)
	rq.rec.Status, rq.rec.Result = http.StatusOK, audit.ResultOK
	d, err = s.drops.ClaimDrop(r.Context(), c, now, &rq.rec)
	if err != nil {
		rq.rec.Status, rq.rec.Result = 0, ""
		if errors.Is(err, store.ErrDropClaimed) {
			return E(op, KindDropClaimed, "another agent is delivering this drop, or it was delivered")
		}
		return storeErr(op, err)
	}
	s.mutated(rq)
	writeJSON(w, http.StatusOK, dropBody(d, q))
	return nil
}

// dropObject streams the drop object to the agent that holds its claim.
func (s *Server) dropObject(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "drop.download"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	d, _, err := s.matterDrop(r, rq, op)
	if err != nil {
		return err
	}
	if d.ClaimEntity != rq.ident.Entity || d.ClaimDevice != rq.rec.Device || !d.Pending() {
		return E(op, KindDropClaimed, "claim the drop first (POST …/claim): only the agent that holds it downloads it")
	}
	ctx := r.Context()
	body, size, err := s.blobs.Get(ctx, d.ObjectKey)
	if err != nil {
		return notStored(op, err, "drop object")
	}
	defer body.Close()
	if size != d.Size {
		return wrap(op, KindInternal, errors.New("drop object size differs from the record"), "drop object size mismatch in storage")
	}
	rq.rec.Bytes = size
	if err := s.appendAudit(ctx, rq, http.StatusOK, size); err != nil {
		return err
	}
	s.extendDeadlines(w, rq, size, 0)
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, io.LimitReader(body, size)); err != nil && !errors.Is(err, context.Canceled) {
		s.log.Warn("drop download cut", "request_id", rq.id, "drop", d.ID, "err", err)
	}
	return nil
}

// finishDrop marks the drop delivered (with the file ID the agent
// committed) or left with a problem, for the agent that holds its claim.
func (s *Server) finishDrop(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "drop.done"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	var req api.DropDone
	if err := decodeJSON(w, r, op, 4<<10, &req); err != nil {
		return err
	}
	var file format.ID
	switch {
	case req.File != "" && req.Problem != "", req.File == "" && req.Problem == "":
		return E(op, KindInvalid, "give either file (the file ID committed) or problem")
	case req.File != "":
		var err error
		if file, err = format.ParseID(req.File); err != nil {
			return E(op, KindInvalid, "invalid file ID (64 lowercase hex characters)")
		}
	case !validText(req.Problem, 1024):
		return E(op, KindInvalid, "problem (1024) too long or has control characters")
	}
	d, q, err := s.matterDrop(r, rq, op)
	if err != nil {
		return err
	}
	c := s.dropClaimant(rq)
	c.Drop = d.ID
	if req.File != "" {
		rq.rec.Object += " file=" + req.File
	} else {
		rq.rec.Object += " problem=" + strconv.Quote(req.Problem)
	}
	rq.rec.Status, rq.rec.Result = http.StatusOK, audit.ResultOK
	d, err = s.drops.FinishDrop(r.Context(), c, file, req.Problem, time.Now(), &rq.rec)
	if err != nil {
		rq.rec.Status, rq.rec.Result = 0, ""
		if errors.Is(err, store.ErrDropClaimed) {
			return E(op, KindDropClaimed, "this device does not hold the drop's claim, or it was finished")
		}
		return storeErr(op, err)
	}
	s.mutated(rq)
	writeJSON(w, http.StatusOK, dropBody(d, q))
	return nil
}

// maxAdminDrops bounds the drops an admin listing reads.
const maxAdminDrops = 10_000

// listUndelivered answers the drops not delivered yet, of one matter or
// all: pending ones and those left with a problem (a name refused, a drop
// no member can open), but those of matters the administrator is
// screened from.
func (s *Server) listUndelivered(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.drop.list"
	q, err := queryParams(r, op, "matter")
	if err != nil {
		return err
	}
	matter := q.Get("matter")
	if matter != "" {
		if err := format.ValidateMatterID(matter); err != nil {
			return E(op, KindInvalid, "invalid matter ID")
		}
		rq.rec.Matter = matter
	}
	rq.rec.Object = "matter=" + matter
	ctx := r.Context()
	list, err := s.drops.Drops(ctx, matter, false, maxAdminDrops)
	if err != nil {
		return storeErr(op, err)
	}
	out := api.DropList{Drops: []api.Drop{}}
	for _, d := range list {
		if !d.Done.IsZero() || screenedFrom(rq.ident, d.Matter) {
			continue
		}
		b := dropBody(d, store.Request{})
		b.PublicKey, b.WrappedKey, b.Matter = "", "", d.Matter
		out.Drops = append(out.Drops, b)
	}
	return s.respond(ctx, w, rq, http.StatusOK, out)
}
