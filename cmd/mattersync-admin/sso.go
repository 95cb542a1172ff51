package main

// Sign-in through the firm's identity provider (--login-method oidc), the
// second factor Vault asks for, and vault init's OIDC and MFA flags.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/internal/browser"
	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/kms"
)

// ssoFlags are the global flags of the sign-in.
func (a *app) ssoFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&a.loginMethod, "login-method", "", "how to log in to Vault: oidc (your identity provider in the browser, then your authenticator app's code), userpass (--login), token ($VAULT_TOKEN or ~/.vault-token); default: userpass with --login, else token")
	f.StringVar(&a.layout.OIDC, "oidc-mount", kms.DefaultOIDCMount, "Vault OIDC auth mount")
	f.StringVar(&a.oidcCallback, "oidc-callback", "127.0.0.1:0", "where --login-method oidc listens for the browser coming back: 127.0.0.1, ::1 or localhost and a port (0: any)")
}

// interactive logs in once with a person's credentials (the browser
// sign-in, or the --login password), asking for the authenticator app's
// code if Vault wants one, and keeps the token for the rest of the command
// (one command may connect twice: Vault, then the gateway's identity
// token). The token is revoked at exit.
func (a *app) interactive(ctx context.Context, cfg kms.Config, login kms.Authenticator) (kms.Authenticator, error) {
	tok, err := kms.IssueToken(ctx, cfg, kms.MFAAuth{Auth: login, Passcode: a.passcode})
	if kms.KindOf(err) == kms.Denied {
		// The refusal says what to do (the code, enrolment, the account);
		// the generic hint about admin tokens would mislead: keep its text,
		// not the kms error that triggers the hint.
		return nil, fault.Errorf(fault.Denied, "login refused: %s", err.Error())
	}
	if err != nil {
		return nil, fmt.Errorf("login refused: %w", err)
	}
	a.ssoToken = tok.Token
	a.atExit = append(a.atExit, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = kms.RevokeToken(ctx, cfg, tok.Token)
	})
	return kms.TokenAuth{Token: tok.Token}, nil
}

// showSignIn sends the admin to the identity provider: the system browser,
// and the URL on stderr in case there is none (an SSH session).
func (a *app) showSignIn(url string) error {
	if a.browse != nil {
		return a.browse(url)
	}
	fmt.Fprintf(a.stderr, "Sign in with your identity provider in the browser. If no browser opens, open this URL:\n\n    %s\n\n", url)
	if a.getenv("MATTERSYNC_NO_BROWSER") == "" {
		if err := browser.Open(url); err != nil {
			fmt.Fprintf(a.stderr, "(no browser started: %v)\n", err)
		}
	}
	return nil
}

// passcode asks for the authenticator app's code: on the terminal, or the
// next line of stdin (after the --login password, for scripts).
func (a *app) passcode(_ context.Context, m kms.MFAMethod) (string, error) {
	return a.readSecretLine("code from your authenticator app (" + m.Name + ")")
}

// closeSSO runs what the command left to do at exit: revoke the sign-in's
// token.
func (a *app) closeSSO() {
	for _, f := range a.atExit {
		f()
	}
	a.atExit = nil
}

// initSSOFlags are vault init's OIDC and MFA flags.
type initSSOFlags struct {
	discoveryURL, clientID, secretFile, caFile, userClaim string
	redirects                                             []string
	bound                                                 map[string]string
	ttl, maxTTL                                           time.Duration
	mfa                                                   bool
	mfaIssuer                                             string
	mfaMounts                                             []string
}

func (s *initSSOFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&s.discoveryURL, "oidc-discovery-url", "", "the identity provider's issuer URL (Vault reads <url>/.well-known/openid-configuration); enables the OIDC auth method")
	f.StringVar(&s.clientID, "oidc-client-id", "", "client (application) ID of Vault's app registration at the identity provider")
	f.StringVar(&s.secretFile, "oidc-client-secret-file", "", "file holding its client secret (or set $MATTERSYNC_OIDC_CLIENT_SECRET); never a flag")
	f.StringVar(&s.caFile, "oidc-discovery-ca-file", "", "PEM file of CAs for the identity provider's TLS (default: system roots)")
	f.StringVar(&s.userClaim, "oidc-user-claim", kms.DefaultUserClaim, "ID-token claim naming the person: its value is the sign-in `user create --sso` and `user sso` link")
	f.StringToStringVar(&s.bound, "oidc-bound-claim", nil, "claim=value every ID token must carry to be let in, e.g. hd=firm.example (Google Workspace) or tid=<tenant ID>; repeatable")
	f.StringSliceVar(&s.redirects, "oidc-redirect-uri", nil, "redirect URI to allow besides http://127.0.0.1/oidc/callback (e.g. the web console's); repeatable")
	f.DurationVar(&s.ttl, "oidc-token-ttl", time.Hour, "lifetime of a sign-in's Vault token, renewed while the agent runs")
	f.DurationVar(&s.maxTTL, "oidc-token-max-ttl", 24*time.Hour, "how long a sign-in lasts at most: then people sign in again")
	f.BoolVar(&s.mfa, "mfa", false, "enforce TOTP login MFA (people need `user mfa enroll` before they can log in)")
	f.StringVar(&s.mfaIssuer, "mfa-issuer", "mattersync", "name the authenticator apps show for the TOTP entry")
	f.StringSliceVar(&s.mfaMounts, "mfa-mount", nil, "auth mount to enforce MFA on, e.g. oidc or ldap; repeatable (default: the OIDC and userpass mounts)")
}

// apply sets opt's OIDC and MFA options, reading the client secret.
func (s *initSSOFlags) apply(a *app, opt *kms.InitOptions) error {
	if s.discoveryURL == "" {
		if s.clientID != "" || s.secretFile != "" || s.caFile != "" || len(s.redirects) > 0 || len(s.bound) > 0 {
			return usage(errors.New("the --oidc-* flags need --oidc-discovery-url"))
		}
	} else {
		if s.clientID == "" {
			return usage(errors.New("--oidc-discovery-url needs --oidc-client-id"))
		}
		o := &kms.OIDCOptions{DiscoveryURL: s.discoveryURL, ClientID: s.clientID, UserClaim: s.userClaim,
			RedirectURIs: s.redirects, BoundClaims: s.bound, TokenTTL: s.ttl, TokenMaxTTL: s.maxTTL}
		switch {
		case s.secretFile != "":
			b, err := os.ReadFile(s.secretFile)
			if err != nil {
				return usage(fmt.Errorf("--oidc-client-secret-file: %w", err))
			}
			o.ClientSecret = strings.TrimSpace(string(b))
			if o.ClientSecret == "" {
				return usage(fmt.Errorf("--oidc-client-secret-file %s is empty", s.secretFile))
			}
		case a.getenv("MATTERSYNC_OIDC_CLIENT_SECRET") != "":
			o.ClientSecret = a.getenv("MATTERSYNC_OIDC_CLIENT_SECRET")
		case !opt.DryRun:
			return usage(errors.New("--oidc-discovery-url needs the client secret: --oidc-client-secret-file FILE or $MATTERSYNC_OIDC_CLIENT_SECRET (never a flag: it would stay in the shell history)"))
		}
		if s.caFile != "" {
			b, err := os.ReadFile(s.caFile)
			if err != nil {
				return usage(fmt.Errorf("--oidc-discovery-ca-file: %w", err))
			}
			o.DiscoveryCA = string(b)
		}
		opt.OIDC = o
	}
	if s.mfa {
		opt.MFA = &kms.MFAOptions{Issuer: s.mfaIssuer, Mounts: s.mfaMounts}
	} else if len(s.mfaMounts) > 0 {
		return usage(errors.New("--mfa-mount needs --mfa"))
	}
	return nil
}
