package gateway

// The recipient's side of a share (docs/SHARING.md, docs/API.md "Share
// links"): unauthenticated routes under /s/ on the API's listener. Each
// source address has a token bucket (sharing.requests_per_second, burst)
// taken before anything else; a refusal before a share is found (no
// sharing, a malformed or unknown ID, the bucket empty) is audited like a
// refused authentication (flood.go: collapsed into auth.failures
// summaries), so guessing IDs costs the guesser time and the gateway
// neither an audit append nor much of a store read per guess. A share's
// ID has 128 random bits: guessing is hopeless anyway.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
	"github.com/mattersync/mattersync/web"
)

// recipientOp is one route of the recipient's side.
type recipientOp struct {
	method string
	action string
	h      func(w http.ResponseWriter, r *http.Request, rq *request, sh store.Share) error
}

func (s *Server) recipientOps() map[string]recipientOp {
	return map[string]recipientOp{
		"info":   {http.MethodGet, "share.open", s.shareInfo},
		"code":   {http.MethodPost, "share.code", s.shareCode},
		"verify": {http.MethodPost, "share.verify", s.shareVerify},
		"object": {http.MethodGet, "share.download", s.shareObject},
	}
}

// serveRecipient answers a request under /s/.
func (s *Server) serveRecipient(w http.ResponseWriter, r *http.Request, rq *request) {
	rq.route, rq.rec.Action, rq.preAuth = "/s/", "share.page", true
	if ok, wait := s.sharing.sources.allow(sourceKey(rq.rec.Source), time.Now()); !ok {
		s.metrics.denials.WithLabelValues("source_rate_limited").Inc()
		s.fail(w, rq, &Error{Op: "share", Kind: KindRateLimited, Msg: "too many requests from this address", RetryAfter: max(wait, time.Second)})
		return
	}
	id, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/s/"), "/")
	if rest == "" {
		// The page: static, the same for every ID, so it tells nothing
		// about the ID (the page asks /info). Not audited, as the
		// console's assets are not.
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			rq.preAuth = true
			s.fail(w, rq, E("share", KindMethodNotAllowed, "method %s is not allowed here", clip(r.Method, maxLoggedMethod)))
			return
		}
		if s.sharing.cfg == nil || !validShareID(id) {
			s.fail(w, rq, E("share", KindNotFound, "no such share"))
			return
		}
		s.sharePage(w, r)
		return
	}
	op, ok := s.recipientOps()[rest]
	if ok {
		rq.rec.Action = op.action
	}
	switch {
	case !ok:
		s.fail(w, rq, E("share", KindNotFound, "no such endpoint"))
		return
	case r.Method != op.method:
		w.Header().Set("Allow", op.method)
		s.fail(w, rq, E(op.action, KindMethodNotAllowed, "method %s is not allowed here", clip(r.Method, maxLoggedMethod)))
		return
	case s.sharing.cfg == nil || !validShareID(id):
		s.fail(w, rq, E(op.action, KindNotFound, "no such share"))
		return
	}
	sh, err := s.shares.Share(r.Context(), id)
	if err != nil {
		s.fail(w, rq, asError(op.action, notFound(op.action, err, "no such share")))
		return
	}
	// A share exists: from here every answer is a record of its own.
	rq.preAuth = false
	rq.matter, rq.rec.Matter, rq.rec.Object = sh.Matter, sh.Matter, shareObject(sh)
	if err := s.stillShared(r.Context(), op.action, rq.id, &sh); err != nil {
		s.fail(w, rq, asError(op.action, err))
		return
	}
	if err := op.h(w, r, rq, sh); err != nil {
		s.fail(w, rq, asError(op.action, err))
	}
}

// stillShared treats a live share as revoked when its creator is on the
// deny list or its matter is closed: the revocation that the deny or the
// close runs may have failed or not reached this share yet, and neither
// may leave a link working. A replica that cannot see the deny list
// answers 503, as it does for members. The share is revoked for good,
// with its share.revoke record (sharerules.go), the store's rules being
// checked again by every use.
func (s *Server) stillShared(ctx context.Context, op, requestID string, sh *store.Share) error {
	if !sh.Revoked.IsZero() {
		return nil
	}
	denied, fresh := s.live.denied(sh.Entity, s.cfg.Limits.DenyMaxStaleness)
	if !fresh {
		return &Error{Op: op, Kind: KindUnavailable, Msg: "gateway cannot reach its store", RetryAfter: time.Second}
	}
	reason := ""
	if denied {
		reason = "user revoked"
	} else if err := s.refuseClosed(ctx, op, sh.Matter); err != nil {
		if asError(op, err).Kind != KindMatterClosed {
			return err
		}
		reason = "matter closed"
	}
	if reason != "" {
		s.revokeBlocked(ctx, *sh, reason, requestID)
		sh.Revoked, sh.RevokeReason = time.Now(), reason
	}
	return nil
}

// sharePage serves the recipient's page: web's share page if the build
// has one (a web.Console with ServeShare, or static/share.html served
// under the console's CSP), else a placeholder saying so. Never cached:
// the page is the same for every ID, but it must not outlive a gateway
// upgrade in a browser's cache.
func (s *Server) sharePage(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	c, err := s.sharing.console()
	if err == nil {
		if p, ok := any(c).(interface {
			ServeShare(http.ResponseWriter, *http.Request)
		}); ok {
			p.ServeShare(noStore{w}, r)
			return
		}
		for _, a := range c.Assets() {
			if a == "share.html" {
				r2 := r.Clone(r.Context())
				r2.URL.Path, r2.URL.RawPath = web.Prefix+c.Version()+"/share.html", ""
				c.ServeHTTP(noStore{w}, r2)
				return
			}
		}
	}
	web.SetHeaders(h, web.CSP(""), s.cfg.TLS.CertFile != "" || r.TLS != nil)
	body := []byte("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Shared file</title></head>" +
		"<body><p>This gateway's build has no share page yet: the file cannot be opened here.</p></body></html>\n")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// noStore makes a response uncacheable whatever its handler set.
type noStore struct{ http.ResponseWriter }

func (n noStore) WriteHeader(code int) {
	n.Header().Set("Cache-Control", "no-store")
	n.ResponseWriter.WriteHeader(code)
}

func (n noStore) Write(b []byte) (int, error) { return n.ResponseWriter.Write(b) }

// noQuery refuses any query parameter and a request body.
func noQuery(r *http.Request, op string) error {
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	if r.ContentLength > 0 {
		return E(op, KindInvalid, "this request has no body")
	}
	return nil
}

func (s *Server) shareInfo(w http.ResponseWriter, r *http.Request, rq *request, sh store.Share) error {
	if err := noQuery(r, "share.open"); err != nil {
		return err
	}
	now := time.Now()
	st := shareState(sh, now)
	if st == api.ShareExpired && sh.Revoked.IsZero() {
		s.markExpired(r.Context(), sh, rq.id)
	}
	if st == api.ShareOK {
		// The rules (sharerules.go): a share they refuse is revoked.
		cur, err := s.shares.CheckShare(r.Context(), sh.ID, nil, now, s.shareRules())
		var b *store.ShareBlocked
		switch {
		case errors.As(err, &b):
			s.revokeBlocked(r.Context(), sh, b.Reason, rq.id)
			st = api.ShareRevoked
		case err != nil && !errors.Is(err, store.ErrShareRevoked) && !errors.Is(err, store.ErrShareUsedUp) && !errors.Is(err, store.ErrShareExpired):
			return storeErr("share.open", err)
		case err != nil:
			st = shareState(cur, now) // revoked, used up or expired since it was read
		}
	}
	rq.rec.Object += " state=" + string(st)
	return s.respond(r.Context(), w, rq, http.StatusOK, api.ShareInfo{RecipientHint: recipientHint(sh.Recipient), Expires: sh.Expires, State: st})
}

// newCode is a uniformly random 6-digit code.
func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

func (s *Server) shareCode(w http.ResponseWriter, r *http.Request, rq *request, sh store.Share) error {
	const op = "share.code"
	if err := noQuery(r, op); err != nil {
		return err
	}
	ctx := r.Context()
	now := time.Now()
	if err := sh.Usable(now); err != nil {
		return s.shareRefusal(ctx, op, rq, sh, err)
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
	c := store.ShareCode{Share: sh.ID, Hash: codeHash(key, sh.ID, code), Created: now, Expires: now.Add(ttl)}
	rq.rec.Status, rq.rec.Result = http.StatusOK, audit.ResultOK
	if err := s.shares.AddShareCode(ctx, c, s.codeLimits(), s.shareRules(), &rq.rec); err != nil {
		rq.rec.Status, rq.rec.Result = 0, ""
		return s.shareRefusal(ctx, op, rq, sh, err)
	}
	s.mutated(rq)
	// Recorded first, mailed second: the limits count every code that
	// may have gone out. The code itself is in no log and no record.
	body := fmt.Sprintf("Your code to open the file shared with you is:\n\n    %s\n\n"+
		"It is good for %d minutes, once. Type it in the page you opened from the link.\n\n"+
		"If you did not open a link to a shared file, ignore this message: without the code nobody can download it.\n",
		code, int(ttl/time.Minute))
	if err := s.sharing.mailer.Send(ctx, sh.Recipient, "Your code for the shared file", body); err != nil {
		s.log.Error("share code not mailed", "request_id", rq.id, "share", sh.ID, "err", err)
		fail := rq.rec
		fail.Result, fail.Status, fail.Object = audit.ResultError, http.StatusServiceUnavailable, rq.rec.Object+" mail failed"
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if err := s.auditLog.AppendAudit(actx, &fail); err != nil {
			s.log.Error("audit record of a failed code mail not written", "request_id", rq.id, "err", err)
		}
		cancel()
		return &Error{Op: op, Kind: KindUnavailable, RetryAfter: time.Minute, Err: err, Msg: "the code could not be mailed: try again in a minute"}
	}
	writeJSON(w, http.StatusOK, api.ShareCodeSent{RecipientHint: recipientHint(sh.Recipient), Expires: c.Expires})
	return nil
}

func (s *Server) shareVerify(w http.ResponseWriter, r *http.Request, rq *request, sh store.Share) error {
	const op = "share.verify"
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
	if err := sh.Usable(now); err != nil {
		return s.shareRefusal(ctx, op, rq, sh, err)
	}
	key, err := s.hmacKey(ctx)
	if err != nil {
		return wrap(op, KindUnavailable, err, "storage unavailable")
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	g := store.ShareGrant{Hash: sha256.Sum256(secret), Expires: now.Add(s.sharing.cfg.GrantTTL)}
	rq.rec.Status, rq.rec.Result = http.StatusOK, audit.ResultOK
	if _, err := s.shares.VerifyShareCode(ctx, sh.ID, codeHash(key, sh.ID, req.Code), g, now, s.codeLimits(), s.shareRules(), &rq.rec); err != nil {
		rq.rec.Status, rq.rec.Result = 0, ""
		return s.shareRefusal(ctx, op, rq, sh, err)
	}
	s.mutated(rq)
	writeJSON(w, http.StatusOK, api.ShareGrant{Grant: base64.RawURLEncoding.EncodeToString(secret), Expires: g.Expires})
	return nil
}

// grantHeader reads "Authorization: Grant <secret>".
func grantHeader(r *http.Request, op string) ([32]byte, error) {
	bad := E(op, KindGrantInvalid, "the download needs Authorization: Grant <grant> (from verifying a code)")
	hs := r.Header.Values("Authorization")
	if len(hs) != 1 {
		return [32]byte{}, bad
	}
	v, ok := strings.CutPrefix(hs[0], api.GrantScheme+" ")
	if !ok {
		return [32]byte{}, bad
	}
	secret, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil || len(secret) != 32 {
		return [32]byte{}, bad
	}
	return sha256.Sum256(secret), nil
}

// shareObject streams the share object to a holder of a live grant: the
// grant is spent and the download counted (with its record) before the
// first byte goes out; any refusal sends none.
func (s *Server) shareObject(w http.ResponseWriter, r *http.Request, rq *request, sh store.Share) error {
	const op = "share.download"
	if err := noQuery(r, op); err != nil {
		return err
	}
	grant, err := grantHeader(r, op)
	if err != nil {
		return err
	}
	ctx := r.Context()
	now := time.Now()
	if err := sh.Usable(now); err != nil {
		return s.shareRefusal(ctx, op, rq, sh, err)
	}
	// The grant and the rules read first: a refused download costs no
	// S3 GET. ReleaseShare checks again in its transaction.
	rules := s.shareRules()
	if _, err := s.shares.CheckShare(ctx, sh.ID, &grant, now, rules); err != nil {
		return s.shareRefusal(ctx, op, rq, sh, err)
	}
	body, size, err := s.blobs.Get(ctx, sh.ObjectKey)
	if err != nil {
		return notStored(op, err, "share object")
	}
	defer body.Close()
	if size != sh.Size {
		return wrap(op, KindInternal, fmt.Errorf("object %s has %d bytes, the share records %d", sh.ObjectKey, size, sh.Size), "share object size mismatch in storage")
	}
	rq.rec.Bytes, rq.rec.Status, rq.rec.Result = size, http.StatusOK, audit.ResultOK
	_, err = s.shares.ReleaseShare(ctx, sh.ID, grant, now, rules, &rq.rec)
	if err != nil {
		rq.rec.Bytes, rq.rec.Status, rq.rec.Result = 0, 0, ""
		return s.shareRefusal(ctx, op, rq, sh, err)
	}
	s.mutated(rq)
	s.extendDeadlines(w, rq, size, 0)
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, io.LimitReader(body, size)); err != nil && !errors.Is(err, context.Canceled) {
		// Headers are out; the page sees a short body and fails to open
		// it. The download is counted: the recipient asks for a new code.
		s.log.Warn("share download cut", "request_id", rq.id, "share", sh.ID, "err", err)
	}
	return nil
}
