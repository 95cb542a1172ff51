package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

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
	if err := privateDir(cfg.DataDir); err != nil {
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
	hc, err := client.HTTPClient(cfg.Gateway.CAFile)
	if err != nil {
		idx.Close()
		kr.Close()
		return nil, err
	}
	gw, err := client.New(cfg.Gateway.URL, kr, client.Options{HTTPClient: hc, Device: cfg.DeviceName})
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

// Secrets is where `mattersync login` keeps the Vault secret: the OS
// credential store (Windows Credential Manager, macOS Keychain, Secret
// Service on Linux), never a file.
type Secrets interface {
	Get(key string) (string, error)
}

// SecretKey names the user's Vault secret in the credential store.
func (c *Config) SecretKey() string {
	return c.Vault.Auth + " " + c.Vault.Username + " @ " + c.Vault.Address
}

// Authenticator returns the Vault login the config asks for. The secret
// comes from the environment variable the config names, if set, else from
// the OS credential store (`mattersync login`); never from the file.
func (c *Config) Authenticator(store Secrets) (kms.Authenticator, error) {
	secret := func(env, def string) (string, error) {
		if env == "" {
			env = def
		}
		if v := os.Getenv(env); v != "" {
			return v, nil
		}
		if store != nil {
			if v, err := store.Get(c.SecretKey()); err == nil && v != "" {
				return v, nil
			}
		}
		return "", fmt.Errorf("vault.auth %s: no secret in $%s or the OS credential store: run `mattersync login`", c.Vault.Auth, env)
	}
	switch c.Vault.Auth {
	case "userpass":
		pw, err := secret(c.Vault.PasswordEnv, "MATTERSYNC_VAULT_PASSWORD")
		if err != nil {
			return nil, err
		}
		return kms.UserpassAuth{Mount: c.LoginMount(), Username: c.Vault.Username, Password: pw}, nil
	case "token":
		if c.Vault.TokenFile != "" {
			b, err := os.ReadFile(c.Vault.TokenFile)
			if err != nil {
				return nil, fmt.Errorf("vault.token_file: %w", err)
			}
			if t := strings.TrimSpace(string(b)); t != "" {
				return kms.TokenAuth{Token: t}, nil
			}
			return nil, fmt.Errorf("vault.token_file %s is empty (is Vault Agent running?)", c.Vault.TokenFile)
		}
		t, err := secret(c.Vault.TokenEnv, "VAULT_TOKEN")
		if err != nil {
			return nil, err
		}
		return kms.TokenAuth{Token: t}, nil
	}
	return nil, fmt.Errorf("vault.auth %q: an interactive OIDC login is not built into this agent yet; run Vault Agent with OIDC auto-auth and a file sink, and set auth: token with token_file", c.Vault.Auth)
}
