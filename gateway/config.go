package gateway

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mattersync/mattersync/gateway/alerts"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/lifecycle"
	"github.com/mattersync/mattersync/gateway/share"
)

// Config is the gateway's configuration file (configs/gateway.yaml). Secrets
// are never in it: it names the environment variables that hold them.
type Config struct {
	// Listen is the address to serve the API on, e.g. ":8443".
	Listen string `yaml:"listen"`
	// OpsListen is the address of the operational endpoints, /healthz,
	// /readyz and /metrics: unauthenticated, plain HTTP, never on the
	// API's listener. Loopback by default; give the balancer's health
	// checks and Prometheus an internal address, firewalled.
	OpsListen string `yaml:"ops_listen"`
	// OpsPprof serves Go's profiler under /debug/pprof/ on the ops
	// listener (never on the API's): CPU and heap profiles of a replica
	// under load. Off by default: a profile shows the process's code
	// paths and command line to whoever reaches the ops port.
	OpsPprof bool `yaml:"ops_pprof"`
	// InsecureDev allows plain HTTP (no TLS) to clients, S3 and Vault. For
	// a developer's machine only.
	InsecureDev bool        `yaml:"insecure_dev"`
	TLS         TLS         `yaml:"tls"`
	S3          S3          `yaml:"s3"`
	Store       StoreConfig `yaml:"store"`
	Vault       Vault       `yaml:"vault"`
	Limits      Limits      `yaml:"limits"`
	Audit       Audit       `yaml:"audit"`
	// Lifecycle: retention, purge and garbage collection (LIFECYCLE.md).
	Lifecycle lifecycle.Config `yaml:"lifecycle"`
	// Sharing with people outside the firm (docs/SHARING.md); nil (no
	// sharing: section) is off.
	Sharing *share.Config `yaml:"sharing"`
	Log     Log           `yaml:"log"`
	// Console is what the web console's page needs to sign in to Vault.
	Console Console `yaml:"console"`
	// TrustedProxies are the load balancers (CIDRs) whose
	// X-Forwarded-For is believed for the audit record's source address.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// TLS is the server certificate.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// S3 locates the bucket.
type S3 struct {
	Endpoint string `yaml:"endpoint"` // host:port
	Bucket   string `yaml:"bucket"`
	Region   string `yaml:"region"`
	// Insecure talks plain HTTP to S3 (requires insecure_dev).
	Insecure     bool   `yaml:"insecure"`
	AccessKeyEnv string `yaml:"access_key_env"`
	SecretKeyEnv string `yaml:"secret_key_env"`
}

// StoreConfig selects the metadata store.
type StoreConfig struct {
	Driver string `yaml:"driver"` // "sqlite" or "postgres"
	// SQLitePath is the database file (one gateway only).
	SQLitePath string `yaml:"sqlite_path"`
	// PostgresDSN is a postgres:// URL without a password.
	PostgresDSN string `yaml:"postgres_dsn"`
	// PostgresPasswordEnv names the variable holding the password.
	PostgresPasswordEnv string `yaml:"postgres_password_env"`
	MaxConns            int32  `yaml:"max_conns"`
}

// Vault is where identity tokens come from.
type Vault struct {
	// Address is Vault's URL; Issuer and JWKSURL default from it.
	Address  string        `yaml:"address"`
	Issuer   string        `yaml:"issuer"`
	JWKSURL  string        `yaml:"jwks_url"`
	Audience string        `yaml:"audience"`
	Leeway   time.Duration `yaml:"leeway"`
	// ReissueLeeway extends a reissue stamp forward: tokens issued up to
	// this long after it are refused too, so that a Vault clock ahead of
	// the gateway's by up to this much cannot pass a token issued before
	// the stamp (keep it at least the clocks' skew; fresh tokens wait it
	// out after a reissue).
	ReissueLeeway time.Duration `yaml:"reissue_leeway"`
	// MaxTokenLifetime refuses tokens whose exp - iat is longer: at least
	// the OIDC role's TTL (mattersync-admin vault init --token-ttl, 5m).
	MaxTokenLifetime time.Duration `yaml:"max_token_lifetime"`
	// JWKSRefresh is the background refetch period; an unknown key ID
	// refetches at once (at most every 10 s).
	JWKSRefresh time.Duration `yaml:"jwks_refresh"`
	// CACertFile verifies Vault's TLS certificate (default: system roots).
	CACertFile string `yaml:"ca_cert_file"`
}

// Limits bound what one request or one user can cost.
type Limits struct {
	MaxChunkBytes  int64 `yaml:"max_chunk_bytes"`
	MaxCommitBytes int64 `yaml:"max_commit_bytes"` // commit body: base64 manifest + chunk list
	MaxBatchIDs    int   `yaml:"max_batch_ids"`    // IDs per missing-chunks query
	// MaxCommitChunks bounds the chunk references of one commit.
	MaxCommitChunks int `yaml:"max_commit_chunks"`
	// MaxBatchBytes bounds a batch body (POST /v1/matters/{m}/batch:
	// small files' chunks and commits, JSON with base64), MaxBatchItems
	// its chunks and its commits (each).
	MaxBatchBytes int64 `yaml:"max_batch_bytes"`
	MaxBatchItems int   `yaml:"max_batch_items"`
	// MaxFileSize is the firm's largest file, in bytes (the agents'
	// max_file_size): a commit whose chunk references describe more is
	// refused (handlers.go, maxReferences).
	MaxFileSize int64 `yaml:"max_file_size"`
	// MaxWait bounds a change-feed long poll.
	MaxWait time.Duration `yaml:"max_wait"`
	// MaxLongPollsPerUser bounds one entity's change-feed long polls in
	// flight (an agent holds one feed; older agents one per matter), and MaxLongPollsPerUserMatter
	// those on one matter (one per device): 429 beyond.
	MaxLongPollsPerUser       int `yaml:"max_long_polls_per_user"`
	MaxLongPollsPerUserMatter int `yaml:"max_long_polls_per_user_matter"`
	// MaxFeedMatters bounds the matters of one combined feed request
	// (POST /v1/feed): an agent asks for all its matters at once.
	MaxFeedMatters int `yaml:"max_feed_matters"`
	// RequestsPerSecond and Burst: the per-user token bucket.
	RequestsPerSecond float64 `yaml:"requests_per_second"`
	Burst             int     `yaml:"burst"`
	// UnauthenticatedPerSecond and UnauthenticatedBurst: the token bucket
	// of failed authentications per source address (IPv6: per /64). Once
	// it is empty only tokens signed by a known key are verified; the
	// rest are refused (429) unverified.
	UnauthenticatedPerSecond float64 `yaml:"unauthenticated_per_second"`
	UnauthenticatedBurst     int     `yaml:"unauthenticated_burst"`
	// MaxInflightBytes bounds the request bodies held at once (a body
	// reserves its Content-Length, JSON bodies twice that, before it is
	// read); a request waits at most InflightWait for room, then 503.
	MaxInflightBytes int64         `yaml:"max_inflight_bytes"`
	InflightWait     time.Duration `yaml:"inflight_wait"`
	// MaxConcurrentPerUser bounds one entity's requests with a body at
	// once (429 beyond).
	MaxConcurrentPerUser int `yaml:"max_concurrent_per_user"`
	// MaxRequestsPerUser bounds one entity's requests in flight at once,
	// whatever they are (429 beyond), long polls apart (they have their
	// own caps): with the token bucket, what one user can hold of a
	// replica's goroutines, connections and store pool.
	MaxRequestsPerUser int `yaml:"max_requests_per_user"`
	// MaxReadsPerUser bounds one entity's streaming reads (chunks, file
	// versions) at once (429 beyond): each holds part of the in-flight
	// budget while it sends, so one member stalling reads must not
	// starve everyone's uploads.
	MaxReadsPerUser int `yaml:"max_reads_per_user"`
	// PollInterval: how often a replica reads the deny-list and change
	// generations from the store (what other replicas wrote).
	PollInterval time.Duration `yaml:"poll_interval"`
	// DenyMaxStaleness: if the deny list could not be refreshed for this
	// long, every request is refused with 503 (fail closed).
	DenyMaxStaleness  time.Duration `yaml:"deny_max_staleness"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	// RequestTimeout bounds reading a request body and writing a
	// response, plus size / MinTransferRate for chunk transfers.
	RequestTimeout  time.Duration `yaml:"request_timeout"`
	MinTransferRate int64         `yaml:"min_transfer_rate"` // bytes per second
}

// Audit configures checkpoint signing.
type Audit struct {
	// SigningKeyFile is an Ed25519 private key (PKCS#8 PEM, as written by
	// `mattersync-gateway keygen`).
	SigningKeyFile string `yaml:"signing_key_file"`
	// TrustedKeyFiles are further public keys (PEM) whose checkpoints
	// verify: other replicas' or retired keys.
	TrustedKeyFiles    []string      `yaml:"trusted_key_files"`
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
	// RefusalRecordsPerSecond bounds the requests refused before
	// authentication that get an audit record of their own, gateway-wide
	// (and one per source address per second); the others are counted per
	// source and written as "auth.failures" summary records every
	// RefusalSummaryInterval.
	RefusalRecordsPerSecond float64       `yaml:"refusal_records_per_second"`
	RefusalSummaryInterval  time.Duration `yaml:"refusal_summary_interval"`
	// Anchors keep copies of the checkpoints outside the database
	// (anchorconfig.go).
	Anchors Anchors `yaml:"anchors"`
	// Alerts are rules on the audit stream (package alerts).
	Alerts alerts.Config `yaml:"alerts"`
}

// Console is what the web console's page (served at /console/, docs/
// CONSOLE.md) is told about Vault: the page signs in there itself and asks
// Vault for the identity token it calls the admin API with.
type Console struct {
	// VaultAddress is Vault's URL as IT's browsers reach it, when not
	// vault.address (a gateway reaching Vault on an internal name).
	VaultAddress string `yaml:"vault_address"`
	// OIDCMount is Vault's OIDC auth mount (vault init --oidc-mount).
	OIDCMount string `yaml:"vault_oidc_mount"`
	// TokenRole is the identity token role: the Vault layout's name
	// (mattersync-admin --layout), as the CLI uses.
	TokenRole string `yaml:"vault_token_role"`
	// KVMount is the layout's KV mount (vault init: mattersync): the
	// Matters page lists the matters there with the admin's sign-in.
	KVMount string `yaml:"vault_kv_mount"`
}

// consoleName accepts Vault mount and role names the page puts in URL
// paths: letters, digits, '-', '_', and '/' between parts of a mount.
func consoleName(s string) bool {
	if s == "" || len(s) > 128 || strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") || strings.Contains(s, "//") {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '/') {
			return false
		}
	}
	return true
}

// Log configures the JSON log on stderr.
type Log struct {
	Level string `yaml:"level"` // debug, info, warn, error
}

// DefaultConfig returns the defaults every field not in the file keeps.
func DefaultConfig() Config {
	return Config{
		Listen:    ":8443",
		OpsListen: "127.0.0.1:9090",
		S3:        S3{Region: "us-east-1", AccessKeyEnv: "MATTERSYNC_S3_ACCESS_KEY", SecretKeyEnv: "MATTERSYNC_S3_SECRET_KEY"},
		Store:     StoreConfig{Driver: "sqlite", SQLitePath: "/var/lib/mattersync/gateway.db", PostgresPasswordEnv: "MATTERSYNC_PG_PASSWORD", MaxConns: 32},
		Console:   Console{OIDCMount: "oidc", TokenRole: "mattersync", KVMount: "mattersync"},
		Vault:     Vault{Audience: "mattersync", Leeway: 30 * time.Second, ReissueLeeway: 5 * time.Second, JWKSRefresh: 5 * time.Minute, MaxTokenLifetime: 15 * time.Minute},
		Limits: Limits{
			MaxChunkBytes: 16 << 20,
			// A largest manifest (16 MiB, ~466,000 chunks) in base64 plus
			// its chunk list in hex is ~53 MiB.
			MaxCommitBytes:  64 << 20,
			MaxBatchIDs:     10_000,
			MaxCommitChunks: 500_000,
			// About a hundred small files a request: the batch's
			// transaction is short (on PostgreSQL it holds its files'
			// locks while its manifests are written), its body (decoded:
			// twice) a small part of the in-flight budget, and a full
			// batch (one token per item) within the burst.
			MaxBatchBytes: 16 << 20,
			MaxBatchItems: 200,
			MaxFileSize:   64 << 30,
			MaxWait:       60 * time.Second,
			// A partner on a few hundred matters with three devices; a
			// user rarely has more than a few devices on one matter.
			MaxLongPollsPerUser:       1024,
			MaxLongPollsPerUserMatter: 8,
			MaxFeedMatters:            1000,
			RequestsPerSecond:         100,
			Burst:                     400,
			// An agent fails once when its token expires, then fetches a
			// new one; an office behind one NAT address fails a few
			// times a minute.
			UnauthenticatedPerSecond: 5,
			UnauthenticatedBurst:     50,
			MaxInflightBytes:         256 << 20,
			InflightWait:             5 * time.Second,
			MaxConcurrentPerUser:     16,
			MaxRequestsPerUser:       128,
			MaxReadsPerUser:          64,
			PollInterval:             200 * time.Millisecond,
			DenyMaxStaleness:         time.Second,
			ReadHeaderTimeout:        10 * time.Second,
			IdleTimeout:              120 * time.Second,
			RequestTimeout:           30 * time.Second,
			MinTransferRate:          256 << 10,
		},
		Audit:     Audit{CheckpointInterval: time.Minute, RefusalRecordsPerSecond: 20, RefusalSummaryInterval: 10 * time.Second, Anchors: defaultAnchors(), Alerts: alerts.DefaultConfig()},
		Lifecycle: lifecycle.DefaultConfig(),
		Log:       Log{Level: "info"},
	}
}

// LoadConfig reads a config file strictly: unknown keys, a second YAML
// document or a type mismatch are errors. The result is validated.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("gateway: config: %w", err)
	}
	return ParseConfig(b)
}

// ParseConfig decodes and validates a config document.
func ParseConfig(b []byte) (Config, error) {
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("gateway: config: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Config{}, errors.New("gateway: config: more than one YAML document")
	}
	cfg.applyDerived()
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// applyDerived fills the fields whose defaults depend on others.
func (c *Config) applyDerived() {
	addr := strings.TrimSuffix(c.Vault.Address, "/")
	if c.Vault.Issuer == "" && addr != "" {
		c.Vault.Issuer = addr + "/v1/identity/oidc"
	}
	if c.Vault.JWKSURL == "" && addr != "" {
		c.Vault.JWKSURL = addr + "/v1/identity/oidc/.well-known/keys"
	}
	if c.Sharing != nil {
		c.Sharing.FillDefaults()
	}
}

// Validate reports every problem in c at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen: %q is not host:port", c.Listen)
	}
	if _, port, err := net.SplitHostPort(c.OpsListen); err != nil {
		bad("ops_listen: %q is not host:port", c.OpsListen)
	} else if _, lport, _ := net.SplitHostPort(c.Listen); port == lport && port != "0" {
		bad("ops_listen: port %s is the API's (listen): the operational endpoints need their own", port)
	}
	switch {
	case c.TLS.CertFile == "" && c.TLS.KeyFile == "" && !c.InsecureDev:
		bad("tls: cert_file and key_file are required (plain HTTP only with insecure_dev: true)")
	case (c.TLS.CertFile == "") != (c.TLS.KeyFile == ""):
		bad("tls: set both cert_file and key_file")
	}
	if c.S3.Endpoint == "" || strings.Contains(c.S3.Endpoint, "://") || strings.Contains(c.S3.Endpoint, "/") {
		bad("s3.endpoint: %q must be host[:port], without a scheme", c.S3.Endpoint)
	}
	if c.S3.Bucket == "" {
		bad("s3.bucket is required")
	}
	if c.S3.Insecure && !c.InsecureDev {
		bad("s3.insecure requires insecure_dev: true")
	}
	if !validEnvName(c.S3.AccessKeyEnv) || !validEnvName(c.S3.SecretKeyEnv) {
		bad("s3.access_key_env and s3.secret_key_env must name environment variables")
	}
	switch c.Store.Driver {
	case "sqlite":
		if c.Store.SQLitePath == "" {
			bad("store.sqlite_path is required with driver sqlite")
		}
	case "postgres":
		if err := checkDSN(c.Store.PostgresDSN, c.InsecureDev); err != nil {
			bad("store.postgres_dsn: %v", err)
		}
		if c.Store.PostgresPasswordEnv != "" && !validEnvName(c.Store.PostgresPasswordEnv) {
			bad("store.postgres_password_env must name an environment variable")
		}
		if c.Store.MaxConns < 2 {
			bad("store.max_conns must be at least 2")
		}
	default:
		bad("store.driver: %q is not sqlite or postgres", c.Store.Driver)
	}
	for name, u := range map[string]string{"vault.issuer": c.Vault.Issuer, "vault.jwks_url": c.Vault.JWKSURL} {
		p, err := url.Parse(u)
		switch {
		case u == "":
			bad("%s is required (or set vault.address)", name)
		case err != nil || p.Host == "" || (p.Scheme != "https" && p.Scheme != "http"):
			bad("%s: %q is not an http(s) URL", name, u)
		case p.Scheme == "http" && !c.InsecureDev && name == "vault.jwks_url":
			bad("%s: plain http requires insecure_dev: true", name)
		}
	}
	if c.Vault.Audience == "" {
		bad("vault.audience is required")
	}
	if !consoleName(c.Console.OIDCMount) || !consoleName(c.Console.TokenRole) || !consoleName(c.Console.KVMount) {
		bad("console.vault_oidc_mount, console.vault_token_role and console.vault_kv_mount must be Vault names (letters, digits, '-', '_', '/')")
	}
	if a := c.Console.VaultAddress; a != "" {
		if u, err := url.Parse(a); err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && c.InsecureDev)) || u.Host == "" || u.User != nil {
			bad("console.vault_address must be an https URL (http with insecure_dev)")
		}
	}
	if c.Vault.Leeway < 0 || c.Vault.Leeway > 5*time.Minute {
		bad("vault.leeway must be between 0 and 5m")
	}
	if c.Vault.ReissueLeeway < 0 || c.Vault.ReissueLeeway > time.Minute {
		bad("vault.reissue_leeway must be between 0 and 1m")
	}
	if c.Vault.MaxTokenLifetime < time.Minute || c.Vault.MaxTokenLifetime > 24*time.Hour {
		bad("vault.max_token_lifetime must be between 1m and 24h")
	}
	if c.Vault.JWKSRefresh < 10*time.Second {
		bad("vault.jwks_refresh must be at least 10s")
	}
	l := c.Limits
	if l.MaxChunkBytes < 1<<10 || l.MaxChunkBytes > 5<<30 {
		bad("limits.max_chunk_bytes must be between 1 KiB and 5 GiB (one S3 PUT)")
	}
	if l.MaxCommitBytes < 1<<10 {
		bad("limits.max_commit_bytes must be at least 1 KiB")
	}
	if l.MaxBatchIDs < 1 || l.MaxCommitChunks < 1 {
		bad("limits.max_batch_ids and limits.max_commit_chunks must be positive")
	}
	if l.MaxBatchBytes < 1<<20 || l.MaxBatchItems < 1 {
		bad("limits.max_batch_bytes must be at least 1 MiB and limits.max_batch_items positive")
	}
	if l.Burst*batchItemsPerToken < 2*l.MaxBatchItems {
		bad("limits.burst must be at least twice limits.max_batch_items / %d: a batch takes a token per %d chunks and commits, and a larger one could never pass", batchItemsPerToken, batchItemsPerToken)
	}
	if l.MaxInflightBytes < 2*l.MaxBatchBytes {
		bad("limits.max_inflight_bytes must be at least twice limits.max_batch_bytes")
	}
	if l.MaxFileSize < 1<<20 || l.MaxFileSize > 1<<50 {
		bad("limits.max_file_size must be between 1 MiB and 1 PiB (in bytes)")
	}
	if l.MaxWait < 0 || l.MaxWait > 10*time.Minute {
		bad("limits.max_wait must be between 0 and 10m")
	}
	if l.RequestsPerSecond <= 0 || l.Burst < 1 {
		bad("limits.requests_per_second and limits.burst must be positive")
	}
	if l.MaxInflightBytes < l.MaxChunkBytes || l.MaxInflightBytes < 2*l.MaxCommitBytes {
		bad("limits.max_inflight_bytes must be at least limits.max_chunk_bytes and twice limits.max_commit_bytes")
	}
	if l.InflightWait < 0 || l.InflightWait > l.RequestTimeout {
		bad("limits.inflight_wait must be between 0 and limits.request_timeout")
	}
	if l.MaxLongPollsPerUser < 1 || l.MaxLongPollsPerUserMatter < 1 {
		bad("limits.max_long_polls_per_user and limits.max_long_polls_per_user_matter must be positive")
	}
	if l.MaxFeedMatters < 1 || l.MaxFeedMatters > 100_000 {
		bad("limits.max_feed_matters must be from 1 to 100000")
	}
	if l.MaxReadsPerUser < 1 {
		bad("limits.max_reads_per_user must be positive")
	}
	if l.MaxRequestsPerUser < l.MaxConcurrentPerUser || l.MaxRequestsPerUser < l.MaxReadsPerUser {
		bad("limits.max_requests_per_user must be at least limits.max_concurrent_per_user and limits.max_reads_per_user")
	}
	if l.MaxConcurrentPerUser < 1 {
		bad("limits.max_concurrent_per_user must be positive")
	}
	if l.UnauthenticatedPerSecond <= 0 || l.UnauthenticatedBurst < 1 {
		bad("limits.unauthenticated_per_second and limits.unauthenticated_burst must be positive")
	}
	if l.PollInterval <= 0 || l.DenyMaxStaleness < 2*l.PollInterval {
		bad("limits.poll_interval must be positive and at most half of limits.deny_max_staleness")
	}
	if l.ReadHeaderTimeout <= 0 || l.IdleTimeout <= 0 || l.RequestTimeout <= 0 {
		bad("limits.read_header_timeout, idle_timeout and request_timeout must be positive")
	}
	if l.MinTransferRate < 1<<10 {
		bad("limits.min_transfer_rate must be at least 1 KiB/s")
	}
	if c.Audit.SigningKeyFile == "" {
		bad("audit.signing_key_file is required")
	}
	if c.Audit.CheckpointInterval < time.Second {
		bad("audit.checkpoint_interval must be at least 1s")
	}
	if c.Audit.RefusalRecordsPerSecond <= 0 {
		bad("audit.refusal_records_per_second must be positive")
	}
	if c.Audit.RefusalSummaryInterval < 100*time.Millisecond || c.Audit.RefusalSummaryInterval > 10*time.Minute {
		bad("audit.refusal_summary_interval must be between 100ms and 10m")
	}
	c.Audit.Anchors.validate(c, bad)
	if err := c.Audit.Alerts.Validate(); err != nil {
		bad("audit.alerts: %v", err)
	}
	if err := c.Lifecycle.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Sharing != nil {
		if err := c.Sharing.Validate(c.InsecureDev); err != nil {
			errs = append(errs, err)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level: %q is not debug, info, warn or error", c.Log.Level)
	}
	for _, p := range c.TrustedProxies {
		if _, _, err := net.ParseCIDR(p); err != nil {
			bad("trusted_proxies: %q is not a CIDR", p)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("gateway: config: %w", errors.Join(errs...))
	}
	return nil
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// checkDSN accepts a postgres URL without a password: passwords come from
// the environment, so the config file can be world-readable. It must name
// sslmode=verify-full or verify-ca: with no sslmode, libpq and pgx try TLS
// and fall back to plain text ("prefer"), and "require" does not check the
// server's certificate, so an attacker on the path could read or downgrade
// the connection (and take the password). Plain modes only with insecure_dev.
func checkDSN(dsn string, insecureDev bool) error {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return errors.New("must be a postgres://user@host:port/db URL")
	}
	q := u.Query()
	if _, ok := u.User.Password(); ok || q.Has("password") {
		return errors.New("must not contain a password (use store.postgres_password_env)")
	}
	switch mode := q.Get("sslmode"); {
	case len(q["sslmode"]) > 1:
		return errors.New("sslmode given more than once")
	case mode == "verify-full" || mode == "verify-ca":
	case insecureDev:
	case mode == "":
		return errors.New("must set sslmode=verify-full (or verify-ca): without it the connection may fall back to plain text (other modes only with insecure_dev: true)")
	default:
		return fmt.Errorf("sslmode=%s does not verify the server: use sslmode=verify-full (or verify-ca; other modes only with insecure_dev: true)", mode)
	}
	return nil
}

// Secrets are the credentials the config refers to.
type Secrets struct {
	S3AccessKey      string
	S3SecretKey      string
	PostgresPassword string
	// VaultSecretID is the AppRole secret ID of the audit head login.
	VaultSecretID string
	// AlertWebhookSecret is the HMAC key of the alert webhook.
	AlertWebhookSecret string
}

// LogValue keeps secrets out of logs.
func (Secrets) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// String keeps secrets out of formatted output.
func (Secrets) String() string { return "[redacted]" }

// GoString keeps secrets out of %#v.
func (Secrets) GoString() string { return "[redacted]" }

// Secrets reads the credentials from the environment via getenv.
func (c *Config) Secrets(getenv func(string) string) (Secrets, error) {
	var s Secrets
	var missing []string
	get := func(name string, dst *string, required bool) {
		*dst = getenv(name)
		if *dst == "" && required {
			missing = append(missing, name)
		}
	}
	get(c.S3.AccessKeyEnv, &s.S3AccessKey, true)
	get(c.S3.SecretKeyEnv, &s.S3SecretKey, true)
	if c.Store.Driver == "postgres" && c.Store.PostgresPasswordEnv != "" {
		get(c.Store.PostgresPasswordEnv, &s.PostgresPassword, false)
	}
	if c.Audit.Anchors.Vault.Enabled {
		get(c.Audit.Anchors.Vault.SecretIDEnv, &s.VaultSecretID, true)
	}
	if a := c.Audit.Alerts; a.Enabled && a.Webhook.URL != "" {
		get(a.Webhook.SecretEnv, &s.AlertWebhookSecret, true)
	}
	if len(missing) > 0 {
		return Secrets{}, fmt.Errorf("gateway: environment variables not set: %s", strings.Join(missing, ", "))
	}
	return s, nil
}

// LoadSigningKey reads an Ed25519 private key in PKCS#8 PEM.
func LoadSigningKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gateway: audit signing key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("gateway: audit signing key %s: not a PEM PRIVATE KEY", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("gateway: audit signing key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("gateway: audit signing key %s: not an Ed25519 key", path)
	}
	return ek, nil
}

// LoadPublicKey reads an Ed25519 public key in PKIX PEM.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gateway: public key: %w", err)
	}
	return ParsePublicKey(b)
}

// ParsePublicKey parses an Ed25519 public key in PKIX PEM.
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) {
	k, err := api.ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return k, nil
}

// MarshalKeys encodes a new key pair as PEM: the private key (PKCS#8) and
// the public key (PKIX).
func MarshalKeys(priv ed25519.PrivateKey) (privPEM, pubPEM []byte, err error) {
	p, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	q, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p}), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: q}), nil
}
