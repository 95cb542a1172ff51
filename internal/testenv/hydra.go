package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mattersync/mattersync/internal/idp"
	"github.com/mattersync/mattersync/internal/proc"
)

// HydraServer is a running ORY Hydra, the OpenID Connect provider that
// stands in for the firm's Entra ID or Okta, with its login-and-consent
// app (package idp) serving in this process. Its database is a fresh one
// on the machine's PostgreSQL, dropped when it stops.
type HydraServer struct {
	Issuer   string   // the issuer, as its discovery document says (OIDC discovery URL)
	AdminURL string   // Hydra's admin API
	IdP      *idp.App // its users: SetUser, RemoveUser

	proc   *process
	app    *http.Server
	dropDB func()
}

var sharedHydra struct {
	once sync.Once
	h    *HydraServer
	err  error
}

// Hydra returns the Hydra server shared by the tests of this package,
// starting it on first use (its cold start migrates a new database: a few
// seconds). Tests sharing it use their own users and OAuth clients.
func Hydra(t testing.TB) *HydraServer {
	t.Helper()
	skipShort(t, "ORY Hydra")
	sharedHydra.once.Do(func() {
		sharedHydra.h, sharedHydra.err = StartHydra(HydraOptions{})
		if sharedHydra.err == nil {
			registerStop(sharedHydra.h.Stop)
		}
	})
	if sharedHydra.err != nil {
		unavailable(t, "%v", sharedHydra.err)
	}
	return sharedHydra.h
}

// HydraOptions tune StartHydra.
type HydraOptions struct {
	Bin string // the hydra binary; empty: FindBinary
	// Log is the file Hydra logs to; empty: a file in a temp dir removed
	// at Stop.
	Log string
}

// StartHydra starts a Hydra server and its login-and-consent app on free
// loopback ports (make run SSO=1 uses it too); Stop ends both and drops
// the database.
func StartHydra(o HydraOptions) (*HydraServer, error) {
	bin := o.Bin
	if bin == "" {
		var err error
		if bin, err = FindBinary("hydra"); err != nil {
			return nil, err
		}
	}
	dsn, drop, err := hydraDatabase()
	if err != nil {
		return nil, err
	}
	h := &HydraServer{dropDB: drop}
	ok := false
	defer func() {
		if !ok {
			h.Stop()
		}
	}()
	var pub, adm string
	for _, p := range []*string{&pub, &adm} {
		if *p, err = FreeAddr(); err != nil {
			return nil, err
		}
	}
	h.AdminURL = "http://" + adm
	// The app listens before Hydra starts: Hydra is told its URLs.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h.IdP = idp.New(h.AdminURL, nil)
	h.app = &http.Server{Handler: h.IdP.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go h.app.Serve(l)
	appURL := "http://" + l.Addr().String()
	_, pubPort, _ := net.SplitHostPort(pub)
	_, admPort, _ := net.SplitHostPort(adm)
	env := []string{
		"DSN=" + dsn,
		"SECRETS_SYSTEM=" + RandomHex(16),
		"URLS_SELF_ISSUER=http://" + pub + "/",
		"URLS_LOGIN=" + appURL + "/login",
		"URLS_CONSENT=" + appURL + "/consent",
		"SERVE_PUBLIC_HOST=127.0.0.1", "SERVE_PUBLIC_PORT=" + pubPort,
		"SERVE_ADMIN_HOST=127.0.0.1", "SERVE_ADMIN_PORT=" + admPort,
		"LOG_LEVEL=warn",
		"SQA_OPT_OUT=true", // no usage reports to ORY
	}
	if err := hydraMigrate(bin, env); err != nil {
		return nil, err
	}
	if h.proc, err = startHydraProcess(bin, env, o.Log, h.AdminURL+"/health/ready"); err != nil {
		return nil, err
	}
	if h.Issuer, err = discoverIssuer("http://" + pub); err != nil {
		return nil, err
	}
	ok = true
	return h, nil
}

// Stop stops Hydra and its app and drops its database.
func (h *HydraServer) Stop() {
	if h.proc != nil {
		h.proc.stop()
	}
	if h.app != nil {
		h.app.Close()
	}
	if h.dropDB != nil {
		h.dropDB()
	}
}

// RegisterClient registers an OAuth client (e.g. Vault's OIDC auth method)
// with a random ID and secret allowed to redirect to redirectURIs, and
// returns it.
func (h *HydraServer) RegisterClient(t testing.TB, redirectURIs ...string) idp.Client {
	t.Helper()
	c := idp.Client{ID: RandomName("client-"), Secret: RandomHex(20), RedirectURIs: redirectURIs}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := idp.RegisterClient(ctx, h.AdminURL, c); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return c
}

// AddUser adds a user with a random password to the identity provider and
// returns the password.
func (h *HydraServer) AddUser(name string) string {
	pw := RandomHex(12)
	h.IdP.SetUser(idp.User{Name: name, Password: pw})
	return pw
}

// hydraMigrate creates Hydra's tables in its new database.
func hydraMigrate(bin string, env []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "mattersync-hydra-migrate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cmd := exec.CommandContext(ctx, bin, "migrate", "sql", "-e", "--yes")
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "HOME="+dir), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tail := string(out)
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return fmt.Errorf("testenv: hydra migrate sql: %w: %s", err, tail)
	}
	return nil
}

// hydraDatabase creates a database named for this run on the machine's
// PostgreSQL and returns its DSN and the function dropping it.
func hydraDatabase() (string, func(), error) {
	admin := os.Getenv("MATTERSYNC_TEST_PG_DSN")
	if admin == "" {
		admin = DefaultPostgresDSN
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("testenv: Hydra needs PostgreSQL at %s: %w (start it with `pg_ctlcluster <version> main start`, or set MATTERSYNC_TEST_PG_DSN)", redact(admin), err)
	}
	defer conn.Close(ctx)
	name := RandomName("mattersync_hydra_")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("testenv: create database %s: %w", name, err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err == nil {
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "testenv: drop database %s: %v\n", name, err)
		}
	}
	u, err := url.Parse(admin)
	if err != nil {
		drop()
		return "", nil, fmt.Errorf("testenv: parse DSN: %w", err)
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// discoverIssuer reads the issuer from the OpenID discovery document at
// base: Vault's oidc_discovery_url must be exactly it.
func discoverIssuer(base string) (string, error) {
	resp, err := http.Get(base + "/.well-known/openid-configuration")
	if err != nil {
		return "", fmt.Errorf("testenv: hydra discovery: %w", err)
	}
	defer resp.Body.Close()
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || doc.Issuer == "" {
		return "", errors.Join(errors.New("testenv: hydra discovery document has no issuer"), err)
	}
	return doc.Issuer, nil
}

// startHydraProcess is startProcess with the log where o.Log says.
func startHydraProcess(bin string, env []string, log, ready string) (*process, error) {
	dir, err := os.MkdirTemp("", "mattersync-hydra-")
	if err != nil {
		return nil, err
	}
	if log == "" {
		log = filepath.Join(dir, "hydra.log")
	}
	p, err := proc.Start(proc.Spec{Name: "hydra", Bin: bin, Args: []string{"serve", "all", "--dev", "--sqa-opt-out"},
		Env: append([]string{"HOME=" + dir}, env...), Dir: dir, Log: log, Ready: ready})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("testenv: %w", err)
	}
	return &process{Process: p, dir: dir}, nil
}
