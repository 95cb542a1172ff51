package kms

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"sync"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// Authenticator obtains a Vault token. Its method set is Vault's
// api.AuthMethod, so the login methods in github.com/hashicorp/vault/api/auth
// (OIDC, Kubernetes, AppRole...) plug in unchanged. When the token can no
// longer be renewed, Login is called again.
type Authenticator interface {
	Login(ctx context.Context, c *vault.Client) (*vault.Secret, error)
}

// UserpassAuth logs in with a user name and password. It also serves LDAP
// (Mount "ldap"), whose login API is the same. The password stays in memory
// so the session can log in again when its token reaches its max TTL.
type UserpassAuth struct {
	Mount    string // auth mount path, e.g. "userpass" or "ldap"
	Username string
	Password string
}

// Login implements Authenticator.
func (a UserpassAuth) Login(ctx context.Context, c *vault.Client) (*vault.Secret, error) {
	if a.Mount == "" || a.Username == "" {
		return nil, errorf("login", Invalid, "userpass login needs a mount and a user name")
	}
	return c.Logical().WriteWithContext(ctx, "auth/"+a.Mount+"/login/"+url.PathEscape(a.Username),
		map[string]any{"password": a.Password})
}

// String keeps the password out of logs and error messages.
func (a UserpassAuth) String() string { return "userpass login " + a.Username + " at " + a.Mount }

// TokenAuth uses an existing Vault token, e.g. VAULT_TOKEN or one written by
// Vault Agent. The session renews it but never revokes it.
type TokenAuth struct{ Token string }

// Login implements Authenticator: it sets the token and looks it up.
func (a TokenAuth) Login(ctx context.Context, c *vault.Client) (*vault.Secret, error) {
	if a.Token == "" {
		return nil, errorf("login", Invalid, "no Vault token (set VAULT_TOKEN or log in)")
	}
	c.SetToken(a.Token)
	return c.Auth().Token().LookupSelfWithContext(ctx)
}

// String keeps the token out of logs and error messages.
func (a TokenAuth) String() string { return "token login" }

// session is an authenticated Vault client shared by Keyring and Admin: the
// token, its background renewal, and the cached identity token.
type session struct {
	cfg    Config
	layout Layout
	client *vault.Client
	log    *slog.Logger
	auth   Authenticator
	now    func() time.Time // replaced in tests to step past TTLs

	// owned is true when the token came from a login (not TokenAuth), so
	// Close may revoke it. owned and entityID are set before the renewal
	// goroutine starts and never change.
	owned    bool
	entityID string

	stop context.CancelFunc // ends the renewal goroutine
	done chan struct{}      // closed when it has ended

	tokMu sync.Mutex // guards tok and tokRefresh; held during a fetch so concurrent callers share it
	tok   IdentityToken
	// tokRefresh is when tok is fetched again: halfway through its life, so
	// a caller never hands the gateway a token about to expire.
	tokRefresh time.Time
}

func newSession(ctx context.Context, cfg Config, auth Authenticator) (*session, error) {
	client, err := cfg.newClient()
	if err != nil {
		return nil, err
	}
	s := &session{cfg: cfg, layout: cfg.Layout, client: client, log: cfg.logger(), auth: auth, now: time.Now, done: make(chan struct{})}
	l, err := s.login(ctx)
	if err != nil {
		return nil, err
	}
	s.owned, s.entityID = l.owned, l.entityID
	rctx, stop := context.WithCancel(ctx)
	s.stop = stop
	go s.renewLoop(rctx, l.ttl, l.renewable)
	return s, nil
}

// login runs the authenticator and installs the token it yields. It
// reports whether the token is ours to revoke and its entity; the renewal
// loop ignores those (a fresh login is the same user), so they are only set
// once, before any goroutine reads them.
func (s *session) login(ctx context.Context) (l loginResult, err error) {
	const op = "login"
	if s.auth == nil {
		return l, errorf(op, Invalid, "no authenticator")
	}
	sec, err := s.auth.Login(ctx, s.client)
	if err != nil {
		return l, wrap(op, err)
	}
	if sec == nil {
		return l, errorf(op, Other, "Vault returned no token")
	}
	if err := mfaPending(sec); err != nil {
		return l, err
	}
	if sec.Auth != nil {
		s.client.SetToken(sec.Auth.ClientToken)
		return loginResult{ttl: time.Duration(sec.Auth.LeaseDuration) * time.Second, renewable: sec.Auth.Renewable,
			owned: true, entityID: sec.Auth.EntityID}, nil
	}
	// TokenAuth: a lookup-self answer.
	l.ttl, _ = sec.TokenTTL()
	l.renewable, _ = sec.TokenIsRenewable()
	l.entityID, _ = sec.Data["entity_id"].(string)
	return l, nil
}

type loginResult struct {
	ttl       time.Duration
	renewable bool
	owned     bool
	entityID  string
}

// renewLoop keeps the token alive until ctx ends: renew at two thirds of
// the TTL; when renewal fails or the max TTL is near, log in again.
func (s *session) renewLoop(ctx context.Context, ttl time.Duration, renewable bool) {
	defer close(s.done)
	backoff := 5 * time.Second
	for {
		if ttl <= 0 && !renewable {
			return // root or periodic-less non-expiring token: nothing to do
		}
		wait := max(ttl*2/3, time.Second)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if renewable {
			sec, err := s.client.Auth().Token().RenewSelfWithContext(ctx, 0)
			if err == nil && sec != nil && sec.Auth != nil {
				n := time.Duration(sec.Auth.LeaseDuration) * time.Second
				// A renewal that no longer extends the TTL means the max TTL
				// is close: fall through to a fresh login.
				if n >= ttl/2 && n > time.Second {
					ttl, renewable = n, sec.Auth.Renewable
					s.log.Debug("kms: token renewed", "ttl", ttl)
					continue
				}
			} else if err != nil {
				s.log.Warn("kms: token renewal failed", "err", err)
			}
		}
		l, err := s.login(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Error("kms: login again failed", "kind", KindOf(err).String(), "err", err)
			ttl, renewable, backoff = backoff*3/2, false, min(backoff*2, time.Minute)
			continue
		}
		backoff = 5 * time.Second
		ttl, renewable = l.ttl, l.renewable
		s.log.Info("kms: logged in again", "ttl", ttl)
	}
}

// close ends renewal and, for a token this session logged in for, revokes
// it. Best effort: the agent may be shutting down offline.
func (s *session) close() {
	s.stop()
	<-s.done
	if s.owned {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.client.Auth().Token().RevokeSelfWithContext(ctx, ""); err != nil {
			s.log.Debug("kms: revoke own token", "err", err)
		}
	}
	s.client.ClearToken()
}

// read returns the secret at path, or a NotFound error if there is none.
func (s *session) read(ctx context.Context, op, path string) (*vault.Secret, error) {
	sec, err := s.client.Logical().ReadWithContext(ctx, path)
	if err != nil {
		return nil, wrap(op, err)
	}
	if sec == nil {
		return nil, errorf(op, NotFound, "%s", path)
	}
	return sec, nil
}

// readOpt is read where absence is normal: it returns nil, nil then.
func (s *session) readOpt(ctx context.Context, op, path string) (*vault.Secret, error) {
	sec, err := s.client.Logical().ReadWithContext(ctx, path)
	if err != nil {
		if classify(err) == NotFound {
			return nil, nil
		}
		return nil, wrap(op, err)
	}
	return sec, nil
}

func (s *session) write(ctx context.Context, op, path string, data map[string]any) (*vault.Secret, error) {
	sec, err := s.client.Logical().WriteWithContext(ctx, path, data)
	return sec, wrap(op, err)
}

func (s *session) delete(ctx context.Context, op, path string) error {
	_, err := s.client.Logical().DeleteWithContext(ctx, path)
	return wrap(op, err)
}

// list returns the keys under path; none is an empty list.
func (s *session) list(ctx context.Context, op, path string) ([]string, error) {
	sec, err := s.client.Logical().ListWithContext(ctx, path)
	if err != nil {
		if classify(err) == NotFound {
			return nil, nil
		}
		return nil, wrap(op, err)
	}
	if sec == nil {
		return nil, nil
	}
	raw, _ := sec.Data["keys"].([]any)
	keys := make([]string, 0, len(raw))
	for _, k := range raw {
		if s, ok := k.(string); ok {
			keys = append(keys, s)
		}
	}
	return keys, nil
}

// identityToken returns the cached identity token, fetching a new one when
// it is past half its life or force is set.
func (s *session) identityToken(ctx context.Context, force bool) (IdentityToken, error) {
	const op = "identity token"
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	if !force && s.tok.Raw != "" && s.now().Before(s.tokRefresh) {
		return s.tok, nil
	}
	sec, err := s.read(ctx, op, s.layout.tokenPath())
	if KindOf(err) == Denied && s.loginChanged(ctx) {
		sec, err = s.read(ctx, op, s.layout.tokenPath())
	}
	if err != nil {
		return IdentityToken{}, err
	}
	raw, _ := sec.Data["token"].(string)
	tok, err := parseIdentityToken(raw)
	if err != nil {
		return IdentityToken{}, &Error{Op: op, Kind: Other, Err: err}
	}
	life := tok.Expiry.Sub(tok.IssuedAt)
	if life <= 0 {
		return IdentityToken{}, errorf(op, Other, "token has no lifetime (iat %v, exp %v)", tok.IssuedAt, tok.Expiry)
	}
	s.tok, s.tokRefresh = tok, s.now().Add(life/2)
	return tok, nil
}

func (s *session) forgetIdentityToken() {
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	s.tok, s.tokRefresh = IdentityToken{}, time.Time{}
}

// TokenConfig is what a verifier of identity tokens needs: the gateway is
// configured with it.
type TokenConfig struct {
	Issuer   string // "iss" of every token
	Audience string // "aud": the OIDC role's client_id (Layout.Audience)
	JWKSURL  string // Vault's published signing keys
}

// FetchTokenConfig reads Vault's OpenID discovery document (no token
// needed) and returns the issuer and key URL with cfg's audience.
func FetchTokenConfig(ctx context.Context, cfg Config) (TokenConfig, error) {
	const op = "token config"
	client, err := cfg.newClient()
	if err != nil {
		return TokenConfig{}, err
	}
	resp, err := client.Logical().ReadRawWithContext(ctx, "identity/oidc/.well-known/openid-configuration")
	if resp != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		return TokenConfig{}, wrap(op, err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return TokenConfig{}, errorf(op, Other, "decode discovery document: %w", err)
	}
	if doc.Issuer == "" || doc.JWKSURI == "" {
		return TokenConfig{}, errorf(op, Other, "discovery document has no issuer or jwks_uri")
	}
	return TokenConfig{Issuer: doc.Issuer, Audience: cfg.Layout.Audience, JWKSURL: doc.JWKSURI}, nil
}

// number reads a JSON number from a Vault response field.
func number(v any) (int64, error) {
	switch n := v.(type) {
	case json.Number:
		return n.Int64()
	case float64:
		return int64(n), nil
	case int64:
		return n, nil
	case int:
		return int64(n), nil
	case string:
		return strconv.ParseInt(n, 10, 64)
	}
	return 0, fmt.Errorf("%v (%T) is not a number", v, v)
}
