package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/admin"
	"github.com/mattersync/mattersync/kms"
)

// addVaultCommands registers the Vault-facing commands: vault, matter, user.
func addVaultCommands(root *cobra.Command, a *app) {
	vault := &cobra.Command{Use: "vault", Short: "bootstrap and inspect mattersync's Vault set-up"}
	vault.AddCommand(vaultInitCmd(a), vaultStatusCmd(a), vaultTokenConfigCmd(a), vaultIdentityTokenCmd(a))
	root.AddCommand(vault, matterCmd(a), userCmd(a))
}

func vaultInitCmd(a *app) *cobra.Command {
	var opt kms.InitOptions
	var sso initSSOFlags
	cmd := &cobra.Command{
		Use:   "init",
		Short: "bootstrap Vault for mattersync (idempotent; needs a root or bootstrap token)",
		Long: `Creates what mattersync needs in Vault, or checks it is in place: the transit and
KV v2 mounts, the identity token key and role, the agent and admin policies
(from configs/vault, embedded), the group mattersync-admins, and with
--userpass a userpass auth mount. Running it again changes nothing.

With --oidc-discovery-url, --oidc-client-id and the client secret (from
--oidc-client-secret-file or $MATTERSYNC_OIDC_CLIENT_SECRET) it also sets up
sign-in through the firm's identity provider (Vault's OIDC auth method); with
--mfa, Vault asks everyone who logs in for a code from their authenticator
app (TOTP). See docs/SSO.md.

With --console-url (the gateway's URL as IT's browsers reach it) Vault's
CORS allows the web console's page to sign in there, and the OIDC role
allows its callback <url>/console/callback (register it at the identity
provider too). See docs/CONSOLE.md.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := sso.apply(a, &opt); err != nil {
				return err
			}
			return withSession(a, func(cmd *cobra.Command, s *admin.Session, _ []string) error {
				tc, err := s.InitVault(cmd.Context(), opt)
				if err != nil {
					return err
				}
				printTokenConfig(a, tc)
				var console []string
				for _, c := range opt.Console {
					if o, err := kms.ConsoleOrigin(c); err == nil && !slices.Contains(console, o+kms.ConsoleCallbackPath) {
						console = append(console, o+kms.ConsoleCallbackPath)
					}
				}
				if opt.OIDC != nil {
					a.printf("sign-in: register these redirect URIs at the identity provider: %s\n", strings.Join(append(append([]string{kms.LoopbackRedirectURI}, opt.OIDC.RedirectURIs...), console...), " "))
				} else if len(console) > 0 {
					a.printf("web console: register this redirect URI at the identity provider: %s\n", strings.Join(console, " "))
				}
				return nil
			})(cmd, args)
		},
	}
	sso.register(cmd)
	cmd.Flags().BoolVar(&opt.Userpass, "userpass", false, "enable the userpass auth mount (dev/test, small firms without OIDC/LDAP)")
	cmd.Flags().StringVar(&opt.Issuer, "issuer", "", "identity token issuer base URL, written to Vault's global identity/oidc/config (default: Vault's api_addr)")
	cmd.Flags().DurationVar(&opt.TokenTTL, "token-ttl", kms.DefaultTokenTTL, "identity token lifetime")
	cmd.Flags().StringSliceVar(&opt.Console, "console-url", nil, "the gateway's URL as IT's browsers reach it (e.g. https://mattersync.firm.example:8443): Vault's CORS and the OIDC role let the web console sign in there; repeatable")
	cmd.Flags().BoolVar(&opt.DryRun, "dry-run", false, "report what would change, change nothing")
	return cmd
}

func vaultStatusCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "check the Vault set-up without changing it (vault init --dry-run)",
		Args:  args(cobra.NoArgs),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, _ []string) error {
			tc, err := s.VaultStatus(cmd.Context())
			if tc != (kms.TokenConfig{}) {
				printTokenConfig(a, tc)
			}
			return err
		}),
	}
}

func printTokenConfig(a *app, tc kms.TokenConfig) {
	a.printf("identity tokens: issuer %s\n                 audience %s\n                 jwks %s\n", tc.Issuer, tc.Audience, tc.JWKSURL)
}

func vaultTokenConfigCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "token-config",
		Short: "print the issuer, audience and JWKS URL the gateway verifies identity tokens with (no token needed)",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			tc, err := kms.FetchTokenConfig(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			a.printf("issuer: %s\naudience: %s\njwks_url: %s\n", tc.Issuer, tc.Audience, tc.JWKSURL)
			return nil
		},
	}
}

func vaultIdentityTokenCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "identity-token",
		Short: "print an identity token for your own Vault entity (a bearer credential for the gateway admin API, valid minutes)",
		Args:  args(cobra.NoArgs),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, _ []string) error {
			tok, err := s.Vault.IdentityToken(cmd.Context())
			if err != nil {
				return err
			}
			// Printed because it was asked for; the expiry goes to stderr so
			// stdout is the token alone, for $(...).
			a.printf("%s\n", tok.Raw)
			fmt.Fprintf(a.stderr, "%v\n", tok)
			return nil
		}),
	}
}
