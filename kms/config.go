package kms

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// Config says how to reach Vault and where mattersync lives in it. Start
// from DefaultConfig, decode YAML over it strictly, then Validate: there are
// no implicit defaults, so a zero field is an error rather than a surprise.
type Config struct {
	// Address is Vault's URL, e.g. https://vault.firm.example:8200.
	Address string `yaml:"address"`
	// CACert is a PEM file of CAs to trust for Vault's TLS; empty means the
	// system roots.
	CACert string `yaml:"ca_cert"`
	// Layout names the mounts and global objects mattersync uses.
	Layout Layout `yaml:"layout"`
	// KeyTTL bounds how long a Keyring keeps unwrapped epoch keys before it
	// asks Vault again (which also re-checks membership). Default 15m.
	KeyTTL time.Duration `yaml:"key_ttl"`
	// Timeout bounds each Vault request. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
	// Retries is how often a request is retried on 5xx or network errors.
	// Default 2.
	Retries int `yaml:"retries"`

	// WrapTransport, if set, wraps the HTTP transport used for Vault, e.g. to
	// count requests in tests.
	WrapTransport func(http.RoundTripper) http.RoundTripper `yaml:"-"`
	// Logger receives kms's logs; nil discards them. Secrets are never logged.
	Logger *slog.Logger `yaml:"-"`
}

// Layout names the Vault mounts and the global Vault objects (policies,
// OIDC key and role) mattersync uses. Mount paths are configurable so that
// tests can share one Vault; identity objects are global, so tests also vary
// Name and Audience.
type Layout struct {
	// Transit is the transit mount holding one key per matter, matter-<id>.
	Transit string `yaml:"transit"`
	// KV is the KV v2 mount holding matter metadata and wrapped epoch keys.
	KV string `yaml:"kv"`
	// Userpass is the userpass auth mount used by `user create` (dev/test
	// and small firms; firms normally log in through OIDC or LDAP).
	Userpass string `yaml:"userpass"`
	// OIDC is the OIDC auth mount people sign in at through the firm's
	// identity provider (docs/SSO.md); empty means "oidc".
	OIDC string `yaml:"oidc"`
	// Name is the OIDC key and role name and the prefix of mattersync's
	// policies (<name>-agent, <name>-admin, <name>-matter-<id>...).
	Name string `yaml:"name"`
	// Audience is the OIDC role's client_id, hence every identity token's
	// "aud" claim: the gateway is configured with it.
	Audience string `yaml:"audience"`
}

// Defaults.
const (
	DefaultKeyTTL  = 15 * time.Minute
	DefaultTimeout = 30 * time.Second
)

// DefaultConfig returns the defaults: Vault at VAULT_ADDR's usual default,
// the default Layout, 15 minute key TTL.
func DefaultConfig() Config {
	return Config{
		Address: "https://127.0.0.1:8200",
		Layout:  DefaultLayout(),
		KeyTTL:  DefaultKeyTTL,
		Timeout: DefaultTimeout,
		Retries: 2,
	}
}

// DefaultLayout returns transit at "transit", KV v2 at "mattersync",
// userpass at "userpass", and name and audience "mattersync".
func DefaultLayout() Layout {
	return Layout{Transit: "transit", KV: "mattersync", Userpass: "userpass", Name: "mattersync", Audience: "mattersync"}
}

var (
	mountRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9_.-]+)*$`)
	nameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)
	audRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$`)
)

// Validate reports the first problem with c.
func (c *Config) Validate() error {
	const op = "config"
	u, err := url.Parse(c.Address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errorf(op, Invalid, "address %q is not an http(s) URL", c.Address)
	}
	if c.KeyTTL <= 0 {
		return errorf(op, Invalid, "key_ttl must be positive, got %v", c.KeyTTL)
	}
	if c.Timeout <= 0 {
		return errorf(op, Invalid, "timeout must be positive, got %v", c.Timeout)
	}
	if c.Retries < 0 {
		return errorf(op, Invalid, "retries must not be negative, got %d", c.Retries)
	}
	return c.Layout.Validate()
}

// Validate reports the first problem with l.
func (l *Layout) Validate() error {
	const op = "config"
	for _, m := range []struct{ key, val string }{{"layout.transit", l.Transit}, {"layout.kv", l.KV}, {"layout.userpass", l.Userpass}} {
		if !mountRE.MatchString(m.val) {
			return errorf(op, Invalid, "%s: %q is not a mount path (letters, digits, _ . - and inner /)", m.key, m.val)
		}
	}
	if l.OIDC != "" && !mountRE.MatchString(l.OIDC) {
		return errorf(op, Invalid, "layout.oidc: %q is not a mount path (letters, digits, _ . - and inner /)", l.OIDC)
	}
	if l.Transit == l.KV {
		return errorf(op, Invalid, "layout.transit and layout.kv are both %q", l.KV)
	}
	if !nameRE.MatchString(l.Name) {
		return errorf(op, Invalid, "layout.name %q: use 1-40 of a-z 0-9 _ -", l.Name)
	}
	if !audRE.MatchString(l.Audience) {
		return errorf(op, Invalid, "layout.audience %q: use up to 128 of A-Z a-z 0-9 _ . : / -", l.Audience)
	}
	return nil
}

// newClient returns a Vault client for c with no token. It is built from c
// alone: VAULT_TOKEN, VAULT_SKIP_VERIFY and the other VAULT_* variables are
// never picked up implicitly.
func (c *Config) newClient() (*vault.Client, error) {
	const op = "connect"
	if err := c.Validate(); err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	vc := &vault.Config{
		Address: c.Address,
		HttpClient: &http.Client{
			Transport: tr,
			// The Vault client follows Vault's redirects itself.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Timeout:      c.Timeout,
		MaxRetries:   c.Retries,
		MinRetryWait: 250 * time.Millisecond,
		MaxRetryWait: 1500 * time.Millisecond,
	}
	if c.CACert != "" {
		if err := vc.ConfigureTLS(&vault.TLSConfig{CACert: c.CACert}); err != nil {
			return nil, errorf(op, Invalid, "ca_cert %s: %w", c.CACert, err)
		}
	}
	if c.WrapTransport != nil {
		vc.HttpClient.Transport = c.WrapTransport(vc.HttpClient.Transport)
	}
	client, err := vault.NewClient(vc)
	if err != nil {
		return nil, wrap(op, fmt.Errorf("vault client: %w", err))
	}
	client.ClearToken()
	client.ClearNamespace()
	return client, nil
}

func (c *Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}
