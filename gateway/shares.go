package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/alerts"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/share"
	"github.com/mattersync/mattersync/gateway/store"
	"github.com/mattersync/mattersync/web"
)

// ShareStore keeps shares with people outside the firm, their one-time
// codes and download capabilities (docs/SHARING.md). Every change
// appends its audit record in the same transaction.
type ShareStore interface {
	// CreateShare, AddShareCode, VerifyShareCode, ReleaseShare and
	// CheckShare refuse, inside their transaction (or read), a share
	// store.ShareRules refuse: a *store.ShareBlocked.
	CreateShare(ctx context.Context, sh store.Share, r store.ShareRules, rec *audit.Record) error
	// Share returns a share or store.ErrNotFound.
	Share(ctx context.Context, id string) (store.Share, error)
	Shares(ctx context.Context, f store.ShareFilter) ([]store.Share, error)
	// RevokeShares revokes the live shares f selects and returns them;
	// rec (may be nil) is appended only when any was.
	RevokeShares(ctx context.Context, f store.ShareFilter, by, reason string, now time.Time, rec *audit.Record) ([]store.Share, error)
	AddShareCode(ctx context.Context, c store.ShareCode, lim store.CodeLimits, r store.ShareRules, rec *audit.Record) error
	VerifyShareCode(ctx context.Context, id string, hash [32]byte, g store.ShareGrant, now time.Time, lim store.CodeLimits, r store.ShareRules, rec *audit.Record) (store.Share, error)
	ReleaseShare(ctx context.Context, id string, grant [32]byte, now time.Time, r store.ShareRules, rec *audit.Record) (store.Share, error)
	// CheckShare reads whether share id can be used now (and, with a
	// grant, whether that grant is live) without changing anything.
	CheckShare(ctx context.Context, id string, grant *[32]byte, now time.Time, r store.ShareRules) (store.Share, error)
}

// SharingPolicyStore keeps each matter's sharing policy: whether its
// members may share at all (mattersync-admin matter sharing on|off).
type SharingPolicyStore interface {
	SetSharing(ctx context.Context, matter string, p store.SharingPolicy, rec *audit.Record) error
	Sharing(ctx context.Context, matter string) (store.SharingPolicy, error)
}

// Sharing with people outside the firm (docs/SHARING.md). A member asks
// for a share of one file version and sends the share object, which the
// agent sealed under a fresh key that only the link's fragment carries:
// the gateway stores it unread. The recipient's page proves control of the
// recorded address with a one-time code mailed to it, which buys one
// download capability (a grant); the download spends it. Every step is an
// audit record naming the recipient.

// Mailer sends the recipients' codes (share.Mailer).
type Mailer interface {
	Send(ctx context.Context, to, subject, body string) error
}

// sharing is the gateway's sharing state.
type sharing struct {
	cfg    *share.Config // nil: sharing is off
	mailer Mailer
	// sources limits the recipient routes per source address, before
	// anything else is looked at.
	sources *limiter

	// console holds the web assets the share page comes from (built
	// once, on first use).
	console func() (*web.Console, error)

	mu      sync.Mutex // guards codeKey
	codeKey []byte     // HMAC key of the codes' hashes; loaded on first use
}

func newSharing(cfg *share.Config, m Mailer, wc web.Config) (*sharing, error) {
	// Without sharing the routes still answer (not_found), under the
	// default bucket.
	d := share.DefaultConfig()
	sh := &sharing{cfg: cfg, mailer: m, sources: newLimiter(d.RequestsPerSecond, d.Burst),
		console: sync.OnceValues(func() (*web.Console, error) { return web.New(wc) })}
	if cfg == nil {
		return sh, nil
	}
	sh.sources = newLimiter(cfg.RequestsPerSecond, cfg.Burst)
	if sh.mailer == nil {
		mailer, err := share.NewMailer(cfg.SMTP, os.Getenv)
		if err != nil {
			return nil, fmt.Errorf("gateway: sharing: %w", err)
		}
		sh.mailer = mailer
	}
	return sh, nil
}

// codeKeyObject is where the codes' HMAC key is kept: in the bucket, not
// in the database, so that a copy of the database (where the codes'
// hashes are) does not hold the key that makes them brute-forceable, and
// every replica finds the same key.
const codeKeyObject = "g/share-code-key"

// hmacKey returns the codes' HMAC key, creating it on first use: a
// conditional create, so replicas racing at first start agree on one.
func (s *Server) hmacKey(ctx context.Context) ([]byte, error) {
	sh := s.sharing
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.codeKey != nil {
		return sh.codeKey, nil
	}
	read := func() ([]byte, error) {
		body, size, err := s.blobs.Get(ctx, codeKeyObject)
		if err != nil {
			return nil, err
		}
		defer body.Close()
		if size != 32 {
			return nil, fmt.Errorf("gateway: %s has %d bytes, not 32", codeKeyObject, size)
		}
		k := make([]byte, 32)
		if _, err := io.ReadFull(body, k); err != nil {
			return nil, fmt.Errorf("gateway: read %s: %w", codeKeyObject, err)
		}
		return k, nil
	}
	k, err := read()
	if errors.Is(err, blob.ErrNotFound) {
		k = make([]byte, 32)
		rand.Read(k)
		err = s.blobs.Create(ctx, codeKeyObject, bytes.NewReader(k), 32, sha256.Sum256(k))
		if errors.Is(err, blob.ErrExists) {
			k, err = read()
		}
	}
	if err != nil {
		return nil, err
	}
	sh.codeKey = k
	return k, nil
}

// codeHash is what the store keeps of a code: HMAC-SHA256 under the
// gateway's key, bound to the share (another share's code never matches).
func codeHash(key []byte, id, code string) [32]byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("mattersync share code\x00" + id + "\x00" + code))
	var h [32]byte
	copy(h[:], m.Sum(nil))
	return h
}

func (s *Server) codeLimits() store.CodeLimits {
	l := s.sharing.cfg.Codes
	return store.CodeLimits{SentPerShare: l.SentPerShare, SentPerAddress: l.SentPerAddress, WrongPerShare: l.WrongPerShare, WrongPerAddress: l.WrongPerAddress,
		WrongPerShareTotal: l.WrongPerShareTotal}
}

func (s *Server) shareRoutes() {
	s.handle("/v1/matters/{m}/shares", map[string]method{
		http.MethodPost: {"share.create", permRead, s.createShare},
	})
	// A creator revokes their own share with no access to the matter
	// left (removed, screened): ending a link never needs a grant.
	s.handle("/v1/matters/{m}/shares/{id}", map[string]method{
		http.MethodDelete: {"share.revoke", permAny, s.revokeOwnShare},
	})
	s.handle("/v1/admin/shares", map[string]method{
		http.MethodGet: {"admin.share.list", permAdmin, s.listShares},
	})
	s.handle("/v1/admin/shares/{id}", map[string]method{
		http.MethodDelete: {"share.revoke", permAdmin, s.revokeShareAdmin},
	})
	s.handle("/v1/admin/matters/{m}/sharing", map[string]method{
		http.MethodGet: {"admin.sharing.get", permAdmin, s.unscreened(s.sharingGet)},
		http.MethodPut: {"admin.sharing.set", permAdmin, s.unscreened(s.sharingSet)},
	})
}

// newShareID is a share's ID: 128 random bits in lowercase hex.
func newShareID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func validShareID(id string) bool {
	return len(id) == 32 && strings.Trim(id, "0123456789abcdef") == ""
}

// recipientAddress lower-cases to and accepts it only as one bare
// addr-spec (no display name, no list, no comment, no control character).
func recipientAddress(to string) (string, bool) {
	to = strings.ToLower(to)
	if to == "" || len(to) > 254 || strings.ContainsAny(to, "\r\n\t <>,;\"()[]\\") || strings.Count(to, "@") != 1 {
		return "", false
	}
	a, err := mail.ParseAddress(to)
	if err != nil || a.Name != "" || a.Address != to {
		return "", false
	}
	local, domain, _ := strings.Cut(to, "@")
	if local == "" || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return "", false
	}
	for _, r := range to {
		if r < 0x21 || r == 0x7f {
			return "", false
		}
	}
	return to, true
}

// recipientHint shows whose address a code goes to without giving it
// away: "c•••@example.com".
func recipientHint(addr string) string {
	local, domain, _ := strings.Cut(addr, "@")
	r, _ := utf8.DecodeRuneInString(local)
	return string(r) + "•••@" + domain
}

// shareObject names a share in its audit records.
func shareObject(sh store.Share) string {
	return "share=" + sh.ID + " to=" + sh.Recipient
}

// sharingOn tells whether members of matter may share now.
func (s *Server) sharingOn(ctx context.Context, matter string) (bool, error) {
	if s.sharing.cfg == nil {
		return false, nil
	}
	p, err := s.sharingPolicy.Sharing(ctx, matter)
	if err != nil {
		return false, err
	}
	switch p {
	case store.SharingOn:
		return true, nil
	case store.SharingOff:
		return false, nil
	}
	return s.sharing.cfg.Default == share.PolicyOn, nil
}

func (s *Server) createShare(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "share.create"
	if s.sharing.cfg == nil {
		return E(op, KindSharingOff, "this gateway does not share files outside the firm (no sharing: section in its configuration)")
	}
	cfg := s.sharing.cfg
	q, err := queryParams(r, op, "file", "version", "to", "expires", "max_downloads")
	if err != nil {
		return err
	}
	file, err := parseID(rq, op, "file", q.Get("file"))
	if err != nil {
		return err
	}
	if !q.Has("version") {
		return E(op, KindInvalid, "version is required")
	}
	version, err := intParam(q, op, "version", 0, 1, 1<<53)
	if err != nil {
		return err
	}
	to, ok := recipientAddress(q.Get("to"))
	if !ok {
		return E(op, KindInvalid, "to must be one bare mail address, e.g. client@example.com")
	}
	expires, err := intParam(q, op, "expires", int64(cfg.DefaultExpiry/time.Second), 60, int64(cfg.MaxExpiry/time.Second))
	if err != nil {
		return err
	}
	maxDownloads, err := intParam(q, op, "max_downloads", cfg.DefaultMaxDownloads, 1, cfg.MaxDownloads)
	if err != nil {
		return err
	}
	size := r.ContentLength
	switch {
	case size < 0:
		return E(op, KindLengthRequired, "Content-Length is required")
	case size == 0:
		return E(op, KindInvalid, "the body must be the sealed share object")
	case size > cfg.MaxObjectBytes:
		return E(op, KindTooLarge, "share object larger than %d bytes (sharing.max_object_bytes)", cfg.MaxObjectBytes)
	}
	sum, err := checksumHeader(r, op)
	if err != nil {
		return err
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
	v, err := s.files.Version(ctx, rq.matter, file, version)
	if err != nil {
		return notFound(op, err, "no such file version")
	}
	if v.Deleted {
		return E(op, KindNotFound, "version %d of the file is its deletion: nothing to share", version)
	}
	// The store keeps microseconds: the answer says what it keeps.
	now := time.Now().UTC().Truncate(time.Microsecond)
	sh := store.Share{ID: newShareID(), Matter: rq.matter, File: file, Version: version, Recipient: to,
		Entity: rq.ident.Entity, User: rq.ident.User, Created: now, Expires: now.Add(time.Duration(expires) * time.Second),
		MaxDownloads: maxDownloads, Size: size}
	if sh.ObjectKey, err = blob.ShareKey(sh.Matter, sh.ID); err != nil {
		return wrap(op, KindInternal, err, "internal error")
	}
	rq.rec.Object = shareObject(sh) + " file=" + file.String() + "@" + strconv.FormatInt(version, 10) +
		" expires=" + sh.Expires.UTC().Format(time.RFC3339) + " max_downloads=" + strconv.FormatInt(maxDownloads, 10)
	// The object first, then the record: a share never points at nothing
	// (a failed record leaves an object no share names).
	s.extendDeadlines(w, rq, size, 0)
	src := &sourceReader{r: r.Body}
	if err := s.blobs.Create(ctx, sh.ObjectKey, src, size, sum); err != nil {
		if src.err != nil || src.n < size {
			return wrap(op, KindIncompleteBody, err, fmt.Sprintf("body ended after %d of %d bytes", src.n, size))
		}
		return storeErr(op, err)
	}
	rq.rec.Bytes, rq.rec.Status, rq.rec.Result = size, http.StatusCreated, audit.ResultOK
	// The rules again, in the record's transaction: a deny, close,
	// shred, policy change or membership change that committed while the
	// body streamed refuses the share (its hook ran before the share
	// existed).
	rules := s.shareRules()
	rules.Token = rq.ident.IssuedAt.Add(-s.cfg.Vault.ReissueLeeway)
	if err := s.shares.CreateShare(ctx, sh, rules, &rq.rec); err != nil {
		rq.rec.Bytes, rq.rec.Status, rq.rec.Result = 0, 0, ""
		s.log.Warn("share object stored but the share not recorded: it is garbage", "request_id", rq.id, "key", sh.ObjectKey, "err", err)
		if kind, msg, ok := blockedCreate(err); ok {
			return wrap(op, kind, err, msg)
		}
		return storeErr(op, err)
	}
	s.mutated(rq)
	out := shareBody(sh, cfg, now)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// shareBody is sh as the API answers it.
func shareBody(sh store.Share, cfg *share.Config, now time.Time) api.Share {
	out := api.Share{ID: sh.ID, Recipient: sh.Recipient, Expires: sh.Expires, MaxDownloads: sh.MaxDownloads,
		Matter: sh.Matter, File: sh.File.String(), Version: sh.Version, Size: sh.Size, Downloads: sh.Downloads,
		CreatorID: sh.Entity, Creator: sh.User, Created: sh.Created, State: shareState(sh, now),
		RevokedBy: sh.RevokedBy, RevokeReason: sh.RevokeReason}
	if cfg != nil {
		out.URL = cfg.Link(sh.ID)
	}
	if !sh.Revoked.IsZero() {
		t := sh.Revoked
		out.Revoked = &t
	}
	return out
}

// reasonExpired is the revocation reason of a share the gateway marked
// expired: the mark is what makes share.expire recorded once per share
// whichever replica sees the expiry first.
const reasonExpired = "expired"

// shareState is what the recipient's page is told of sh.
func shareState(sh store.Share, now time.Time) api.ShareState {
	switch err := sh.Usable(now); {
	case err == nil:
		return api.ShareOK
	case errors.Is(err, store.ErrShareRevoked) && sh.RevokeReason == reasonExpired && sh.RevokedBy == "",
		errors.Is(err, store.ErrShareExpired):
		return api.ShareExpired
	case errors.Is(err, store.ErrShareRevoked):
		return api.ShareRevoked
	}
	return api.ShareUsedUp
}

// shareRefusal is the answer to a use of sh the store (or sh.Usable)
// refused with err. The first refusal for expiry marks the share expired
// with its share.expire record.
func (s *Server) shareRefusal(ctx context.Context, op string, rq *request, sh store.Share, err error) error {
	var b *store.ShareBlocked
	switch {
	case errors.As(err, &b):
		s.revokeBlocked(ctx, sh, b.Reason, rq.id)
		return E(op, KindShareRevoked, "this link was revoked by the firm")
	case errors.Is(err, store.ErrCodeCap):
		reason := fmt.Sprintf("%d wrong codes", s.sharing.cfg.Codes.WrongPerShareTotal)
		// The creator is told through the log and the share_codes alert
		// (the record's marker).
		s.log.Warn("share revoked after too many wrong codes", "share", sh.ID, "matter", sh.Matter, "creator", sh.User, "request_id", rq.id)
		s.revokeMarked(ctx, sh, alerts.ObjectCodeCap, reason, rq.id)
		return E(op, KindShareRevoked, "this link was revoked by the firm")
	case errors.Is(err, store.ErrShareExpired):
		s.markExpired(ctx, sh, rq.id)
		return E(op, KindShareExpired, "this link expired on %s", sh.Expires.UTC().Format(time.RFC1123))
	case errors.Is(err, store.ErrShareRevoked):
		if shareState(sh, time.Now()) == api.ShareExpired {
			return E(op, KindShareExpired, "this link expired on %s", sh.Expires.UTC().Format(time.RFC1123))
		}
		return E(op, KindShareRevoked, "this link was revoked by the firm")
	case errors.Is(err, store.ErrShareUsedUp):
		return E(op, KindShareUsedUp, "this link's %d downloads are used up", sh.MaxDownloads)
	case errors.Is(err, store.ErrCodeWrong):
		return E(op, KindCodeWrong, "wrong, used or expired code")
	case errors.Is(err, store.ErrCodeLimit):
		return &Error{Op: op, Kind: KindCodeLimit, RetryAfter: time.Hour,
			Msg: "too many codes for this link or address in the last hour: try again later"}
	case errors.Is(err, store.ErrGrantInvalid):
		return E(op, KindGrantInvalid, "the download permission is unknown, used or expired: verify a new code")
	case errors.Is(err, store.ErrNotFound):
		return E(op, KindNotFound, "no such share")
	}
	return storeErr(op, err)
}

// markExpired records share.expire for sh, once: the revocation's
// condition (not revoked yet) makes a second mark, on any replica, a no-op.
// RevokedBy stays empty: nobody revoked it.
func (s *Server) markExpired(ctx context.Context, sh store.Share, requestID string) {
	now := time.Now()
	rec := &audit.Record{Time: now, Matter: sh.Matter, Action: "share.expire", Object: shareObject(sh) + " expired=" + sh.Expires.UTC().Format(time.RFC3339),
		Result: audit.ResultOK, Status: http.StatusOK, RequestID: requestID}
	done, err := s.shares.RevokeShares(context.WithoutCancel(ctx), store.ShareFilter{ID: sh.ID}, "", reasonExpired, now, rec)
	if err != nil {
		s.log.Warn("share.expire not recorded (the next refusal tries again)", "share", sh.ID, "err", err)
		return
	}
	if len(done) > 0 {
		s.metrics.auditAppends.WithLabelValues("ok").Inc()
	}
}

// sweepExpiredShares records share.expire for the shares that expired
// without anyone asking for them, and revokes those the rules refuse
// (sharerules.go), every sharing.expire_sweep until ctx ends. Replicas
// all sweep; the mark makes each record once.
func (s *Server) sweepExpiredShares(ctx context.Context) {
	if s.sharing.cfg == nil {
		return
	}
	t := time.NewTicker(s.sharing.cfg.ExpireSweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.sweepShares(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("shares not swept (the next sweep tries again)", "err", err)
		}
	}
}

// revokeShares revokes the live shares f selects, one transaction and one
// share.revoke record (naming the recipient) per share, by by for reason.
// rec is the template of the records (time, who, request ID).
func (s *Server) revokeShares(ctx context.Context, f store.ShareFilter, by, reason string, rec audit.Record) ([]store.Share, error) {
	if f.Entity == "" && f.Matter == "" {
		// An empty filter selects every share of the firm.
		return nil, errors.New("gateway: revoke shares: no entity or matter named")
	}
	list, err := s.shares.Shares(ctx, f)
	if err != nil {
		return nil, err
	}
	var out []store.Share
	now := time.Now()
	for _, sh := range list {
		if !sh.Revoked.IsZero() {
			continue
		}
		r := rec
		r.Time, r.Matter, r.Action, r.Result, r.Status = now, sh.Matter, "share.revoke", audit.ResultOK, http.StatusOK
		r.Object = shareObject(sh) + " reason=" + strconv.Quote(reason)
		done, err := s.shares.RevokeShares(ctx, store.ShareFilter{ID: sh.ID}, by, reason, now, &r)
		if err != nil {
			return out, err
		}
		if len(done) > 0 {
			s.metrics.auditAppends.WithLabelValues("ok").Inc()
		}
		out = append(out, done...)
	}
	// A share recorded after the listing (its creation in flight when
	// the user was denied or the matter closed) is revoked too, with one
	// record for all of them.
	r := rec
	r.Time, r.Matter, r.Action, r.Result, r.Status = now, f.Matter, "share.revoke", audit.ResultOK, http.StatusOK
	r.Object = "shares of entity=" + f.Entity + " matter=" + f.Matter + " created during the revocation reason=" + strconv.Quote(reason)
	late, err := s.shares.RevokeShares(ctx, f, by, reason, now, &r)
	if err != nil {
		return out, err
	}
	if len(late) > 0 {
		s.metrics.auditAppends.WithLabelValues("ok").Inc()
	}
	return append(out, late...), nil
}

// revokeSharesOf is the hook of user revocation, matter close and shred
// and sharing off: it revokes the shares it finds, trying three times.
// It is not what stops the links: every use checks the rules in its own
// transaction (sharerules.go), so a share the hook missed or failed to
// revoke is refused anyway, revoked at its first refused use, and by the
// next sweep (sharing.expire_sweep) if nobody uses it.
func (s *Server) revokeSharesOf(ctx context.Context, f store.ShareFilter, by, reason string, rq *request) {
	rec := audit.Record{Entity: rq.ident.Entity, User: rq.ident.User, Device: rq.rec.Device, Source: rq.rec.Source, RequestID: rq.id}
	ctx = context.WithoutCancel(ctx)
	s.revokeRequestsOf(ctx, f, by, reason, rq) // requests.go
	var err error
	for try := 0; try < 3; try++ {
		if try > 0 {
			time.Sleep(time.Duration(try) * 200 * time.Millisecond)
		}
		if _, err = s.revokeShares(ctx, f, by, reason, rec); err == nil {
			return
		}
	}
	s.log.Error("shares not revoked now: their links are refused at use and the next sweep revokes them", "matter", f.Matter, "entity", f.Entity, "reason", reason, "err", err)
}

func (s *Server) revokeBody(w http.ResponseWriter, r *http.Request, op string) (string, error) {
	if _, err := queryParams(r, op); err != nil {
		return "", err
	}
	var req api.ShareRevokeRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, op, 16<<10, &req); err != nil {
			return "", err
		}
	}
	if !validText(req.Reason, 1024) {
		return "", E(op, KindInvalid, "reason (1024) too long or has control characters")
	}
	return req.Reason, nil
}

// revokeOwnShare revokes a share its creator made, whatever the creator's
// access to the matter now. Another's share, or one of another matter, is
// not found: a caller learns nothing of shares but their own.
func (s *Server) revokeOwnShare(w http.ResponseWriter, r *http.Request, rq *request) error {
	sh, reason, err := linkToRevoke(s, w, r, rq, "share", s.shares.Share)
	if err != nil {
		return err
	}
	if sh.Matter != rq.matter || sh.Entity != rq.ident.Entity {
		return E("share.revoke", KindNotFound, "no such share")
	}
	return s.revokeOne(w, r, rq, sh, reason)
}

func (s *Server) revokeShareAdmin(w http.ResponseWriter, r *http.Request, rq *request) error {
	sh, reason, err := linkToRevoke(s, w, r, rq, "share", s.shares.Share)
	if err != nil {
		return err
	}
	rq.matter, rq.rec.Matter = sh.Matter, sh.Matter
	if screenedFrom(rq.ident, sh.Matter) {
		return E("share.revoke", KindNotFound, "no such share")
	}
	return s.revokeOne(w, r, rq, sh, reason)
}

// linkToRevoke reads what a revocation of a link to outside the firm (kind
// "share" or "request") names: the ID in the path, the reason in the body,
// the link from the store (load). A malformed or unknown ID is not found.
func linkToRevoke[T any](s *Server, w http.ResponseWriter, r *http.Request, rq *request, kind string, load func(context.Context, string) (T, error)) (T, string, error) {
	op, missing := kind+".revoke", "no such "+kind
	var zero T
	id := r.PathValue("id")
	if !validShareID(id) {
		rq.rec.Object = quoteBad(id)
		return zero, "", E(op, KindNotFound, "%s", missing)
	}
	rq.rec.Object = kind + "=" + id
	reason, err := s.revokeBody(w, r, op)
	if err != nil {
		return zero, "", err
	}
	link, err := load(r.Context(), id)
	if err != nil {
		return zero, "", notFound(op, err, missing)
	}
	return link, reason, nil
}

// revokeOne revokes sh with the request's own record; revoking a share
// revoked (or expired) already answers it unchanged, audited as answered.
func (s *Server) revokeOne(w http.ResponseWriter, r *http.Request, rq *request, sh store.Share, reason string) error {
	const op = "share.revoke"
	if reason == "" {
		reason = "revoked by " + rq.ident.User
	}
	rq.rec.Matter = sh.Matter
	rq.rec.Object = shareObject(sh) + " reason=" + strconv.Quote(reason)
	rq.rec.Status, rq.rec.Result = http.StatusOK, audit.ResultOK
	done, err := s.shares.RevokeShares(r.Context(), store.ShareFilter{ID: sh.ID}, rq.ident.User, reason, time.Now(), &rq.rec)
	if err != nil {
		rq.rec.Status, rq.rec.Result = 0, ""
		return storeErr(op, err)
	}
	out := api.ShareRevocation{Revoked: []api.Share{}}
	now := time.Now()
	for _, d := range done {
		out.Revoked = append(out.Revoked, shareBody(d, s.sharing.cfg, now))
	}
	if len(done) == 0 {
		rq.rec.Object = shareObject(sh) + " already revoked or expired"
		return s.respond(r.Context(), w, rq, http.StatusOK, out)
	}
	s.mutated(rq)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// listShares answers the shares of a matter and/or a creator (user: the
// entity ID or the user name), but those of matters the administrator is
// screened from.
func (s *Server) listShares(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.share.list"
	q, err := queryParams(r, op, "matter", "user")
	if err != nil {
		return err
	}
	f := store.ShareFilter{Matter: q.Get("matter")}
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
	list, err := s.shares.Shares(r.Context(), f)
	if err != nil {
		return storeErr(op, err)
	}
	out := api.ShareList{Shares: []api.Share{}}
	now := time.Now()
	for _, sh := range list {
		if user != "" && sh.Entity != user && sh.User != user || screenedFrom(rq.ident, sh.Matter) {
			continue
		}
		out.Shares = append(out.Shares, shareBody(sh, s.sharing.cfg, now))
	}
	return s.respond(r.Context(), w, rq, http.StatusOK, out)
}

func policyName(p store.SharingPolicy) string {
	switch p {
	case store.SharingOn:
		return api.SharingOn
	case store.SharingOff:
		return api.SharingOff
	}
	return api.SharingDefault
}

func (s *Server) sharingBody(ctx context.Context, matter string) (api.Sharing, error) {
	p, err := s.sharingPolicy.Sharing(ctx, matter)
	if err != nil {
		return api.Sharing{}, err
	}
	on, err := s.sharingOn(ctx, matter)
	if err != nil {
		return api.Sharing{}, err
	}
	out := api.Sharing{Matter: matter, Sharing: policyName(p), Effective: api.SharingOff}
	if on {
		out.Effective = api.SharingOn
	}
	return out, nil
}

func (s *Server) sharingGet(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.sharing.get"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	out, err := s.sharingBody(r.Context(), rq.matter)
	if err != nil {
		return storeErr(op, err)
	}
	rq.rec.Object = "matter=" + rq.matter
	return s.respond(r.Context(), w, rq, http.StatusOK, out)
}

// sharingSet sets a matter's policy. Turning it off also revokes the
// matter's live shares: off means nothing of the matter leaves by link.
func (s *Server) sharingSet(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "admin.sharing.set"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	var req api.SharingRequest
	if err := decodeJSON(w, r, op, 16<<10, &req); err != nil {
		return err
	}
	var p store.SharingPolicy
	switch req.Sharing {
	case api.SharingOn:
		p = store.SharingOn
	case api.SharingOff:
		p = store.SharingOff
	default:
		return E(op, KindInvalid, `sharing must be "on" or "off"`)
	}
	rq.rec.Object = "matter=" + rq.matter + " sharing=" + req.Sharing
	rq.rec.Status, rq.rec.Result = http.StatusOK, audit.ResultOK
	if err := s.sharingPolicy.SetSharing(r.Context(), rq.matter, p, &rq.rec); err != nil {
		rq.rec.Status, rq.rec.Result = 0, ""
		return storeErr(op, err)
	}
	s.mutated(rq)
	if p == store.SharingOff {
		s.revokeSharesOf(r.Context(), store.ShareFilter{Matter: rq.matter}, rq.ident.User, "sharing turned off", rq)
	}
	out, err := s.sharingBody(r.Context(), rq.matter)
	if err != nil {
		return storeErr(op, err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
