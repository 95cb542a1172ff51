package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/zalando/go-keyring"
	"golang.org/x/term"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/kms"
)

// keychain is the OS credential store (agent.Secrets).
type keychain struct{}

const keychainService = "mattersync"

func (keychain) Get(key string) (string, error) { return keyring.Get(keychainService, key) }

func newLoginCmd(opts *options) *cobra.Command {
	return &cobra.Command{
		Use:   "login",
		Short: "Check your Vault login and keep it in the OS credential store for the agent",
		Long: "login asks for your Vault password (userpass) or token (token), checks it against Vault, shows your\n" +
			"matters, and stores the secret in the OS credential store (Windows Credential Manager, macOS Keychain,\n" +
			"Secret Service on Linux), where the agent finds it. Nothing is written to a file.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := agent.LoadConfig(opts.configPath)
			if err != nil {
				return err
			}
			what := map[string]string{"userpass": "Vault password for " + cfg.Vault.Username, "token": "Vault token"}[cfg.Vault.Auth]
			if what == "" {
				_, err := cfg.Authenticator(nil) // says why this method has no login here
				return err
			}
			secret, err := readSecret(cmd.InOrStdin(), cmd.ErrOrStderr(), what)
			if err != nil {
				return err
			}
			var auth kms.Authenticator = kms.TokenAuth{Token: secret}
			if cfg.Vault.Auth == "userpass" {
				auth = kms.UserpassAuth{Mount: cfg.LoginMount(), Username: cfg.Vault.Username, Password: secret}
			}
			kcfg := kms.DefaultConfig()
			kcfg.Address, kcfg.CACert, kcfg.Layout = cfg.Vault.Address, cfg.Vault.CAFile, cfg.Vault.Layout
			kr, err := kms.Login(cmd.Context(), kcfg, auth)
			if err != nil {
				return fmt.Errorf("login refused: %w", err)
			}
			defer kr.Close()
			ms, err := kr.Matters(cmd.Context())
			if err != nil {
				return err
			}
			if err := keyring.Set(keychainService, cfg.SecretKey(), secret); err != nil {
				return fmt.Errorf("logged in, but the OS credential store refused the secret: %w", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "logged in to %s as %s; the agent will use this login.\n", cfg.Vault.Address, cfg.Vault.Username)
			for _, m := range ms {
				fmt.Fprintf(out, "  %s  %-2s  %s\n", m.ID, m.Role, m.Name)
			}
			return nil
		},
	}
}

func newLogoutCmd(opts *options) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Remove your Vault login from the OS credential store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := agent.LoadConfig(opts.configPath)
			if err != nil {
				return err
			}
			if err := keyring.Delete(keychainService, cfg.SecretKey()); err != nil && !errors.Is(err, keyring.ErrNotFound) {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "logged out: the agent stops at its next Vault login")
			return nil
		},
	}
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
