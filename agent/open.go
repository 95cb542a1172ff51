package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/kms"
)

// Open logs in to Vault with auth, opens the local index and connects to
// the gateway: an Agent ready to Run or SyncOnce. Close releases it.
func Open(ctx context.Context, cfg Config, auth kms.Authenticator, log *slog.Logger) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	kcfg := kms.DefaultConfig()
	kcfg.Address, kcfg.CACert, kcfg.Layout = cfg.Vault.Address, cfg.Vault.CAFile, cfg.Vault.Layout
	kcfg.KeyTTL, kcfg.Logger = cfg.KeyCacheTTL, log
	kr, err := kms.Login(ctx, kcfg, auth)
	if err != nil {
		return nil, fmt.Errorf("vault login: %w", err)
	}
	tok, err := kr.IdentityToken(ctx)
	if err != nil {
		kr.Close()
		return nil, fmt.Errorf("identity token: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		kr.Close()
		return nil, fmt.Errorf("data dir: %w", err)
	}
	idx, err := index.Open(ctx, filepath.Join(cfg.DataDir, "index.db"))
	if err != nil {
		kr.Close()
		return nil, err
	}
	if err := idx.BindUser(ctx, tok.Subject, cfg.Gateway.URL); err != nil {
		idx.Close()
		kr.Close()
		return nil, err
	}
	hc, err := httpClient(cfg.Gateway.CAFile)
	if err != nil {
		idx.Close()
		kr.Close()
		return nil, err
	}
	tokens := client.TokenFunc(func(ctx context.Context) (string, error) {
		t, err := kr.IdentityToken(ctx)
		return t.Raw, err
	})
	gw, err := client.New(cfg.Gateway.URL, tokens, client.Options{HTTPClient: hc, Device: cfg.DeviceName})
	if err != nil {
		idx.Close()
		kr.Close()
		return nil, err
	}
	a, err := New(cfg, idx, kr, gw, tok.Username, tok.Subject, log)
	if err != nil {
		idx.Close()
		kr.Close()
		return nil, err
	}
	a.closers = append(a.closers, idx.Close, kr.Close)
	return a, nil
}

// Close wipes the keys and releases the index and the Vault session.
func (a *Agent) Close() error {
	a.keys.Wipe()
	var errs []error
	for _, c := range a.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// httpClient trusts the system roots, or only caFile's CAs when set.
func httpClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("gateway CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("gateway CA %s: no PEM certificates", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr}, nil
}

// Authenticator returns the Vault login the config asks for. Secrets come
// from the environment variables the config names, never from the file.
func (c *Config) Authenticator() (kms.Authenticator, error) {
	switch c.Vault.Auth {
	case "userpass":
		env := c.Vault.PasswordEnv
		if env == "" {
			env = "MATTERSYNC_VAULT_PASSWORD"
		}
		pw := os.Getenv(env)
		if pw == "" {
			return nil, fmt.Errorf("vault.auth userpass: the password is read from $%s, which is empty", env)
		}
		return kms.UserpassAuth{Mount: c.Vault.AuthMount, Username: c.Vault.Username, Password: pw}, nil
	case "token":
		env := c.Vault.TokenEnv
		if env == "" {
			env = "VAULT_TOKEN"
		}
		t := os.Getenv(env)
		if t == "" {
			return nil, fmt.Errorf("vault.auth token: the token is read from $%s, which is empty", env)
		}
		return kms.TokenAuth{Token: t}, nil
	}
	return nil, fmt.Errorf("vault.auth %q: interactive OIDC login is not built into this agent yet; run Vault Agent (auto-auth with your IdP) and use auth: token", c.Vault.Auth)
}
