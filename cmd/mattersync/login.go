package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/zalando/go-keyring"
	"golang.org/x/term"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/internal/browser"
	"github.com/mattersync/mattersync/kms"
)

// keychain is the OS credential store (agent.Secrets).
type keychain struct{}

const keychainService = "mattersync"

func (keychain) Get(key string) (string, error) { return keyring.Get(keychainService, key) }

func newLoginCmd(opts *options) *cobra.Command {
	var toFile bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to Vault and keep a renewable login in the OS credential store for the agent",
		Long: "login signs you in through your firm's identity provider in the browser (oidc), or asks for your\n" +
			"Vault password (userpass, LDAP) or token (token), then for the code of your authenticator app if\n" +
			"Vault asks for one; it checks the login against Vault and\n" +
			"shows your matters. For a password it keeps a renewable Vault token, never the password, in the OS\n" +
			"credential store (Windows Credential Manager, macOS Keychain, Secret Service on Linux); the agent\n" +
			"renews it while it runs, and asks you to log in again when Vault's maximum lifetime is reached.\n" +
			"A token given with vault.auth token is kept as it is. Nothing is written to a file, unless\n" +
			"--token-file: for a machine without a credential store (headless Linux, an SSH session), the\n" +
			"login goes to vault-token in the data dir, readable only by you.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := agent.LoadConfig(opts.configPath)
			if err != nil {
				return err
			}
			what := map[string]string{"userpass": "Vault password for " + cfg.Vault.Username, "token": "Vault token", "oidc": ""}
			if _, ok := what[cfg.Vault.Auth]; !ok {
				_, err := cfg.Authenticator(nil) // says why this method has no login here
				return err
			}
			key := loginKey(cfg)
			// Before the password prompt or the sign-in: a store that
			// cannot keep the login would waste it.
			if !toFile {
				if err := credentialStoreProblem(cfg, key); err != nil {
					return err
				}
			}
			in, errOut := lineInput(cmd.InOrStdin()), cmd.ErrOrStderr()
			// Vault may ask for a second factor (login MFA) after the
			// password or the sign-in.
			passcode := func(_ context.Context, m kms.MFAMethod) (string, error) {
				return readSecret(in, errOut, "code from your authenticator app ("+m.Name+")")
			}
			ctx := cmd.Context()
			kcfg := vaultConfig(cfg)
			var token, life string
			switch cfg.Vault.Auth {
			case "token":
				if token, err = readSecret(in, errOut, what["token"]); err != nil {
					return err
				}
			default:
				var login kms.Authenticator = kms.OIDCAuth{Mount: cfg.LoginMount(), Listen: cfg.Vault.OIDCCallback,
					Browse: func(url string) error { return showSignIn(errOut, url) }}
				if cfg.Vault.Auth == "userpass" {
					pw, err := readSecret(in, errOut, what["userpass"])
					if err != nil {
						return err
					}
					login = kms.UserpassAuth{Mount: cfg.LoginMount(), Username: cfg.Vault.Username, Password: pw}
				}
				tok, err := kms.IssueToken(ctx, kcfg, kms.MFAAuth{Auth: login, Passcode: passcode})
				if err != nil {
					return fmt.Errorf("login refused: %w", err)
				}
				token = tok.Token
				kept := "not your password"
				if cfg.Vault.Auth == "oidc" {
					kept = "not your identity provider's password"
				}
				life = fmt.Sprintf(" The agent keeps a Vault token (%s), valid for %v and renewed while the agent runs,\nup to the maximum your firm set; then it asks you to run `mattersync login` again.", kept, tok.TTL)
			}
			// A token login: the keyring neither owns nor revokes it.
			kr, err := kms.Login(ctx, kcfg, kms.TokenAuth{Token: token})
			if err != nil {
				return fmt.Errorf("login refused: %w", err)
			}
			defer kr.Close()
			ms, err := kr.Matters(ctx)
			if err != nil {
				return err
			}
			where := "the OS credential store"
			if toFile {
				if err := writeTokenFile(cfg.DataDir, key, token); err != nil {
					return fmt.Errorf("logged in, but the login could not be written: %w", err)
				}
				where = tokenFilePath(cfg.DataDir) + " (readable only by you)"
			} else {
				if err := keyring.Set(keychainService, key, token); err != nil {
					return fmt.Errorf("logged in, but the OS credential store refused the login: %w", err)
				}
				if cfg.Vault.Auth == "userpass" || cfg.Vault.Auth == "oidc" {
					// A password an older version kept there goes now.
					if err := keyring.Delete(keychainService, cfg.SecretKey()); err != nil && !errors.Is(err, keyring.ErrNotFound) {
						return fmt.Errorf("logged in, but the password an older mattersync stored could not be removed from the OS credential store: %w", err)
					}
				}
			}
			out := cmd.OutOrStdout()
			who := cfg.Vault.Username
			if it, err := kr.IdentityToken(ctx); err == nil && it.Username != "" {
				who = it.Username
			}
			fmt.Fprintf(out, "logged in to %s as %s; the login is in %s and the agent and the mattersync commands use it.%s\n", cfg.Vault.Address, who, where, life)
			for _, m := range ms {
				fmt.Fprintf(out, "  %s  %-2s  %s\n", m.ID, m.Role, agent.SafeText(m.Name))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&toFile, "token-file", false, "keep the login in vault-token in the data dir (mode 0600) instead of the OS credential store")
	return cmd
}

func newLogoutCmd(opts *options) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Revoke the agent's Vault login and remove it from the OS credential store and the token file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := agent.LoadConfig(opts.configPath)
			if err != nil {
				return err
			}
			ctx, errOut := cmd.Context(), cmd.ErrOrStderr()
			// The token of a password login or a sign-in is ours to revoke.
			userpass := cfg.Vault.Auth == "userpass" || cfg.Vault.Auth == "oidc"
			key := loginKey(cfg)
			revoke := func(tok string) {
				// A copy taken from the store stops working too. A token the
				// user gave (vault.auth token) is theirs: not revoked.
				if !userpass || tok == "" {
					return
				}
				if err := kms.RevokeToken(ctx, vaultConfig(cfg), tok); err != nil {
					fmt.Fprintf(errOut, "warning: the token could not be revoked in Vault (it expires by itself): %v\n", err)
				}
			}
			hadFile := false
			if tf, err := readTokenFile(cfg.DataDir); !errors.Is(err, fs.ErrNotExist) {
				hadFile = true
				if err == nil && tf.Key == key {
					revoke(tf.Token)
				}
				if err := os.Remove(tokenFilePath(cfg.DataDir)); err != nil {
					return err
				}
			}
			if err := credentialStoreProblem(cfg, key); err != nil {
				if hadFile {
					fmt.Fprintln(cmd.OutOrStdout(), "logged out: the token file is removed; the agent stops at its next Vault login")
					return nil
				}
				return err
			}
			if userpass {
				if tok, err := keyring.Get(keychainService, key); err == nil {
					revoke(tok)
				}
				if err := keyring.Delete(keychainService, key); err != nil && !errors.Is(err, keyring.ErrNotFound) {
					return err
				}
			}
			if err := keyring.Delete(keychainService, cfg.SecretKey()); err != nil && !errors.Is(err, keyring.ErrNotFound) {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "logged out: the agent stops at its next Vault login")
			return nil
		},
	}
}

// loginKey names what `mattersync login` keeps: the renewable token of a
// password login, or the token given with vault.auth token.
func loginKey(cfg agent.Config) string {
	if cfg.Vault.Auth == "userpass" || cfg.Vault.Auth == "oidc" {
		return cfg.TokenKey()
	}
	return cfg.SecretKey()
}

// vaultConfig is the kms configuration the agent's config describes.
func vaultConfig(cfg agent.Config) kms.Config {
	kcfg := kms.DefaultConfig()
	kcfg.Address, kcfg.CACert, kcfg.Layout = cfg.Vault.Address, cfg.Vault.CAFile, cfg.Vault.Layout
	return kcfg
}

// migrateStoredPassword replaces a Vault password an older `mattersync
// login` kept in the credential store with a renewable token. Best effort:
// offline, the password is used once more and replaced at the next start.
func migrateStoredPassword(ctx context.Context, cfg agent.Config, log *slog.Logger) {
	if cfg.Vault.Auth != "userpass" {
		return
	}
	pw, err := keyring.Get(keychainService, cfg.SecretKey())
	if err != nil || pw == "" {
		return
	}
	if tok, err := keyring.Get(keychainService, cfg.TokenKey()); err != nil || tok == "" {
		t, err := kms.IssueToken(ctx, vaultConfig(cfg), kms.UserpassAuth{Mount: cfg.LoginMount(), Username: cfg.Vault.Username, Password: pw})
		if err != nil {
			log.Warn("the OS credential store still holds your Vault password (from an older mattersync); it is replaced by a token once Vault accepts it", "err", err)
			return
		}
		if err := keyring.Set(keychainService, cfg.TokenKey(), t.Token); err != nil {
			log.Warn("cannot store the Vault token", "err", err)
			return
		}
	}
	if err := keyring.Delete(keychainService, cfg.SecretKey()); err != nil {
		log.Warn("cannot remove the stored Vault password", "err", err)
		return
	}
	log.Info("the Vault password in the OS credential store was replaced by a renewable token")
}

// readSecret reads a secret without echo from a terminal, or one line from
// a pipe (scripts, tests).
func readSecret(in io.Reader, prompt io.Writer, what string) (string, error) {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(prompt, "%s: ", what)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("no %s on standard input: %w", what, err)
	}
	return line, nil
}

// lineInput returns in ready for several prompts in a row (password, then
// code): a terminal as it is, anything else behind one buffered reader,
// so the first read does not swallow the following lines.
func lineInput(in io.Reader) io.Reader {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return in
	}
	return bufio.NewReader(in)
}

// showSignIn sends the person to the identity provider: the system
// browser, and the URL on stderr for when none opens (an SSH session).
func showSignIn(w io.Writer, url string) error {
	fmt.Fprintf(w, "Sign in with your firm's account in the browser. If no browser opens, open this URL:\n\n    %s\n\n", url)
	if os.Getenv("MATTERSYNC_NO_BROWSER") == "" {
		if err := browser.Open(url); err != nil {
			fmt.Fprintf(w, "(no browser started: %v)\n", err)
		}
	}
	return nil
}
