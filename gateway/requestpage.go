package gateway

// The client's side of a file request (docs/SHARING.md, "Request files";
// docs/API.md): unauthenticated routes under /r/ on the API's listener,
// guarded like the share recipient's (sharepage.go): the same token
// bucket per source address first, refusals before a request is found
// collapsed like refused authentications, one audit record per answer
// once it is.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/store"
)

type requesterOp struct {
	method string
	action string
	h      func(w http.ResponseWriter, r *http.Request, rq *request, q store.Request) error
}

func (s *Server) requesterOps() map[string]requesterOp {
	return map[string]requesterOp{
		"info":   {http.MethodGet, "request.open", s.requestInfo},
		"code":   {http.MethodPost, "request.code", s.requestCode},
		"verify": {http.MethodPost, "request.verify", s.requestVerify},
		"drops":  {http.MethodPost, "request.upload", s.requestUpload},
	}
}

// serveRequester answers a request under /r/.
func (s *Server) serveRequester(w http.ResponseWriter, r *http.Request, rq *request) {
	rq.route, rq.rec.Action, rq.preAuth = "/r/", "request.page", true
	if ok, wait := s.sharing.sources.allow(sourceKey(rq.rec.Source), time.Now()); !ok {
		s.metrics.denials.WithLabelValues("source_rate_limited").Inc()
		s.fail(w, rq, &Error{Op: "request", Kind: KindRateLimited, Msg: "too many requests from this address", RetryAfter: max(wait, time.Second)})
		return
	}
	id, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/r/"), "/")
	if rest == "" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			s.fail(w, rq, E("request", KindMethodNotAllowed, "method %s is not allowed here", clip(r.Method, maxLoggedMethod)))
			return
		}
		if s.sharing.cfg == nil || s.requests == nil || !validShareID(id) {
			s.fail(w, rq, E("request", KindNotFound, "no such request"))
			return
		}
		c, err := s.sharing.console()
		if err != nil {
			s.fail(w, rq, wrap("request", KindInternal, err, "internal error"))
			return
		}
		c.ServeRequestPage(w, r)
		return
	}
	op, ok := s.requesterOps()[rest]
	if ok {
		rq.rec.Action = op.action
	}
	switch {
	case !ok:
		s.fail(w, rq, E("request", KindNotFound, "no such endpoint"))
		return
	case r.Method != op.method:
		w.Header().Set("Allow", op.method)
		s.fail(w, rq, E(op.action, KindMethodNotAllowed, "method %s is not allowed here", clip(r.Method, maxLoggedMethod)))
		return
	case s.sharing.cfg == nil || s.requests == nil || !validShareID(id):
		s.fail(w, rq, E(op.action, KindNotFound, "no such request"))
		return
	}
	q, err := s.requests.Request(r.Context(), id)
	if err != nil {
		s.fail(w, rq, asError(op.action, notFound(op.action, err, "no such request")))
		return
	}
	rq.preAuth = false
	rq.matter, rq.rec.Matter, rq.rec.Object = q.Matter, q.Matter, requestObject(q)
	if q.Revoked.IsZero() {
		if err := s.requestStillOpen(r.Context(), rq, q); err != nil {
			if now, rerr := s.requests.Request(r.Context(), id); rerr == nil && op.action == "request.open" {
				// The page is told the state, as for any revoked request.
				err = op.h(w, r, rq, now)
			}
			if err != nil {
				s.fail(w, rq, asError(op.action, err))
			}
			return
		}
	}
	if err := op.h(w, r, rq, q); err != nil {
		s.fail(w, rq, asError(op.action, err))
	}
}

func (s *Server) requestInfo(w http.ResponseWriter, r *http.Request, rq *request, q store.Request) error {
	if err := noQuery(r, "request.open"); err != nil {
		return err
	}
	st := requestState(q, time.Now())
	if st == api.RequestExpired && q.Revoked.IsZero() {
		s.markRequestExpired(r.Context(), q, rq.id)
	}
	rq.rec.Object += " state=" + string(st)
	return s.respond(r.Context(), w, rq, http.StatusOK, api.RequestInfo{Requester: q.User, RecipientHint: recipientHint(q.Recipient),
		Expires: q.Expires, State: st, MaxFiles: q.MaxFiles, Files: q.Files, MaxFileBytes: q.MaxFileBytes, MaxBytes: q.MaxBytes, Bytes: q.Bytes})
}

func (s *Server) requestCode(w http.ResponseWriter, r *http.Request, rq *request, q store.Request) error {
	const op = "request.code"
	if err := noQuery(r, op); err != nil {
		return err
	}
	ctx := r.Context()
	now := time.Now()
	if err := q.Usable(now); err != nil {
		return s.requestRefusal(ctx, op, rq, q, err)
	}
	key, err := s.hmacKey(ctx)
	if err != nil {
		return wrap(op, KindUnavailable, err, "storage unavailable")
	}
	code, err := newCode()
	if err != nil {
		return wrap(op, KindInternal, err, "internal error")
	}
	ttl := s.sharing.cfg.CodeTTL
	c := store.ShareCode{Share: q.ID, Hash: codeHash(key, q.ID, code), Created: now, Expires: now.Add(ttl)}
	rq.rec.Status, rq.rec.Result = http.StatusOK, audit.ResultOK
	if err := s.requests.AddRequestCode(ctx, c, s.codeLimits(), s.shareRules(), &rq.rec); err != nil {
		rq.rec.Status, rq.rec.Result = 0, ""
		return s.requestRefusal(ctx, op, rq, q, err)
	}
	s.mutated(rq)
	body := fmt.Sprintf("Your code to send files to %s is:\n\n    %s\n\n"+
		"It is good for %d minutes, once. Type it in the page you opened from the link.\n\n"+
		"If you did not open a link to send files, ignore this message: without the code nobody can use it.\n",
		q.User, code, int(ttl/time.Minute))
	if err := s.sharing.mailer.Send(ctx, q.Recipient, "Your code to send files", body); err != nil {
		s.log.Error("request code not mailed", "request_id", rq.id, "request", q.ID, "err", err)
		return &Error{Op: op, Kind: KindUnavailable, RetryAfter: time.Minute, Err: err, Msg: "the code could not be mailed: try again in a minute"}
	}
	writeJSON(w, http.StatusOK, api.ShareCodeSent{RecipientHint: recipientHint(q.Recipient), Expires: c.Expires})
	return nil
}

func (s *Server) requestVerify(w http.ResponseWriter, r *http.Request, rq *request, q store.Request) error {
	const op = "request.verify"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	var req api.ShareVerify
	if err := decodeJSON(w, r, op, 1<<10, &req); err != nil {
		return err
	}
	if len(req.Code) != 6 || strings.Trim(req.Code, "0123456789") != "" {
		return E(op, KindInvalid, "the code is 6 digits")
	}
	ctx := r.Context()
	now := time.Now()
	if err := q.Usable(now); err != nil {
		return s.requestRefusal(ctx, op, rq, q, err)
	}
	key, err := s.hmacKey(ctx)
	if err != nil {
		return wrap(op, KindUnavailable, err, "storage unavailable")
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	g := store.ShareGrant{Hash: sha256.Sum256(secret), Expires: now.Add(s.sharing.cfg.Requests.UploadTTL)}
	rq.rec.Status, rq.rec.Result = http.StatusOK, audit.ResultOK
	if _, err := s.requests.VerifyRequestCode(ctx, q.ID, codeHash(key, q.ID, req.Code), g, now, s.codeLimits(), s.shareRules(), &rq.rec); err != nil {
		rq.rec.Status, rq.rec.Result = 0, ""
		return s.requestRefusal(ctx, op, rq, q, err)
	}
	s.mutated(rq)
	writeJSON(w, http.StatusOK, api.RequestGrant{Grant: base64.RawURLEncoding.EncodeToString(secret), Expires: g.Expires})
	return nil
}

// requestUpload stores one drop object under a live grant. The request's
// limits and the grant are checked before the object is stored, and again
// with the record (two uploads racing for the last place: the loser's
// object is garbage, logged). The object is opaque here: the page sealed
// it to the link's public key. A virus-scan hook would go between the
// store and the record (docs/SHARING.md): not built, and it could only
// ever see ciphertext here; scanning belongs on members' laptops.
func (s *Server) requestUpload(w http.ResponseWriter, r *http.Request, rq *request, q store.Request) error {
	const op = "request.upload"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	grant, err := grantHeader(r, op)
	if err != nil {
		return E(op, KindGrantInvalid, "the upload needs Authorization: Grant <grant> (from verifying a code)")
	}
	size := r.ContentLength
	switch {
	case size < 0:
		return E(op, KindLengthRequired, "Content-Length is required")
	case size == 0:
		return E(op, KindInvalid, "the body must be the sealed drop object")
	}
	sum, err := checksumHeader(r, op)
	if err != nil {
		return err
	}
	ctx := r.Context()
	now := time.Now()
	if q, err = s.requests.CheckUpload(ctx, q.ID, grant, size, now, s.shareRules()); err != nil {
		return s.requestRefusal(ctx, op, rq, q, err)
	}
	if err := s.refuseClosed(ctx, op, q.Matter); err != nil {
		return err
	}
	d := store.Drop{ID: newShareID(), Request: q.ID, Matter: q.Matter, Sender: q.Recipient, Size: size, Uploaded: now}
	if d.ObjectKey, err = blob.DropKey(q.Matter, d.ID); err != nil {
		return wrap(op, KindInternal, err, "internal error")
	}
	rq.rec.Object = requestObject(q) + " drop=" + d.ID
	s.extendDeadlines(w, rq, size, 0)
	src := &sourceReader{r: r.Body}
	if err := s.blobs.Create(ctx, d.ObjectKey, src, size, sum); err != nil {
		if src.err != nil || src.n < size {
			return wrap(op, KindIncompleteBody, err, fmt.Sprintf("body ended after %d of %d bytes", src.n, size))
		}
		return storeErr(op, err)
	}
	rq.rec.Bytes, rq.rec.Status, rq.rec.Result = size, http.StatusCreated, audit.ResultOK
	if err := s.requests.AddDrop(ctx, d, grant, s.shareRules(), &rq.rec); err != nil {
		rq.rec.Bytes, rq.rec.Status, rq.rec.Result = 0, 0, ""
		s.log.Warn("drop object stored but the drop not recorded: it is garbage", "request_id", rq.id, "key", d.ObjectKey, "err", err)
		return s.requestRefusal(ctx, op, rq, q, err)
	}
	s.mutated(rq)
	s.live.woken(q.Matter)
	writeJSON(w, http.StatusCreated, api.DropUploaded{ID: d.ID, Files: q.Files + 1, MaxFiles: q.MaxFiles, Bytes: q.Bytes + size, MaxBytes: q.MaxBytes})
	return nil
}

// requestStillOpen checks, at each use, what the revocation hooks would
// have acted on: the matter open, sharing on for it, the maker neither
// denied from it. A request it refuses is revoked for good
// (request.revoke by the gateway) and answered as revoked. It only spares
// the page a round trip: the store checks the request's whole rules
// (membership, screening, reissue, its key's epoch too) inside each use's
// transaction (AddRequestCode, VerifyRequestCode, AddDrop).
func (s *Server) requestStillOpen(ctx context.Context, rq *request, q store.Request) error {
	reason := ""
	if s.closed != nil {
		c, err := s.closed.MatterClosed(ctx, q.Matter)
		if err != nil {
			return storeErr("request", err)
		}
		if !c.Time.IsZero() {
			reason = "matter closed"
		}
	}
	if reason == "" {
		on, err := s.sharingOn(ctx, q.Matter)
		if err != nil {
			return storeErr("request", err)
		}
		if !on {
			reason = "sharing off"
		}
	}
	if denied, _ := s.live.denied(q.Entity, s.cfg.Limits.DenyMaxStaleness); reason == "" && denied {
		reason = "user revoked"
	}
	if reason == "" {
		return nil
	}
	s.revokeRequestFor(ctx, q, "", reason, rq.id)
	return E("request", KindRequestRevoked, "this link was withdrawn by the firm")
}
