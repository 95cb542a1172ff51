// Package gateway is mattersync's gateway: the only door to the storage. It
// authenticates every request with a Vault identity token, authorizes it
// against the caller's matter roles and the deny list, stores ciphertext in
// S3 under keys it builds itself, keeps metadata and the change feed in the
// store, and writes one hash-chained audit record per request, refusing the
// request if the record cannot be written.
//
// Subpackages: api (wire types), auth (tokens, roles), blob (S3), store
// (metadata; sqlite and postgres), audit (chain, checkpoints, verification),
// client (Go client of this API).
package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/alerts"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/lifecycle"
	"github.com/mattersync/mattersync/gateway/store"
	"github.com/mattersync/mattersync/web"
)

// Blobs is the object storage as the gateway uses it (blob.Store).
type Blobs interface {
	// Create never replaces an object (chunks are immutable; manifests
	// get a key per commit attempt): blob.ErrExists.
	Create(ctx context.Context, key string, r io.Reader, size int64, sum [32]byte) error
	Get(ctx context.Context, key string) (io.ReadCloser, int64, error)
	Size(ctx context.Context, key string) (int64, error)
	Ready(ctx context.Context) error
}

// Verifier checks bearer tokens (auth.Verifier).
type Verifier interface {
	Verify(ctx context.Context, token string) (*auth.Identity, error)
	// KnownKey reports, without verifying or fetching anything, whether
	// token names a signing key the verifier already has.
	KnownKey(ctx context.Context, token string) bool
	Ready(ctx context.Context) error
}

// Stores is the metadata store by role, each role defined next to the
// handlers that use it. One engine (sqlite.Store, postgres.Store) plays
// them all: StoresOf. Whoever opened the store closes it; the gateway
// never does.
type Stores struct {
	Chunks ChunkStore // handlers.go
	Files  FileStore  // handlers.go
	Holds  HoldStore  // admin.go
	Epochs EpochStore // admin.go
	Usage  UsageStore // admin.go
	Deny   DenyStore  // live.go
	Audit  AuditStore // checkpoint.go
	Ping   Pinger     // metrics.go
	// Members keeps the membership history (membership.go).
	Members MembershipStore
	// Witness is what agents witness, and resyncs (witness.go).
	Witness WitnessStore
	// Closed keeps which matters are closed (close.go).
	Closed ClosedStore
	// Devices keeps the device inventory (devices.go).
	Devices DeviceStore
	// Presence keeps who has which document open (presence.go).
	Presence PresenceStore
	// Shares keeps shares with people outside the firm (shares.go).
	Shares ShareStore
	// Sharing keeps each matter's sharing policy (shares.go).
	Sharing SharingPolicyStore
	// Requests and Drops keep file requests and their uploads
	// (requests.go).
	Requests RequestStore
	Drops    DropStore
	// Lifecycle is the roles of retention, purge and garbage collection
	// (gateway/lifecycle).
	Lifecycle lifecycle.Stores
	// Push, optional, pushes other replicas' changes (live.go); without
	// it a replica learns of them by polling only.
	Push Pusher
}

// StoresOf gives every role st plays to st. A role it does not play stays
// nil, and Check (and New) name it (no interface lists all
// roles: each stays small, defined by its user).
func StoresOf(st any) Stores {
	var s Stores
	s.Chunks, _ = st.(ChunkStore)
	s.Files, _ = st.(FileStore)
	s.Holds, _ = st.(HoldStore)
	s.Epochs, _ = st.(EpochStore)
	s.Usage, _ = st.(UsageStore)
	s.Deny, _ = st.(DenyStore)
	s.Audit, _ = st.(AuditStore)
	s.Ping, _ = st.(Pinger)
	s.Members, _ = st.(MembershipStore)
	s.Witness, _ = st.(WitnessStore)
	s.Closed, _ = st.(ClosedStore)
	s.Devices, _ = st.(DeviceStore)
	s.Presence, _ = st.(PresenceStore)
	s.Shares, _ = st.(ShareStore)
	s.Sharing, _ = st.(SharingPolicyStore)
	s.Requests, _ = st.(RequestStore)
	s.Drops, _ = st.(DropStore)
	s.Lifecycle = lifecycle.StoresOf(st)
	s.Push, _ = st.(Pusher)
	return s
}

// Check names the roles s lacks, if any.
func (s Stores) Check() error {
	var m []string
	for _, r := range []struct {
		name string
		set  bool
	}{
		{"ChunkStore", s.Chunks != nil}, {"FileStore", s.Files != nil}, {"HoldStore", s.Holds != nil},
		{"EpochStore", s.Epochs != nil}, {"UsageStore", s.Usage != nil}, {"DenyStore", s.Deny != nil},
		{"AuditStore", s.Audit != nil}, {"Pinger", s.Ping != nil}, {"MembershipStore", s.Members != nil},
		{"WitnessStore", s.Witness != nil},
		{"ClosedStore", s.Closed != nil},
		{"DeviceStore", s.Devices != nil},
		{"PresenceStore", s.Presence != nil},
		{"ShareStore", s.Shares != nil},
		{"SharingPolicyStore", s.Sharing != nil},
		{"RequestStore", s.Requests != nil},
		{"DropStore", s.Drops != nil},
	} {
		if !r.set {
			m = append(m, r.name)
		}
	}
	m = append(m, s.Lifecycle.Missing()...)
	if len(m) > 0 {
		return fmt.Errorf("the store lacks %s", strings.Join(m, ", "))
	}
	return nil
}

// Deps are the gateway's collaborators.
type Deps struct {
	Stores   Stores
	Blobs    Blobs
	Verifier Verifier
	// SigningKey signs audit checkpoints.
	SigningKey ed25519.PrivateKey
	// TrustedKeys verify checkpoints besides SigningKey's public key.
	TrustedKeys []ed25519.PublicKey
	// Anchors keep a copy of every signed checkpoint outside the database
	// (anchors.go); none is allowed (a warning at startup).
	Anchors []Anchor
	// AlertSinks receive the alerts of audit.alerts (alerts.go).
	AlertSinks []alerts.Sink
	Logger     *slog.Logger
	// Registerer receives the metrics (nil: a private registry).
	Registerer prometheus.Registerer
	// Gatherer serves /metrics (nil: the private registry).
	Gatherer prometheus.Gatherer
	// Mailer sends share recipients their codes; nil: one from the
	// config's sharing.smtp (credentials from the environment).
	Mailer Mailer
	// LifecycleBlobs is the bucket as purge and garbage collection use
	// it; nil: Blobs, if it can (blob.Store and memblob.Store can). Without
	// one the lifecycle is off and its routes answer 503.
	LifecycleBlobs lifecycle.Blobs
}

// Server is the gateway's HTTP handler and its background work.
type Server struct {
	cfg Config
	// The store by role: a handler uses only the roles it needs.
	chunks   ChunkStore
	files    FileStore
	holds    HoldStore
	epochs   EpochStore
	usage    UsageStore
	deny     DenyStore
	pusher   Pusher // nil: the store pushes nothing (SQLite)
	auditLog AuditStore
	pinger   Pinger
	// memberships keeps the membership history.
	memberships MembershipStore
	witness     WitnessStore
	closed      ClosedStore
	devices     DeviceStore
	sightings   *sightings // devices.go
	// revokedReports limits the device reports of callers the deny list
	// refuses, which the per-user limiter never sees (devices.go).
	revokedReports *limiter
	presence       PresenceStore
	presenceHub    *presenceHub
	blobs          Blobs
	verifier       Verifier
	key            ed25519.PrivateKey
	keys           []ed25519.PublicKey
	log            *slog.Logger
	metrics        *metrics
	gatherer       prometheus.Gatherer
	proxies        []*net.IPNet
	live           *live
	limiter        *limiter
	unauth         *limiter // failed authentications per source
	collapse       *collapser
	inflight       *inflight
	signer         signer
	anchors        []Anchor
	mux            *http.ServeMux

	anchorMetrics *anchorMetrics
	alerting      *alerting
	// lifecycle runs purge and garbage collection; nil if off.
	lifecycle      *lifecycle.Runner
	lifecycleRoles lifecycle.Stores

	// Shares with people outside the firm (shares.go, sharepage.go).
	shares        ShareStore
	sharingPolicy SharingPolicyStore
	requests      RequestStore
	drops         DropStore
	sharing       *sharing
}

// New builds a Server. It loads the deny list once, so the gateway never
// serves before it knows whom to refuse.
func New(ctx context.Context, cfg Config, d Deps) (*Server, error) {
	if d.Blobs == nil || d.Verifier == nil || d.SigningKey == nil {
		return nil, errors.New("gateway: blobs, verifier and signing key are required")
	}
	if err := d.Stores.Check(); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg, gatherer := d.Registerer, d.Gatherer
	if reg == nil {
		r := prometheus.NewRegistry()
		reg, gatherer = r, r
	}
	s := &Server{
		cfg: cfg, chunks: d.Stores.Chunks, files: d.Stores.Files, holds: d.Stores.Holds, epochs: d.Stores.Epochs,
		usage: d.Stores.Usage, deny: d.Stores.Deny, pusher: d.Stores.Push, auditLog: d.Stores.Audit, pinger: d.Stores.Ping, blobs: d.Blobs, verifier: d.Verifier, key: d.SigningKey,
		keys: append([]ed25519.PublicKey{d.SigningKey.Public().(ed25519.PublicKey)}, d.TrustedKeys...),
		log:  log, gatherer: gatherer,
		limiter:  newLimiter(cfg.Limits.RequestsPerSecond, cfg.Limits.Burst),
		unauth:   newLimiter(cfg.Limits.UnauthenticatedPerSecond, cfg.Limits.UnauthenticatedBurst),
		collapse: newCollapser(cfg.Audit.RefusalRecordsPerSecond),
		inflight: newInflight(cfg.Limits.MaxInflightBytes, cfg.Limits.MaxConcurrentPerUser, cfg.Limits.MaxReadsPerUser, cfg.Limits.MaxRequestsPerUser),
		mux:      http.NewServeMux(),
		anchors:  d.Anchors,

		memberships:    d.Stores.Members,
		witness:        d.Stores.Witness,
		closed:         d.Stores.Closed,
		devices:        d.Stores.Devices,
		sightings:      newSightings(),
		revokedReports: newLimiter(1/revokedReportEvery.Seconds(), 1),
		presence:       d.Stores.Presence,
		presenceHub:    newPresenceHub(d.Stores.Presence),
		shares:         d.Stores.Shares,
		sharingPolicy:  d.Stores.Sharing,
		requests:       d.Stores.Requests,
		drops:          d.Stores.Drops,
	}
	var err error
	if s.sharing, err = newSharing(cfg.Sharing, d.Mailer, web.Config{VaultAddress: cfg.Vault.Address, HSTS: cfg.TLS.CertFile != ""}); err != nil {
		return nil, err
	}
	for _, p := range cfg.TrustedProxies {
		_, n, err := net.ParseCIDR(p)
		if err != nil {
			return nil, fmt.Errorf("gateway: trusted proxy %q: %w", p, err)
		}
		s.proxies = append(s.proxies, n)
	}
	if s.metrics, err = newMetrics(reg); err != nil {
		return nil, err
	}
	if s.anchorMetrics, err = newAnchorMetrics(reg); err != nil {
		return nil, err
	}
	if s.alerting, err = newAlerting(s, d.AlertSinks, reg); err != nil {
		return nil, fmt.Errorf("gateway: alerts: %w", err)
	}
	s.lifecycleRoles = d.Stores.Lifecycle
	if err := s.startLifecycle(d, reg); err != nil {
		return nil, err
	}
	s.live = newLive(d.Stores.Deny, log, s.metrics)
	if err := s.live.refresh(ctx, true); err != nil {
		return nil, fmt.Errorf("gateway: load deny list: %w", err)
	}
	s.routes()
	return s, nil
}

// Run does the background work until ctx ends: polling the store for other
// replicas' deny-list entries and commits, and signing audit checkpoints. A
// last checkpoint is signed on the way out.
func (s *Server) Run(ctx context.Context) error {
	// The store poll has a goroutine of its own: the deny list's freshness
	// is what every request is refused on (503) when it lapses, so nothing
	// else may hold it up. It shared this loop with checkpoint signing,
	// which reads and hashes every record since the last checkpoint and
	// writes the anchors (up to 10 s each): a checkpoint slower than
	// deny_max_staleness made the replica refuse everything, and fail
	// /readyz, once a checkpoint interval (the 503s of the 50-agent
	// failover run, docs/PERFORMANCE.md).
	polled := make(chan struct{})
	go func() { s.pollStore(ctx); close(polled) }()
	defer func() { <-polled }()
	if s.pusher != nil {
		listened := make(chan struct{})
		go func() { s.listenStore(ctx, s.pusher); close(listened) }()
		defer func() { <-listened }()
	}
	cp := time.NewTicker(s.cfg.Audit.CheckpointInterval)
	defer cp.Stop()
	summarized := make(chan struct{})
	go func() { s.summarizeFailures(ctx, s.cfg.Audit.RefusalSummaryInterval); close(summarized) }()
	alerted := make(chan struct{})
	go func() { s.runAlerts(ctx); close(alerted) }()
	defer func() { <-alerted }()
	presenceDone := make(chan struct{})
	go func() { s.runPresence(ctx, s.cfg.Limits.PollInterval); close(presenceDone) }()
	defer func() { <-presenceDone }()
	swept := make(chan struct{})
	go func() { s.sweepExpiredShares(ctx); close(swept) }()
	defer func() { <-swept }()
	lifecycleDone := make(chan struct{})
	go func() {
		if s.lifecycle != nil {
			s.lifecycle.Run(ctx)
		}
		close(lifecycleDone)
	}()
	for {
		select {
		case <-ctx.Done():
			// The last summaries first, so the last checkpoint covers them.
			<-summarized
			<-lifecycleDone
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := s.Checkpoint(fctx); err != nil {
				s.log.Error("final audit checkpoint failed", "err", err)
			}
			return nil
		case <-cp.C:
			if err := s.Checkpoint(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("audit checkpoint failed", "err", err)
			}
		}
	}
}

// pollStore reads the deny list and change generations every
// poll_interval until ctx ends (live.refresh), and at once when the store
// pushes a deny-list change or its push connection was re-established
// (listenStore).
func (s *Server) pollStore(ctx context.Context) {
	poll := time.NewTicker(s.cfg.Limits.PollInterval)
	defer poll.Stop()
	for {
		force := false
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		case <-s.live.kick:
			force = true
		}
		if err := s.live.refresh(ctx, force); err != nil && ctx.Err() == nil {
			s.log.Warn("store poll failed", "err", err)
		}
	}
}

// listenStore holds the store's push connection until ctx ends, again
// after each failure (backing off up to listenBackoff): every deny-list
// change and every other replica's commit arrives within a round trip
// instead of the next poll. The poll goes on beside it: it bounds the
// deny list's staleness (deny_max_staleness), and catches whatever a
// lost push missed.
func (s *Server) listenStore(ctx context.Context, p Pusher) {
	wait := 100 * time.Millisecond
	var lost time.Time // when the connection was last lost
	for ctx.Err() == nil {
		began, up := time.Now(), false
		err := p.Listen(ctx, func(ev store.Push) {
			switch ev.Kind {
			case store.PushResync:
				if up = true; !lost.IsZero() {
					s.log.Info("store push connection back", "after", time.Since(lost).Round(time.Millisecond).String())
				}
				s.metrics.listening.Set(1)
				s.metrics.pushes.WithLabelValues("resync").Inc()
				s.live.kickRefresh()
			case store.PushDeny:
				s.metrics.pushes.WithLabelValues("deny").Inc()
				s.live.kickRefresh()
			case store.PushCommit:
				s.metrics.pushes.WithLabelValues("commit").Inc()
				s.live.woken(ev.Matter)
			}
		})
		s.metrics.listening.Set(0)
		if ctx.Err() != nil {
			return
		}
		if up {
			lost = time.Now()
			s.log.Warn("store push connection lost; polling only until it is back", "err", err)
		} else {
			s.log.Warn("store push connection not established; polling only", "err", err, "retry_in", wait.String())
		}
		if time.Since(began) > listenBackoff {
			wait = 100 * time.Millisecond // it had been up: try again soon
		}
		if !sleepCtx(ctx, wait) {
			return
		}
		wait = min(2*wait, listenBackoff)
	}
}

// listenBackoff bounds the wait between attempts to re-establish the
// store's push connection.
const listenBackoff = 5 * time.Second

// sleepCtx sleeps d, or less if ctx ends first (then it reports false).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Handler returns the gateway's API handler (Config.Listen), with the web
// console's static assets at /console/ (console.go).
func (s *Server) Handler() http.Handler { return s.withConsole(http.HandlerFunc(s.serveHTTP)) }

// request is one API request in flight.
type request struct {
	id       string
	start    time.Time
	route    string
	ident    *auth.Identity
	matter   string
	rec      audit.Record
	appended bool // rec is in the chain (alone or with the change)
	preAuth  bool // refused before the caller was authenticated
}

// perm is what a route requires.
type perm int

const (
	permAny   perm = iota // any authenticated, non-denied caller
	permRead              // ro or rw on {m}
	permWrite             // rw on {m}
	permAdmin             // member of mattersync-admins
)

type handlerFunc func(w http.ResponseWriter, r *http.Request, rq *request) error

// method is one method of a route.
type method struct {
	action string
	perm   perm
	h      handlerFunc
}

// handle registers a path pattern with its methods. Dispatching methods
// here (not in ServeMux) keeps 405 answers JSON and audited.
func (s *Server) handle(pattern string, methods map[string]method) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		rq := requestFrom(r)
		rq.route = pattern
		m, ok := methods[r.Method]
		if ok {
			rq.rec.Action = m.action
		}
		// Recorded even if the token is refused: "someone tried matter X".
		if mv := r.PathValue("m"); format.ValidateMatterID(mv) == nil {
			rq.rec.Matter = mv
		}
		if err := s.authenticate(r, rq); err != nil {
			s.fail(w, rq, asError("auth", err))
			return
		}
		if !ok {
			// The deny list and the rate limit first: a refusal costs an
			// audit append, which a revoked or flooding caller must not
			// get for free.
			if err := s.noteAfter(r, rq, s.authorize(r, rq, permAny)); err != nil {
				s.fail(w, rq, asError("auth", err))
				return
			}
			allow := make([]string, 0, len(methods))
			for k := range methods {
				allow = append(allow, k)
			}
			slices.Sort(allow)
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.fail(w, rq, E("route", KindMethodNotAllowed, "method %s is not allowed here", clip(r.Method, maxLoggedMethod)))
			return
		}
		err := s.noteAfter(r, rq, s.authorize(r, rq, m.perm))
		if e := asError("auth", err); err != nil && e.Kind == KindRevoked && m.action == "device.report" {
			err = s.putDeviceRevoked(r, rq, err) // a wipe's report (devices.go)
		}
		if err == nil && (m.perm == permWrite || m.action == "changes") {
			err = s.refuseClosed(r.Context(), m.action, rq.matter)
		}
		if err == nil {
			var leave, release func()
			if leave, err = s.admitRequest(r, rq, m.action); err == nil {
				defer leave()
				if release, err = s.admitBody(r, rq, m.action); err == nil {
					defer release()
					err = m.h(w, r, rq)
				}
			}
		}
		if err != nil {
			s.fail(w, rq, asError(m.action, err))
		}
	})
}

// noteAfter notes the caller's device sighting (devices.go) once
// authorize answered err: after the rate limit, so a sighting never costs
// a refused request a store access; of a refusal only the deny list's and
// a missing permission's. It returns err, or the header's if malformed.
func (s *Server) noteAfter(r *http.Request, rq *request, err error) error {
	revoked := err != nil && asError("auth", err).Kind == KindRevoked
	if err != nil && !revoked && asError("auth", err).Kind != KindForbidden {
		return err
	}
	if nerr := s.noteDevice(r, rq, revoked); nerr != nil {
		return nerr
	}
	return err
}

// refuse answers a request that reached no route: the token is still
// checked first, so the record says who asked (and 401 wins over 400),
// then the deny list and the per-user rate limit, so a revoked or
// flooding caller cannot buy audit appends with unknown routes.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, rq *request, e *Error) {
	if err := s.authenticate(r, rq); err != nil {
		e = asError("auth", err)
	} else if err := s.authorize(r, rq, permAny); err != nil {
		e = asError("auth", err)
	}
	s.fail(w, rq, e)
}

type ctxKey struct{}

func requestFrom(r *http.Request) *request { return r.Context().Value(ctxKey{}).(*request) }

// serveHTTP is the outermost handler of the audited API. The operational
// endpoints are not here: they answer on their own listener (OpsHandler).
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rq := &request{id: newRequestID(), start: time.Now(), route: "other"}
	rq.rec = audit.Record{Time: rq.start, Source: s.source(r), RequestID: rq.id, Action: "unknown"}
	sw := &statusWriter{ResponseWriter: w}
	sw.Header().Set(api.HeaderRequestID, rq.id)
	// The API shares its origin with the console: no answer of it may be
	// sniffed into something a browser runs.
	sw.Header().Set("X-Content-Type-Options", "nosniff")
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, rq))
	rc := http.NewResponseController(sw)
	deadline := rq.start.Add(s.cfg.Limits.RequestTimeout)
	_ = rc.SetReadDeadline(deadline)
	_ = rc.SetWriteDeadline(deadline)
	defer func() { s.observe(r, rq, sw) }()

	// IDs never need escaping and paths are never relative: anything that
	// is not already canonical is refused before routing.
	if strings.Contains(r.URL.RawPath, "%") || strings.Contains(r.URL.EscapedPath(), "%") || path.Clean(r.URL.Path) != r.URL.Path || r.URL.Path == "" {
		s.refuse(sw, r, rq, E("route", KindInvalid, "path is not canonical"))
		return
	}
	if strings.HasPrefix(r.URL.Path, "/s/") {
		s.serveRecipient(sw, r, rq)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/r/") {
		s.serveRequester(sw, r, rq)
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/v1/") {
		s.refuse(sw, r, rq, E("route", KindNotFound, "no such endpoint"))
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// authenticate verifies the bearer token and the device header and fills
// the audit record's identity. Failures are counted per source address
// (flood.go); once a source has used up its failed authentications, only
// tokens worth verifying are verified (verifyCaller), so a valid token is
// served whatever its neighbours behind the same address send. Refusals
// are audited, counted per source.
func (s *Server) authenticate(r *http.Request, rq *request) error {
	key := sourceKey(rq.rec.Source)
	now := time.Now()
	ok, wait := s.unauth.peek(key, now)
	if err := s.verifyCaller(r, rq, !ok, wait); err != nil {
		rq.preAuth = true
		if ok {
			s.unauth.take(key, now)
		}
		return err
	}
	return nil
}

// verifyCaller checks the device header and the bearer token. A throttled
// source (no failed authentication left; another in wait) gets its token
// verified only if it is signed by a key already in the JWKS: anything
// else (no token, garbage, an unknown key ID, which would make the
// verifier refetch the JWKS) is refused with 429 unverified. A forged
// signature under a known key costs one signature check (GATEWAY.md,
// "Floods of bad tokens"), about what the request's TLS and HTTP handling
// cost already, and a valid token is served.
func (s *Server) verifyCaller(r *http.Request, rq *request, throttled bool, wait time.Duration) error {
	if dev, ok := r.Header[api.HeaderDevice]; ok {
		if len(dev) != 1 || !api.ValidDevice(dev[0]) {
			if throttled {
				return s.throttled(wait)
			}
			return E("auth", KindInvalid, "%s must be 1 to %d printable ASCII characters", api.HeaderDevice, api.MaxDeviceLen)
		}
		rq.rec.Device = dev[0]
	}
	authz := r.Header.Values("Authorization")
	var token string
	if len(authz) == 1 {
		token, _ = strings.CutPrefix(authz[0], "Bearer ")
		token = strings.TrimSpace(token)
	}
	switch {
	case throttled && (len(authz) != 1 || !strings.HasPrefix(authz[0], "Bearer ") || !s.verifier.KnownKey(r.Context(), token)):
		return s.throttled(wait)
	case len(authz) > 1:
		return E("auth", KindUnauthenticated, "more than one Authorization header")
	case len(authz) == 1 && !strings.HasPrefix(authz[0], "Bearer "):
		return E("auth", KindUnauthenticated, "Authorization must be a Bearer token")
	}
	id, err := s.verifier.Verify(r.Context(), token)
	if err != nil {
		s.metrics.denials.WithLabelValues("unauthenticated").Inc()
		msg := "invalid identity token"
		switch {
		case errors.Is(err, auth.ErrNoToken):
			msg = "no identity token"
		case errors.Is(err, auth.ErrExpired):
			msg = "identity token expired"
		}
		return wrap("auth", KindUnauthenticated, err, msg)
	}
	rq.ident = id
	rq.rec.Entity, rq.rec.User = id.Entity, id.User
	return nil
}

// throttled is the refusal of an unverified request from a source that
// has used up its failed authentications.
func (s *Server) throttled(wait time.Duration) *Error {
	s.metrics.denials.WithLabelValues("source_rate_limited").Inc()
	return &Error{Op: "auth", Kind: KindRateLimited, Msg: "too many failed authentications from this address", RetryAfter: max(wait, time.Second)}
}

// authorize applies the deny list, the rate limit and the route's
// permission.
func (s *Server) authorize(r *http.Request, rq *request, p perm) error {
	denied, fresh := s.live.denied(rq.ident.Entity, s.cfg.Limits.DenyMaxStaleness)
	if !fresh {
		// Fail closed: a replica that cannot see the deny list cannot
		// know whether this caller was revoked.
		return &Error{Op: "auth", Kind: KindUnavailable, Msg: "gateway cannot reach its store", RetryAfter: time.Second}
	}
	if denied {
		s.metrics.denials.WithLabelValues("revoked").Inc()
		rq.rec.Object = alerts.ObjectRevoked // the revoked-device alert rule
		e := E("auth", KindRevoked, "access revoked")
		if n := r.Header.Get(api.HeaderRevocationNonce); api.ValidNonce(n) {
			now := time.Now().UTC().Truncate(time.Microsecond)
			e.Revocation = &api.Revocation{Entity: rq.ident.Entity, Nonce: n, Time: now,
				Signature: ed25519.Sign(s.key, api.RevocationMessage(rq.ident.Entity, n, now))}
		}
		return e
	}
	if err := s.checkReissue(rq.ident); err != nil {
		return err
	}
	if ok, wait := s.limiter.allow(rq.ident.Entity, time.Now()); !ok {
		s.metrics.denials.WithLabelValues("rate_limited").Inc()
		return &Error{Op: "auth", Kind: KindRateLimited, Msg: "too many requests", RetryAfter: wait}
	}
	if m := r.PathValue("m"); m != "" || p == permRead || p == permWrite {
		if err := format.ValidateMatterID(m); err != nil {
			rq.rec.Object = quoteBad(m)
			return E("route", KindInvalid, "invalid matter ID (1 to %d of a-z, 0-9 and inner '-')", format.MaxMatterIDLen)
		}
		rq.matter = m
		rq.rec.Matter = m
	}
	switch p {
	case permRead, permWrite:
		role := rq.ident.Role(rq.matter)
		if role == auth.None {
			s.metrics.denials.WithLabelValues("forbidden").Inc()
			if slices.Contains(screenedMatters(rq.ident), rq.matter) {
				rq.rec.Object = alerts.ObjectWall // the wall-attempt alert rule
			}
			// The same answer whether or not the matter exists.
			return E("auth", KindForbidden, "no access to matter %s", rq.matter)
		}
		if p == permWrite && role != auth.Write {
			s.metrics.denials.WithLabelValues("forbidden").Inc()
			return E("auth", KindForbidden, "read-only access to matter %s", rq.matter)
		}
	case permAdmin:
		if !rq.ident.Admin {
			s.metrics.denials.WithLabelValues("forbidden").Inc()
			return E("auth", KindForbidden, "requires membership of %s", auth.AdminGroup)
		}
	}
	return nil
}

// checkReissue refuses a token issued before (or in the same second as)
// its entity's reissue stamp, or within vault.reissue_leeway after it: 401,
// so the caller fetches a new token, which carries its current groups.
// The leeway points forward because the stamp is the gateway's clock and
// iat Vault's: were Vault's clock ahead, a token issued before the stamp
// would carry a later iat, and must still be refused. The price is that
// fresh tokens wait out the leeway (and any skew of Vault behind).
func (s *Server) checkReissue(id *auth.Identity) error {
	nb, ok := s.live.notBefore(id.Entity)
	if !ok {
		return nil
	}
	if floor := nb.Add(s.cfg.Vault.ReissueLeeway); !id.IssuedAt.After(floor) {
		s.metrics.denials.WithLabelValues("reissue").Inc()
		return E("auth", KindUnauthenticated, "identity token issued before %s, when this user's access changed: fetch a new one", floor.UTC().Format(time.RFC3339))
	}
	return nil
}

// quoteBad records an invalid path value in the audit log, bounded.
func quoteBad(v string) string {
	if len(v) > 80 {
		v = v[:80] + "..."
	}
	return "invalid:" + strconv.Quote(v)
}

// appendAudit writes rq's record as it stands, once.
func (s *Server) appendAudit(ctx context.Context, rq *request, status int, bytes int64) error {
	if rq.appended {
		return nil
	}
	rq.rec.Status = status
	rq.rec.Bytes = bytes
	if rq.rec.Result == "" {
		rq.rec.Result = audit.ResultOK
	}
	start := time.Now()
	err := s.auditLog.AppendAudit(ctx, &rq.rec)
	s.metrics.auditSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		s.metrics.auditAppends.WithLabelValues("error").Inc()
		return wrap("audit", KindUnavailable, err, "audit log unavailable")
	}
	s.metrics.auditAppends.WithLabelValues("ok").Inc()
	rq.appended = true
	return nil
}

// mutated records that the store appended rq's record with the change.
func (s *Server) mutated(rq *request) {
	rq.appended = true
	s.metrics.auditAppends.WithLabelValues("ok").Inc()
}

// respond audits (if not yet) and writes a JSON success body. If the audit
// record cannot be written, nothing is sent but the error.
func (s *Server) respond(ctx context.Context, w http.ResponseWriter, rq *request, status int, v any) error {
	if err := s.appendAudit(ctx, rq, status, rq.rec.Bytes); err != nil {
		return err
	}
	writeJSON(w, status, v)
	return nil
}

// fail audits a refused or failed request and writes its error body. When
// even that record cannot be written the answer becomes 503: no request is
// answered without its record.
func (s *Server) fail(w http.ResponseWriter, rq *request, e *Error) {
	switch {
	case e.Kind == KindUnavailable && errors.Is(e, context.Canceled):
		// The caller went away (a long poll given up, a laptop asleep):
		// nothing failed here, and at ERROR it hid the real failures.
		s.log.Debug("request cancelled by the client", "request_id", rq.id, "op", e.Op)
	case e.Kind == KindInternal || e.Kind == KindUnavailable:
		s.log.Error("request failed", "request_id", rq.id, "op", e.Op, "err", e)
	}
	if !rq.appended && rq.preAuth && !s.collapse.record(sourceKey(rq.rec.Source), e.Kind.Status(), rq.rec.Matter, time.Now()) {
		// Counted into the source's "auth.failures" summary record
		// (flood.go).
		s.metrics.auditSuppressed.Inc()
	} else if !rq.appended {
		rq.rec.Result = e.Kind.Result()
		// The record of a refused request never claims bytes moved.
		// The client may be gone; its request is recorded anyway.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := s.appendAudit(ctx, rq, e.Kind.Status(), 0)
		cancel()
		if err != nil {
			s.log.Error("audit append failed; refusing request", "request_id", rq.id, "err", err)
			e = asError("audit", err)
		}
	}
	h := w.Header()
	switch {
	case e.Kind == KindUnauthenticated:
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	case e.Kind == KindVersionMismatch && e.Current != nil && *e.Current > 0:
		h.Set("ETag", api.ETag(*e.Current))
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	writeJSON(w, e.Kind.Status(), e.body(rq.id))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"code":"internal","message":"internal error"}`)
	}
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
}

// source is the caller's address for the audit record: the connection's
// peer, or the client named by trusted proxies in X-Forwarded-For.
func (s *Server) source(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(s.proxies) == 0 || !s.trusted(host) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if net.ParseIP(h) == nil {
			return host
		}
		if !s.trusted(h) {
			return h
		}
	}
	return host
}

func (s *Server) trusted(host string) bool {
	ip := net.ParseIP(host)
	for _, n := range s.proxies {
		if ip != nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

func newRequestID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// statusWriter records the status and bytes written, for metrics and logs.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe logs and measures a finished request.
func (s *Server) observe(r *http.Request, rq *request, w *statusWriter) {
	d := time.Since(rq.start)
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	s.metrics.requests.WithLabelValues(rq.route, methodLabel(r.Method), statusLabel(status)).Inc()
	s.metrics.duration.WithLabelValues(rq.route).Observe(d.Seconds())
	s.metrics.bytesOut.WithLabelValues(rq.route).Add(float64(w.bytes))
	if r.ContentLength > 0 && rq.rec.Bytes > 0 && r.Method != http.MethodGet {
		s.metrics.bytesIn.WithLabelValues(rq.route).Add(float64(rq.rec.Bytes))
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("request_id", rq.id), slog.String("method", clip(r.Method, maxLoggedMethod)), slog.String("route", rq.route),
		slog.Int("status", status), slog.Float64("duration_ms", float64(d.Microseconds())/1000), slog.String("entity", rq.rec.Entity),
		slog.String("user", rq.rec.User), slog.String("matter", rq.rec.Matter), slog.String("action", rq.rec.Action),
		slog.Int64("bytes_out", w.bytes), slog.String("source", rq.rec.Source))
}

// methodLabel is the method as a metric label: Go accepts any token as a
// method, up to the header limit, so anything but the standard methods is
// "other" (each distinct label value is a series kept for the life of the
// process).
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete,
		http.MethodPatch, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// statusLabel is a status code as a metric label (the gateway writes only
// real ones; anything else would be "other").
func statusLabel(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code)
}

// maxLoggedMethod bounds the method in log lines and error messages.
const maxLoggedMethod = 32

// clip cuts a client-supplied value for a log line or a message, marking
// the cut.
func clip(v string, n int) string {
	if len(v) <= n {
		return v
	}
	// Cut on a character boundary: half a UTF-8 sequence in an audit
	// record breaks its JSON export (and PostgreSQL refuses it).
	for n > 0 && !utf8.RuneStart(v[n]) {
		n--
	}
	return v[:n] + "...(" + strconv.Itoa(len(v)) + " bytes)"
}
