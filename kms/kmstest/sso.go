package kmstest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/mattersync/mattersync/internal/idp"
	"github.com/mattersync/mattersync/internal/testenv"
	"github.com/mattersync/mattersync/kms"
)

// SSO is sign-in through a real identity provider (ORY Hydra, testenv)
// set up in Env's Vault by kms.Admin.Init: the OIDC auth method, and TOTP
// login MFA on the OIDC and userpass mounts.
//
//	sso := env.SSO(t, testenv.Hydra(t))
//	alice := sso.User(t)                 // in Vault (sign-in linked, MFA enrolled) and at the IdP
//	tok, err := kms.IssueToken(ctx, env.Config, sso.Auth(alice, nil))
type SSO struct {
	Env    *Env
	Hydra  *testenv.HydraServer
	Client idp.Client // Vault's app registration at Hydra
}

// SSOUser is a user who signs in through the identity provider.
type SSOUser struct {
	User
	Login      string // the sign-in (e-mail claim) linked to the entity
	IdPPass    string // password at the identity provider
	TOTPSecret string // base32, from the enrollment's otpauth:// URL; empty if not enrolled
}

// SSO configures OIDC against h and MFA in e's Vault.
func (e *Env) SSO(t testing.TB, h *testenv.HydraServer) *SSO {
	t.Helper()
	return e.sso(t, h, &kms.MFAOptions{})
}

// SSOConsole is SSO that also lets the web console sign in from a gateway
// on 127.0.0.1 (any port: Vault and Hydra ignore the port of loopback
// redirect URIs), with MFA on the OIDC mount only: the test's agents and
// scripts log in with userpass (as make run SSO=1 does). Vault's CORS is
// the test's to set once the gateway's origin is known: ConsoleCORS.
func (e *Env) SSOConsole(t testing.TB, h *testenv.HydraServer) *SSO {
	t.Helper()
	return e.sso(t, h, &kms.MFAOptions{Mounts: []string{e.Config.Layout.OIDCMount()}}, "http://127.0.0.1"+kms.ConsoleCallbackPath)
}

// ConsoleCORS lets the web console at consoleURL call Vault (vault init
// --console-url).
func (s *SSO) ConsoleCORS(t testing.TB, consoleURL string) {
	t.Helper()
	if _, err := s.Env.Admin.Init(context.Background(), kms.InitOptions{Console: []string{consoleURL}}, nil); err != nil {
		t.Fatalf("kmstest: init console: %v", err)
	}
}

func (e *Env) sso(t testing.TB, h *testenv.HydraServer, mfa *kms.MFAOptions, redirects ...string) *SSO {
	t.Helper()
	c := h.RegisterClient(t, append([]string{kms.LoopbackRedirectURI}, redirects...)...)
	_, err := e.Admin.Init(context.Background(), kms.InitOptions{
		OIDC: &kms.OIDCOptions{DiscoveryURL: h.Issuer, ClientID: c.ID, ClientSecret: c.Secret, RedirectURIs: redirects},
		MFA:  mfa,
	}, nil)
	if err != nil {
		t.Fatalf("kmstest: init OIDC and MFA: %v", err)
	}
	return &SSO{Env: e, Hydra: h, Client: c}
}

// User creates a user who signs in at the identity provider (no userpass
// login), enrolled in MFA.
func (s *SSO) User(t testing.TB) SSOUser {
	t.Helper()
	u := s.UserNotEnrolled(t)
	s.Enroll(t, &u)
	return u
}

// UserNotEnrolled creates a user who signs in at the identity provider
// but has no authenticator app yet.
func (s *SSO) UserNotEnrolled(t testing.TB) SSOUser {
	t.Helper()
	name := testenv.RandomName("u-")
	u := SSOUser{Login: name + "@firm.example"}
	got, err := s.Env.Admin.CreateUser(context.Background(), name, kms.UserOptions{SSOLogin: u.Login})
	if err != nil {
		t.Fatalf("kmstest: create SSO user: %v", err)
	}
	u.User = User{Name: name, EntityID: got.EntityID}
	u.IdPPass = s.Hydra.AddUser(name)
	return u
}

// Enroll gives u a TOTP secret.
func (s *SSO) Enroll(t testing.TB, u *SSOUser) {
	t.Helper()
	e, err := s.Env.Admin.EnrollMFA(context.Background(), u.Name)
	if err != nil {
		t.Fatalf("kmstest: enroll MFA: %v", err)
	}
	key, err := otp.NewKeyFromURL(e.URL)
	if err != nil {
		t.Fatalf("kmstest: enrollment URL: %v", err)
	}
	u.TOTPSecret = key.Secret()
}

// Code returns u's current TOTP code.
func (u SSOUser) Code(t testing.TB) string {
	t.Helper()
	return u.CodeAt(t, time.Now())
}

// CodeAt returns u's TOTP code at when (Vault accepts the codes of one
// period before and after now).
func (u SSOUser) CodeAt(t testing.TB, when time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(u.TOTPSecret, when)
	if err != nil {
		t.Fatalf("kmstest: TOTP code: %v", err)
	}
	return c
}

// Browser returns a Browse function that signs u in at the identity
// provider as a person would in browser (a fresh one if nil: keep one to
// have the provider remember the sign-in). It does not wait: the sign-in
// runs while the caller waits for the callback; the page it ended on is
// sent to pages, if not nil.
func (s *SSO) Browser(u SSOUser, browser *http.Client, pages chan<- idp.Page) func(string) error {
	if browser == nil {
		browser = idp.NewBrowser()
	}
	return func(authURL string) error {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			p, err := idp.SignIn(ctx, browser, authURL, u.Name, u.IdPPass)
			if err != nil {
				p.Body = err.Error()
			}
			if pages != nil {
				pages <- p
			}
		}()
		return nil
	}
}

// Auth returns the full sign-in of u: the browser at the identity provider
// (browser as in Browser), then the current TOTP code.
func (s *SSO) Auth(t testing.TB, u SSOUser, browser *http.Client) kms.MFAAuth {
	return kms.MFAAuth{
		Auth: kms.OIDCAuth{Mount: s.Env.Config.Layout.OIDCMount(), Browse: s.Browser(u, browser, nil)},
		Passcode: func(context.Context, kms.MFAMethod) (string, error) {
			return u.Code(t), nil
		},
	}
}
