package devstack

// make run SSO=1: an identity provider (ORY Hydra and the dev
// login-and-consent app) in front of Vault's OIDC auth method, TOTP login
// MFA on it, and agents that sign in through it (`mattersync login`).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/mattersync/mattersync/internal/idp"
	"github.com/mattersync/mattersync/internal/testenv"
)

// ssoUser is what the stack keeps of a demo user's sign-in (state.json):
// the identity provider's password and the TOTP secret of their
// authenticator app. Dev only.
type ssoUser struct {
	IdPPassword string `json:"idp_password"`
	TOTPSecret  string `json:"totp_secret"`
}

// ssoLogin is a demo user's sign-in at the identity provider.
func ssoLogin(user string) string { return user + "@firm.example" }

// startSSO starts Hydra, registers Vault at it, configures Vault's OIDC
// auth method with MFA on it (userpass stays without MFA: the demo admin
// and the break-glass path), and enrolls the demo users.
func (s *Stack) startSSO(ctx context.Context) error {
	s.say("starting ORY Hydra (the demo identity provider) and its login app")
	h, err := testenv.StartHydra(testenv.HydraOptions{Bin: s.tool("hydra"), Log: s.logPath("hydra")})
	if err != nil {
		return fmt.Errorf("devstack: %w", err)
	}
	s.hydra = h
	if s.st.SSO == nil {
		s.st.SSO = map[string]ssoUser{}
	}
	for _, u := range s.opts.Users {
		su := s.st.SSO[u]
		if su.IdPPassword == "" {
			su.IdPPassword = randomHex(8)
			s.st.SSO[u] = su
		}
		h.IdP.SetUser(idp.User{Name: u, Password: su.IdPPassword, Email: ssoLogin(u), FullName: strings.ToUpper(u[:1]) + u[1:]})
	}
	// Hydra's database is new at every start: so is Vault's client there.
	c := idp.Client{ID: "vault", Secret: randomHex(20), RedirectURIs: []string{"http://127.0.0.1/oidc/callback", "http://127.0.0.1/console/callback"}}
	if err := idp.RegisterClient(ctx, h.AdminURL, c); err != nil {
		return fmt.Errorf("devstack: %w", err)
	}
	// The web console signs in from the gateway's origin (docs/CONSOLE.md).
	s.say("mattersync-admin vault init --oidc-discovery-url %s --mfa --console-url %s", h.Issuer, s.GatewayURL())
	if _, err := s.adminEnv(ctx, []string{"MATTERSYNC_OIDC_CLIENT_SECRET=" + c.Secret}, "",
		"vault", "init", "--userpass", "--issuer", s.VaultAddr(), "--oidc-discovery-url", h.Issuer, "--oidc-client-id", c.ID,
		"--mfa", "--mfa-mount", "oidc", "--console-url", s.GatewayURL()); err != nil {
		return err
	}
	for _, u := range s.opts.Users {
		if _, err := s.admin(ctx, "", "user", "sso", u, ssoLogin(u)); err != nil {
			return err
		}
		su := s.st.SSO[u]
		if su.TOTPSecret == "" {
			out, err := s.admin(ctx, "", "user", "mfa", "enroll", u, "--no-qr")
			if err != nil {
				return err
			}
			key, err := otp.NewKeyFromURL(strings.TrimSpace(strings.Split(out, "\n")[0]))
			if err != nil {
				return fmt.Errorf("devstack: enrollment of %s: %w", u, err)
			}
			su.TOTPSecret = key.Secret()
			s.st.SSO[u] = su
		}
	}
	return s.saveState()
}

// stopSSO stops Hydra (and drops its database).
func (s *Stack) stopSSO() {
	if s.hydra != nil {
		s.hydra.Stop()
		s.hydra = nil
	}
}

// TOTP returns the current code of user's authenticator app in the stack
// kept in dir (`devstack --totp alice`).
func TOTP(dir, user string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return "", err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return "", err
	}
	su, ok := st.SSO[user]
	if !ok || su.TOTPSecret == "" {
		return "", errors.New("devstack: " + user + " has no authenticator app in " + dir + " (run make run SSO=1)")
	}
	return totp.GenerateCode(su.TOTPSecret, time.Now())
}

// ssoGuide is the part of the guide that says how to sign in.
func (s *Stack) ssoGuide() string {
	if !s.opts.SSO || len(s.opts.Users) == 0 {
		return ""
	}
	u := s.opts.Users[0]
	a := s.Agents[u]
	var b strings.Builder
	issuer := "ORY Hydra"
	if s.hydra != nil {
		issuer += " at " + s.hydra.Issuer
	}
	fmt.Fprintf(&b, "  Sign-in (SSO=1): the agents wait for their users to sign in through the identity provider\n")
	fmt.Fprintf(&b, "  (%s). As %s:\n", issuer, u)
	fmt.Fprintf(&b, "    bin/mattersync --config %s login --token-file\n", a.Config)
	fmt.Fprintf(&b, "  A browser opens at the sign-in page (or open the URL it prints): user %s, password %s.\n", u, s.st.SSO[u].IdPPassword)
	fmt.Fprintf(&b, "  Then Vault asks for the code of %s's authenticator app: in another terminal,\n", u)
	fmt.Fprintf(&b, "    bin/devstack --dir %s --totp %s\n", s.opts.Dir, u)
	fmt.Fprintf(&b, "  The agent starts syncing by itself, and versions and restore use the same sign-in.\n")
	fmt.Fprintf(&b, "  The demo admin %s still logs in with userpass (no MFA on it here).\n\n", s.st.Admin)
	return b.String()
}
