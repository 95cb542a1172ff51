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
	devID, err := LoadDeviceID(cfg.DataDir)
	if err != nil {
		log.Warn("no device ID: this device is not in the gateway's device inventory", "err", err)
	}
	gw, err := client.New(cfg.Gateway.URL, kr, client.Options{HTTPClient: hc, Device: cfg.DeviceName, DeviceID: devID})
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

// Secrets is where `mattersync login` keeps the Vault login: the OS
// credential store (Windows Credential Manager, macOS Keychain, Secret
// Service on Linux), never a file.
type Secrets interface {
	Get(key string) (string, error)
}

// SecretKey names the secret the user gave `mattersync login`: the Vault
// token for vault.auth token. For userpass, older versions kept the
// password under this name (see TokenKey).
func (c *Config) SecretKey() string {
	return c.Vault.Auth + " " + c.Vault.Username + " @ " + c.Vault.Address
}

// TokenKey names the renewable Vault token `mattersync login` keeps for a
// userpass or LDAP login, instead of the password (on macOS any process of
// the user can read the keychain, and a token expires where a password
// does not), and for an OIDC sign-in.
func (c *Config) TokenKey() string {
	return "vault token " + c.LoginMount() + " " + c.Vault.Username + " @ " + c.Vault.Address
}

// Authenticator returns the Vault login the config asks for. The secret
// comes from the environment variable the config names, if set, else from
// the OS credential store (`mattersync login`); never from the file. For
// userpass the store holds a renewable token, read again at every login.
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
		env := c.Vault.PasswordEnv
		if env == "" {
			env = "MATTERSYNC_VAULT_PASSWORD"
		}
		if pw := os.Getenv(env); pw != "" { // scripts, tests, make run
			return kms.UserpassAuth{Mount: c.LoginMount(), Username: c.Vault.Username, Password: pw}, nil
		}
		if store != nil {
			key := c.TokenKey()
			if t, err := store.Get(key); err == nil && t != "" {
				return kms.StoredTokenAuth{Read: func() (string, error) { return store.Get(key) }}, nil
			}
			// A password an older `mattersync login` stored: it still works
			// (the CLI replaces it with a token when it can).
			if pw, err := store.Get(c.SecretKey()); err == nil && pw != "" {
				return kms.UserpassAuth{Mount: c.LoginMount(), Username: c.Vault.Username, Password: pw}, nil
			}
		}
		return nil, fmt.Errorf("vault.auth userpass: no login in $%s or the OS credential store: run `mattersync login`", env)
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
	case "oidc":
		// The token of the person's last `mattersync login`, read again at
		// every Vault login: while there is none, or it expired, the agent
		// waits ("login needed") and resumes once they signed in again.
		key := c.TokenKey()
		return kms.StoredTokenAuth{Read: func() (string, error) {
			if store == nil {
				return "", errors.New("no credential store")
			}
			return store.Get(key)
		}}, nil
	}
	return nil, fmt.Errorf("vault.auth %q must be userpass, token or oidc", c.Vault.Auth)
}
