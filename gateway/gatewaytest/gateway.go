package gatewaytest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/alerts"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/auth/authtest"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/blob/memblob"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/gateway/share"
	"github.com/mattersync/mattersync/gateway/store/postgres"
	"github.com/mattersync/mattersync/gateway/store/sqlite"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms/kmstest"
)

// Options choose a test gateway's backends. The zero value is the fast
// tier: SQLite in a temp file, blobs in memory (memblob) and tokens from a
// local test issuer (authtest), no service needed. Each backend can be the
// real one instead; the fakes pass the same contract suites (storetest,
// blobtest) as the real ones.
type Options struct {
	// Metadata store: SQLite in a temp file unless one of these is set.
	SQLitePath  string // SQLite at this path (to look at it, or reopen it, after the test)
	Postgres    bool   // a fresh database on the machine's PostgreSQL (testenv.Postgres)
	PostgresDSN string // this PostgreSQL database (replicas sharing one)

	// Blobs: in memory unless one of these is set.
	MinIO  bool          // a fresh bucket on the real MinIO (testenv.MinIO)
	Bucket string        // this bucket on the real MinIO (replicas sharing one)
	Blobs  gateway.Blobs // these (replicas sharing one memblob.Store)
	// WrapBlobs, if set, wraps the blob store the gateway gets (faults).
	WrapBlobs func(gateway.Blobs) gateway.Blobs
	// WrapStores, if set, changes the store roles the gateway gets
	// (counting or failing calls); Gateway.Stores stays the store's own.
	WrapStores func(gateway.Stores) gateway.Stores

	// Tokens: a new local test issuer unless one of these is set.
	Vault    *kmstest.Env     // identity tokens of this real Vault (kmstest)
	Issuer   *authtest.Issuer // this test issuer (replicas sharing one)
	Verifier gateway.Verifier // this verifier, whatever issues the tokens

	// Config adjusts the gateway's configuration (see TestConfig).
	Config func(*gateway.Config)
	// SigningKey signs audit checkpoints (default: a new key).
	SigningKey ed25519.PrivateKey
	// Logger gets the gateway's log (default: discarded).
	Logger *slog.Logger
	// Anchors and AlertSinks go to gateway.Deps (none by default).
	Anchors    []gateway.Anchor
	AlertSinks []alerts.Sink
}

// Gateway is an in-process gateway serving on a loopback port until the
// test ends.
type Gateway struct {
	URL string // http://127.0.0.1:port
	// OpsURL serves /healthz, /readyz and /metrics (Server.OpsHandler),
	// on its own port as ops_listen does; Down does not take it off.
	OpsURL string
	Server *gateway.Server
	Config gateway.Config
	// Stores is the metadata store by role, all played by Engine.
	Stores gateway.Stores
	// Engine is the store itself, *sqlite.Store or *postgres.Store, for
	// tests that reach its database.
	Engine io.Closer
	// Blobs is the blob store as the gateway got it (after WrapBlobs).
	Blobs gateway.Blobs
	// Mem is the in-memory blob store, nil when the blobs are elsewhere.
	Mem *memblob.Store
	// MinIO and Bucket locate the blobs on the real MinIO, if there.
	MinIO  *testenv.MinIOServer
	Bucket string
	// SQLitePath is the SQLite database, "" on PostgreSQL.
	SQLitePath string
	// Issuer mints tokens the gateway trusts (Token); nil when it trusts
	// a real Vault or a given Verifier.
	Issuer     *authtest.Issuer
	SigningKey ed25519.PrivateKey
	// HTTP is a client for raw requests to URL.
	HTTP *http.Client

	t      testing.TB
	mu     sync.Mutex // guards http, served, active
	addr   string
	http   *http.Server
	served chan struct{} // closed when the current http.Server's Serve returns
	active int           // requests being handled; guarded by mu
	idle   *sync.Cond    // on mu: signalled when active drops to 0
}

// TestConfig is the configuration test gateways start from: loopback,
// plain HTTP, limits no test trips by accident, and a fast store poll so
// deny-list entries and other replicas' commits show up at once.
func TestConfig() gateway.Config {
	cfg := gateway.DefaultConfig()
	cfg.Listen, cfg.InsecureDev = "127.0.0.1:0", true
	cfg.Limits.RequestsPerSecond, cfg.Limits.Burst = 1e6, 1e6
	cfg.Limits.UnauthenticatedPerSecond, cfg.Limits.UnauthenticatedBurst = 1e6, 1e6
	cfg.Limits.PollInterval = 50 * time.Millisecond
	cfg.Audit.RefusalSummaryInterval = 200 * time.Millisecond
	cfg.Audit.RefusalRecordsPerSecond = 1e6
	// One clock: a token of the second after a reissue stamp is fresh.
	cfg.Vault.ReissueLeeway = 0
	return cfg
}

// Start starts a gateway with the backends o chooses; everything it
// started stops when t ends.
func Start(t testing.TB, o Options) *Gateway {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	g := &Gateway{t: t, Config: TestConfig(), SigningKey: o.SigningKey, Issuer: o.Issuer}
	g.idle = sync.NewCond(&g.mu)
	if o.Config != nil {
		o.Config(&g.Config)
	}
	if g.SigningKey == nil {
		_, g.SigningKey, _ = ed25519.GenerateKey(rand.Reader)
	}
	g.Engine = openStore(ctx, t, o, g)
	t.Cleanup(func() { g.Engine.Close() })
	g.Stores = gateway.StoresOf(g.Engine)
	g.Blobs = g.openBlobs(t, o)
	if o.WrapBlobs != nil {
		g.Blobs = o.WrapBlobs(g.Blobs)
	}
	v := g.verifier(ctx, t, o)
	stores := g.Stores
	if o.WrapStores != nil {
		stores = o.WrapStores(stores)
	}
	srv, err := gateway.New(ctx, g.Config, gateway.Deps{Stores: stores, Blobs: g.Blobs, Verifier: v, SigningKey: g.SigningKey, Logger: o.Logger,
		Anchors: o.Anchors, AlertSinks: o.AlertSinks})
	if err != nil {
		t.Fatalf("gatewaytest: %v", err)
	}
	g.Server = srv
	ran := make(chan struct{})
	go func() { srv.Run(ctx); close(ran) }()
	// Registered after the store's Close, so it runs before it: the
	// server stops, then its background work, then the store.
	t.Cleanup(func() { g.Down(); cancel(); <-ran })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("gatewaytest: listen: %v", err)
	}
	g.addr = l.Addr().String()
	g.URL = "http://" + g.addr
	g.serve(l)
	ops := httptest.NewServer(srv.OpsHandler())
	t.Cleanup(ops.Close)
	g.OpsURL = ops.URL
	tr := http.DefaultTransport.(*http.Transport).Clone()
	g.HTTP = &http.Client{Transport: tr}
	t.Cleanup(tr.CloseIdleConnections)
	return g
}

func openStore(ctx context.Context, t testing.TB, o Options, g *Gateway) io.Closer {
	t.Helper()
	var st io.Closer // *postgres.Store or *sqlite.Store
	var err error
	switch {
	case o.PostgresDSN != "":
		st, err = postgres.Open(ctx, o.PostgresDSN, postgres.Options{MaxConns: 16})
	case o.Postgres:
		st, err = postgres.Open(ctx, testenv.Postgres(t), postgres.Options{MaxConns: 16})
	default:
		g.SQLitePath = o.SQLitePath
		if g.SQLitePath == "" {
			g.SQLitePath = filepath.Join(t.TempDir(), "gateway.db")
		}
		st, err = sqlite.Open(ctx, g.SQLitePath)
	}
	if err != nil {
		t.Fatalf("gatewaytest: store: %v", err)
	}
	return st
}

func (g *Gateway) openBlobs(t testing.TB, o Options) gateway.Blobs {
	t.Helper()
	switch {
	case o.Blobs != nil:
		if m, ok := o.Blobs.(*memblob.Store); ok {
			g.Mem = m
		}
		return o.Blobs
	case o.MinIO || o.Bucket != "":
		g.MinIO, g.Bucket = testenv.MinIO(t), o.Bucket
		if g.Bucket == "" {
			g.Bucket = g.MinIO.Bucket(t)
		}
		bs, err := blob.New(blob.Config{Endpoint: g.MinIO.Endpoint, Bucket: g.Bucket, AccessKey: g.MinIO.AccessKey, SecretKey: g.MinIO.SecretKey})
		if err != nil {
			t.Fatalf("gatewaytest: %v", err)
		}
		return bs
	}
	g.Mem = memblob.New()
	return g.Mem
}

func (g *Gateway) verifier(ctx context.Context, t testing.TB, o Options) gateway.Verifier {
	t.Helper()
	if o.Verifier != nil {
		return o.Verifier
	}
	var cfg auth.Config
	if o.Vault != nil {
		tc := o.Vault.TokenConfig(t)
		cfg = auth.Config{JWKSURL: tc.JWKSURL, Issuer: tc.Issuer, Audience: tc.Audience}
	} else {
		if g.Issuer == nil {
			g.Issuer = authtest.New(t)
		}
		cfg = auth.Config{JWKSURL: g.Issuer.URL, Issuer: g.Issuer.Issuer, Audience: authtest.Audience}
	}
	v, err := auth.NewVerifier(ctx, cfg)
	if err != nil {
		t.Fatalf("gatewaytest: verifier: %v", err)
	}
	return v
}

func (g *Gateway) serve(l net.Listener) {
	h := g.Server.Handler()
	// main's server (its slow-client bounds), counting requests in flight.
	hs := g.Server.HTTPServer(nil)
	hs.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.active++
		g.mu.Unlock()
		defer func() {
			g.mu.Lock()
			if g.active--; g.active == 0 {
				g.idle.Broadcast()
			}
			g.mu.Unlock()
		}()
		h.ServeHTTP(w, r)
	})
	served := make(chan struct{})
	g.http, g.served = hs, served
	go func() {
		defer close(served)
		if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.t.Errorf("gatewaytest: serve: %v", err)
		}
	}()
}

// Down takes the gateway off the network, as a crash or an outage would:
// its port refuses connections and requests in flight are cut (Down
// returns once their handlers have). Its state (store, blobs, background
// work) is kept for Up.
func (g *Gateway) Down() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.http == nil {
		return
	}
	g.http.Close()
	<-g.served
	// A cut connection cancels its request's context, so handlers end
	// promptly, long polls included.
	for g.active > 0 {
		g.idle.Wait()
	}
	g.http = nil
}

// Up puts the gateway back on its address after Down.
func (g *Gateway) Up() {
	g.t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.http != nil {
		return
	}
	l, err := net.Listen("tcp", g.addr)
	if err != nil {
		g.t.Fatalf("gatewaytest: listen again on %s: %v", g.addr, err)
	}
	g.serve(l)
}

// Token mints a token the gateway accepts, for the Vault entity entity
// (its sub; the user name is "user-" plus entity) in groups, e.g.
// "matter-2026-0001-rw" or auth.AdminGroup.
func (g *Gateway) Token(t testing.TB, entity string, groups ...string) string {
	t.Helper()
	if g.Issuer == nil {
		t.Fatal("gatewaytest: this gateway trusts a real Vault or a given verifier: log users in there for tokens")
	}
	return g.Issuer.Token(t, authtest.Claims{Subject: entity, Username: "user-" + entity, Groups: groups})
}

// Client returns a gateway client sending token (see Token), as device.
func (g *Gateway) Client(t testing.TB, token, device string) *client.Client {
	t.Helper()
	return g.ClientWith(t, client.StaticToken(token), device)
}

// ClientWith returns a gateway client whose tokens come from ts.
func (g *Gateway) ClientWith(t testing.TB, ts client.TokenSource, device string) *client.Client {
	t.Helper()
	c, err := client.New(g.URL, ts, client.Options{Device: device})
	if err != nil {
		t.Fatalf("gatewaytest: client: %v", err)
	}
	return c
}

// SharingConfig is a sharing: section for a test gateway (set it in
// Options.Config as c.Sharing): every matter shares unless set off, links
// start with publicURL, codes go over plain SMTP to smtpAddr (host:port,
// e.g. testenv.Mailpit's SMTPAddr), and the per-address bucket of the
// recipient's routes does not get in a test's way. The code limits are
// the defaults.
func SharingConfig(t testing.TB, publicURL, smtpAddr string) *share.Config {
	t.Helper()
	host, port, err := net.SplitHostPort(smtpAddr)
	if err != nil {
		t.Fatalf("gatewaytest: smtp address %q: %v", smtpAddr, err)
	}
	c := share.DefaultConfig()
	c.Default = share.PolicyOn
	c.PublicURL = publicURL
	c.RequestsPerSecond, c.Burst = 1e6, 1_000_000
	c.SMTP = share.SMTPConfig{Host: host, From: "Firm shares <shares@firm.test>", TLS: share.TLSNone}
	if c.SMTP.Port, err = strconv.Atoi(port); err != nil {
		t.Fatalf("gatewaytest: smtp address %q: %v", smtpAddr, err)
	}
	if err := c.Validate(true); err != nil {
		t.Fatalf("gatewaytest: %v", err)
	}
	return &c
}
