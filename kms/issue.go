package kms

import (
	"context"
	"log/slog"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// IssuedToken is a Vault token from a login, for a caller that keeps it
// instead of the password: `mattersync login` stores it in the OS
// credential store, and the agent logs in with it later (StoredTokenAuth),
// renewing it while it runs. Token is a secret: String and LogValue leave
// it out.
type IssuedToken struct {
	Token     string
	TTL       time.Duration // left at issue; renewals extend it up to the login's max TTL
	Renewable bool
	EntityID  string
}

func (t IssuedToken) String() string {
	return "Vault token for entity " + t.EntityID + ", ttl " + t.TTL.String()
}

// LogValue keeps the token out of slog output.
func (t IssuedToken) LogValue() slog.Value {
	return slog.GroupValue(slog.String("entity", t.EntityID), slog.Duration("ttl", t.TTL), slog.Bool("renewable", t.Renewable))
}

// IssueToken logs in with auth and returns the token. Unlike Login, no
// session owns it: it is neither renewed nor revoked here.
func IssueToken(ctx context.Context, cfg Config, auth Authenticator) (IssuedToken, error) {
	const op = "login"
	c, err := cfg.newClient()
	if err != nil {
		return IssuedToken{}, err
	}
	sec, err := auth.Login(ctx, c)
	if err != nil {
		return IssuedToken{}, wrap(op, err)
	}
	if err := mfaPending(sec); err != nil {
		return IssuedToken{}, err
	}
	if sec == nil || sec.Auth == nil || sec.Auth.ClientToken == "" {
		return IssuedToken{}, errorf(op, Other, "Vault returned no token")
	}
	return IssuedToken{Token: sec.Auth.ClientToken, TTL: time.Duration(sec.Auth.LeaseDuration) * time.Second,
		Renewable: sec.Auth.Renewable, EntityID: sec.Auth.EntityID}, nil
}

// StoredTokenAuth logs in with a token kept elsewhere (the OS credential
// store), read again at every login: when the session's token can no
// longer be renewed and the user has logged in again meanwhile, the
// session picks up the new token by itself. Like TokenAuth, the session
// renews the token but never revokes it.
type StoredTokenAuth struct {
	Read func() (string, error)
}

// Login implements Authenticator.
func (a StoredTokenAuth) Login(ctx context.Context, c *vault.Client) (*vault.Secret, error) {
	t, err := a.Read()
	if err != nil {
		return nil, errorf("login", Denied, "no Vault login stored for the agent (run `mattersync login`): %w", err)
	}
	if t == "" {
		return nil, errorf("login", Denied, "no Vault login stored for the agent (run `mattersync login`)")
	}
	return TokenAuth{Token: t}.Login(ctx, c)
}

// String keeps the token out of logs and error messages.
func (StoredTokenAuth) String() string { return "stored token login" }

// RevokeToken revokes a token kept by the caller (`mattersync logout`), so
// a copy taken from the credential store stops working too.
func RevokeToken(ctx context.Context, cfg Config, token string) error {
	c, err := cfg.newClient()
	if err != nil {
		return err
	}
	c.SetToken(token)
	return wrap("revoke token", c.Auth().Token().RevokeSelfWithContext(ctx, ""))
}

// loginChanged logs in again at once, outside the renewal schedule, when
// Vault refused the session's token and the authenticator is a stored
// token that changed since (the person ran `mattersync login` after their
// sign-in expired): syncing resumes within moments instead of at the next
// renewal. It reports whether the session now has the new token.
func (s *session) loginChanged(ctx context.Context) bool {
	st, ok := s.auth.(StoredTokenAuth)
	if !ok {
		return false
	}
	t, err := st.Read()
	if err != nil || t == "" || t == s.client.Token() {
		return false
	}
	if _, err := s.login(ctx); err != nil {
		s.log.Warn("kms: the new stored login was refused too", "kind", KindOf(err).String(), "err", err)
		return false
	}
	s.log.Info("kms: logged in again with the new stored login")
	return true
}
