// Command mattersync-gateway is the only door to the storage: it
// authenticates every request, enforces matter permissions, stores
// ciphertext in S3 and writes the audit log.
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/gateway"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/auth"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/store/postgres"
	"github.com/mattersync/mattersync/gateway/store/sqlite"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "mattersync-gateway:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	var configPath string
	var check bool
	cmd := &cobra.Command{
		Use:           "mattersync-gateway",
		Short:         "mattersync gateway: authenticated, audited access to encrypted matter storage",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := gateway.LoadConfig(configPath)
			if err != nil {
				return err
			}
			if check {
				return checkConfig(cmd, cfg)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cfg)
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "/etc/mattersync/gateway.yaml", "configuration file")
	cmd.Flags().BoolVar(&check, "check-config", false, "validate the configuration, the secrets it names and the key files, then exit")
	cmd.AddCommand(newKeygenCmd())
	return cmd
}

// checkConfig validates everything that can be checked without the
// network: the file, the environment variables it names, the key files.
func checkConfig(cmd *cobra.Command, cfg gateway.Config) error {
	var errs []error
	if _, err := cfg.Secrets(os.Getenv); err != nil {
		errs = append(errs, err)
	}
	key, err := gateway.LoadSigningKey(cfg.Audit.SigningKeyFile)
	if err != nil {
		errs = append(errs, err)
	}
	for _, f := range cfg.Audit.TrustedKeyFiles {
		if _, err := gateway.LoadPublicKey(f); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.TLS.CertFile != "" {
		if _, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile); err != nil {
			errs = append(errs, fmt.Errorf("tls: %w", err))
		}
	}
	if cfg.Vault.CACertFile != "" {
		if _, err := loadPool(cfg.Vault.CACertFile); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "config OK: listen %s (%s), ops_listen %s, store %s, bucket %s at %s, issuer %s, audience %s, checkpoint key %s\n",
		cfg.Listen, map[bool]string{true: "TLS", false: "plain HTTP, insecure_dev"}[cfg.TLS.CertFile != ""], cfg.OpsListen,
		cfg.Store.Driver, cfg.S3.Bucket, cfg.S3.Endpoint, cfg.Vault.Issuer, cfg.Vault.Audience,
		audit.KeyID(key.Public().(ed25519.PublicKey)))
	return nil
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

func loadPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("vault CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("vault CA %s: no PEM certificates", path)
	}
	return pool, nil
}

func serve(ctx context.Context, cfg gateway.Config) error {
	log := newLogger(cfg.Log.Level)
	secrets, err := cfg.Secrets(os.Getenv)
	if err != nil {
		return err
	}
	key, err := gateway.LoadSigningKey(cfg.Audit.SigningKeyFile)
	if err != nil {
		return err
	}
	var trusted []ed25519.PublicKey
	for _, f := range cfg.Audit.TrustedKeyFiles {
		k, err := gateway.LoadPublicKey(f)
		if err != nil {
			return err
		}
		trusted = append(trusted, k)
	}

	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var st io.Closer // *postgres.Store or *sqlite.Store: every role
	switch cfg.Store.Driver {
	case "postgres":
		st, err = postgres.Open(openCtx, cfg.Store.PostgresDSN, postgres.Options{Password: secrets.PostgresPassword, MaxConns: cfg.Store.MaxConns})
	default:
		if err := os.MkdirAll(filepath.Dir(cfg.Store.SQLitePath), 0o700); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		st, err = sqlite.Open(openCtx, cfg.Store.SQLitePath)
	}
	if err != nil {
		return err
	}
	defer st.Close()

	blobs, err := blob.New(blob.Config{Endpoint: cfg.S3.Endpoint, Bucket: cfg.S3.Bucket, Region: cfg.S3.Region,
		AccessKey: secrets.S3AccessKey, SecretKey: secrets.S3SecretKey, Secure: !cfg.S3.Insecure})
	if err != nil {
		return err
	}

	vaultHTTP := &http.Client{Timeout: 10 * time.Second}
	if cfg.Vault.CACertFile != "" {
		pool, err := loadPool(cfg.Vault.CACertFile)
		if err != nil {
			return err
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		vaultHTTP.Transport = tr
	}
	verifier, err := auth.NewVerifier(ctx, auth.Config{JWKSURL: cfg.Vault.JWKSURL, Issuer: cfg.Vault.Issuer, Audience: cfg.Vault.Audience,
		Leeway: cfg.Vault.Leeway, MaxLifetime: cfg.Vault.MaxTokenLifetime, Refresh: cfg.Vault.JWKSRefresh, HTTPClient: vaultHTTP, Logger: log})
	if err != nil {
		return err
	}

	anchors, closeAnchors, err := openAnchors(ctx, openCtx, cfg, secrets, blobs, log)
	if err != nil {
		return err
	}
	defer closeAnchors()
	sinks, closeSinks, err := alertSinks(cfg, secrets)
	if err != nil {
		return err
	}
	defer closeSinks()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv, err := gateway.New(ctx, cfg, gateway.Deps{Stores: gateway.StoresOf(st), Blobs: blobs, Verifier: verifier, SigningKey: key,
		TrustedKeys: trusted, Anchors: anchors, AlertSinks: sinks, Logger: log, Registerer: reg, Gatherer: reg})
	if err != nil {
		return err
	}

	errLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	hs := srv.HTTPServer(errLog)
	hs.Addr = cfg.Listen
	if cfg.TLS.CertFile != "" {
		hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	// The operational endpoints on their own listener, plain HTTP: they
	// are unauthenticated and must stay off the API's address.
	opsLn, err := net.Listen("tcp", cfg.OpsListen)
	if err != nil {
		ln.Close()
		return fmt.Errorf("ops_listen: %w", err)
	}
	ops := srv.OpsHTTPServer(errLog)
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	runDone := make(chan struct{})
	go func() { srv.Run(runCtx); close(runDone) }()

	errc := make(chan error, 2)
	go func() {
		if cfg.TLS.CertFile != "" {
			errc <- hs.ServeTLS(ln, cfg.TLS.CertFile, cfg.TLS.KeyFile)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	go func() {
		if err := ops.Serve(opsLn); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("ops_listen: %w", err)
		}
	}()
	log.Info("gateway listening", "addr", ln.Addr().String(), "ops_addr", opsLn.Addr().String(), "tls", cfg.TLS.CertFile != "", "store", cfg.Store.Driver,
		"bucket", cfg.S3.Bucket, "issuer", cfg.Vault.Issuer, "version", version,
		"checkpoint_key", audit.KeyID(key.Public().(ed25519.PublicKey)))
	if cfg.InsecureDev {
		log.Warn("insecure_dev is on: plain HTTP allowed; never in production")
	}

	select {
	case err = <-errc:
		hs.Close()
	case <-ctx.Done():
		log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = hs.Shutdown(sctx)
		cancel()
	}
	// Up until the API is drained, so health checks see it go.
	ops.Close()
	stopRun()
	<-runDone // signs the last checkpoint
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func newKeygenCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "create the Ed25519 key that signs audit checkpoints",
		Long: "keygen writes a new Ed25519 private key (PKCS#8 PEM, mode 0600) to --out and its public key to\n" +
			"--out with .pub appended; give the public key to whoever runs `mattersync-admin audit verify --offline`.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, priv, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			privPEM, pubPEM, err := gateway.MarshalKeys(priv)
			if err != nil {
				return err
			}
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			if _, err := f.Write(privPEM); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			if err := os.WriteFile(out+".pub", pubPEM, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (private) and %s.pub (public), key ID %s\n%s", out, out,
				audit.KeyID(priv.Public().(ed25519.PublicKey)), strings.TrimSpace(string(pubPEM))+"\n")
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "audit-signing-key.pem", "private key file to create")
	return cmd
}
