package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mattersync/mattersync/admin"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/client"
	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/kms"
)

// Exit codes, documented in docs/VAULT.md. Scripts branch on them.
const (
	exitOK          = 0
	exitFailure     = 1 // anything not listed below
	exitUsage       = 2 // bad arguments, flags or input (e.g. an invalid matter ID)
	exitUnreachable = 3 // Vault (or the gateway) did not answer
	exitSealed      = 4 // Vault is sealed
	exitDenied      = 5 // Vault refused: token lacks permission, invalid or revoked
	exitNotFound    = 6 // unknown matter, user or mount
	exitExists      = 7 // the matter or user already exists
	exitIncomplete  = 8 // a multi-step command did not do every step (see its output)
	exitRefused     = 9 // refused by policy: legal hold, lowering a matter's epoch at the gateway
)

// app is what every command shares: standard streams, environment, the
// global flags, and the wiring of the admin package to Vault and the
// gateway.
type app struct {
	stdin *bufio.Reader
	// readNoEcho reads a line from stdin without echo when stdin is a
	// terminal; nil otherwise (pipes, files, tests).
	readNoEcho func() ([]byte, error)
	stdout     io.Writer
	stderr     io.Writer
	getenv     func(string) string

	vaultAddr string
	caCert    string
	login     string // userpass user to log in as; password from stdin
	// loginMethod is --login-method: "oidc", "userpass", "token" or ""
	// (userpass with --login, else token).
	loginMethod  string
	oidcCallback string // --oidc-callback
	// ssoToken is the token of this command's OIDC sign-in, once done;
	// atExit revokes it (sso.go).
	ssoToken string
	atExit   []func()
	// browse shows the sign-in page; nil: the system browser and the URL
	// on stderr (tests drive a scripted browser).
	browse        func(url string) error
	gatewayURL    string
	gatewayCACert string
	verbose       bool
	layout        kms.Layout
	// reason is the --reason of a membership change (membership history).
	reason string

	// vault is the command's Vault session once connected; the gateway
	// client gets the admin's identity tokens from it.
	vault *kms.Admin
	// gw is the gateway's admin API once opened.
	gw admin.Gateway
	// newGateway opens the gateway's admin API at a URL; nil means the
	// real client (tests set their own).
	newGateway func(ctx context.Context, url string) (admin.Gateway, error)
}

func newApp(stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) *app {
	return &app{stdin: bufio.NewReader(stdin), readNoEcho: noEchoReader(stdin), stdout: stdout, stderr: stderr, getenv: getenv, layout: kms.DefaultLayout()}
}

// noEchoReader returns a function reading one line from stdin without
// echo if stdin is a terminal, else nil: then secrets are read as plain
// lines (scripts pipe them in).
func noEchoReader(stdin io.Reader) func() ([]byte, error) {
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func() ([]byte, error) { return term.ReadPassword(int(f.Fd())) }
}

// globalFlags registers the flags every command understands.
func (a *app) globalFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&a.vaultAddr, "vault-addr", "", "Vault address (default $VAULT_ADDR)")
	f.StringVar(&a.caCert, "vault-cacert", "", "PEM file of CAs for Vault's TLS (default $VAULT_CACERT)")
	f.StringVar(&a.login, "login", "", "log in to Vault as this userpass user, password prompted for without echo on a terminal, else read from the first line of stdin (default: $VAULT_TOKEN, then ~/.vault-token)")
	f.StringVar(&a.gatewayURL, "gateway", "", "gateway admin URL (default $MATTERSYNC_GATEWAY_URL)")
	f.StringVar(&a.gatewayCACert, "gateway-cacert", "", "PEM file of CAs for the gateway's TLS (default $MATTERSYNC_GATEWAY_CACERT)")
	f.BoolVar(&a.verbose, "verbose", false, "log Vault operations to stderr (no short form: -v is --version, as for mattersync and mattersync-gateway)")
	f.StringVar(&a.layout.Transit, "transit-mount", a.layout.Transit, "Vault transit mount")
	f.StringVar(&a.layout.KV, "kv-mount", a.layout.KV, "Vault KV v2 mount")
	f.StringVar(&a.layout.Userpass, "userpass-mount", a.layout.Userpass, "Vault userpass auth mount")
	f.StringVar(&a.layout.Name, "vault-name", a.layout.Name, "name of the OIDC key and role and prefix of mattersync's Vault policies")
	f.StringVar(&a.layout.Audience, "audience", a.layout.Audience, "identity token audience (OIDC role client_id)")
	a.ssoFlags(root)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usage(fmt.Errorf("%w\nusage: %s", err, cmd.UseLine()))
	})
}

// config returns the kms configuration from flags and environment.
func (a *app) config() (kms.Config, error) {
	cfg := kms.DefaultConfig()
	cfg.Address = firstNonEmpty(a.vaultAddr, a.getenv("VAULT_ADDR"))
	if cfg.Address == "" {
		return cfg, usage(errors.New("no Vault address: set VAULT_ADDR or --vault-addr"))
	}
	cfg.CACert = firstNonEmpty(a.caCert, a.getenv("VAULT_CACERT"))
	cfg.Layout = a.layout
	level := slog.LevelWarn
	if a.verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	return cfg, cfg.Validate()
}

// connect authenticates to Vault: --login (password from stdin), else
// VAULT_TOKEN, else the token `vault login` left in ~/.vault-token.
func (a *app) connect(ctx context.Context) (*kms.Admin, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	var auth kms.Authenticator
	switch m := a.loginMethod; {
	case m != "" && m != "oidc" && m != "userpass" && m != "token":
		return nil, usage(fmt.Errorf("--login-method %q: want oidc, userpass or token", m))
	case m == "userpass" && a.login == "":
		return nil, usage(errors.New("--login-method userpass needs --login <user>"))
	case a.ssoToken != "":
		// One command may connect twice (Vault, then the gateway's
		// identity token): the person signs in once.
		auth = kms.TokenAuth{Token: a.ssoToken}
	case m == "oidc":
		if auth, err = a.interactive(ctx, cfg, kms.OIDCAuth{Mount: cfg.Layout.OIDCMount(), Listen: a.oidcCallback, Browse: a.showSignIn}); err != nil {
			return nil, err
		}
	case a.login != "" && m != "token":
		pw, err := a.readSecretLine("password for " + a.login)
		if err != nil {
			return nil, err
		}
		if auth, err = a.interactive(ctx, cfg, kms.UserpassAuth{Mount: cfg.Layout.Userpass, Username: a.login, Password: pw}); err != nil {
			return nil, err
		}
	case a.getenv("VAULT_TOKEN") != "":
		auth = kms.TokenAuth{Token: a.getenv("VAULT_TOKEN")}
	default:
		home := a.getenv("HOME")
		b, err := os.ReadFile(filepath.Join(home, ".vault-token"))
		if home == "" || err != nil || strings.TrimSpace(string(b)) == "" {
			return nil, usage(errors.New("no Vault token: set VAULT_TOKEN, run `vault login`, or use --login <user> with the password on stdin"))
		}
		auth = kms.TokenAuth{Token: strings.TrimSpace(string(b))}
	}
	return kms.Connect(ctx, cfg, auth)
}

// readSecretLine reads one line from stdin: passwords never come from
// flags, which end up in shell history and process listings. From a
// terminal it prompts on stderr and does not echo what is typed.
func (a *app) readSecretLine(what string) (string, error) {
	if a.readNoEcho != nil {
		fmt.Fprintf(a.stderr, "%s: ", what)
		b, err := a.readNoEcho()
		fmt.Fprintln(a.stderr)
		if err != nil {
			return "", usage(fmt.Errorf("reading %s from the terminal: %w", what, err))
		}
		line := strings.TrimRight(string(b), "\r\n")
		if line == "" {
			return "", usage(fmt.Errorf("%s: nothing typed", what))
		}
		return line, nil
	}
	line, err := a.stdin.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", usage(fmt.Errorf("reading %s from stdin: %w", what, err))
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usage(fmt.Errorf("%s: empty line on stdin", what))
	}
	return line, nil
}

func (a *app) gateway() string {
	return firstNonEmpty(a.gatewayURL, a.getenv("MATTERSYNC_GATEWAY_URL"))
}

// session returns the admin session of a command, on vault (nil for the
// gateway commands), with the gateway opened on first use.
func (a *app) session(vault *kms.Admin) *admin.Session {
	a.vault = vault
	return &admin.Session{Vault: vault, Gateway: a.openGateway, GatewayURL: a.gateway(), Progress: a.progress, Reason: a.reason}
}

// withSession runs f with a session connected to Vault, closed
// afterwards.
func withSession(a *app, f func(cmd *cobra.Command, s *admin.Session, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		adm, err := a.connect(cmd.Context())
		if err != nil {
			return err
		}
		defer adm.Close()
		return f(cmd, a.session(adm), args)
	}
}

// withGateway runs f with a session for the gateway commands: the gateway
// is opened first, so a missing one is a usage error before anything else.
func withGateway(a *app, f func(cmd *cobra.Command, s *admin.Session, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if _, err := a.openGateway(cmd.Context()); err != nil {
			return err
		}
		return f(cmd, a.session(nil), args)
	}
}

// withGatewayVault is withGateway for the gateway commands that name a
// matter, user or entity: when named(args) says the command does, it also
// connects to Vault, where the session checks that they exist (and whose
// login then gives the gateway its identity token).
func withGatewayVault(a *app, named func(args []string) bool, f func(cmd *cobra.Command, s *admin.Session, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if named != nil && !named(args) {
			return withGateway(a, f)(cmd, args)
		}
		if a.gateway() == "" && a.newGateway == nil {
			_, err := a.openGateway(cmd.Context()) // the usage error naming the flag
			return err
		}
		adm, err := a.connect(cmd.Context())
		if err != nil {
			return fmt.Errorf("checking what the command names in Vault: %w", err)
		}
		defer adm.Close()
		s := a.session(adm)
		if _, err := a.openGateway(cmd.Context()); err != nil {
			return err
		}
		return f(cmd, s, args)
	}
}

var _ admin.Gateway = (*client.Client)(nil)

// openGateway returns the gateway's admin API, opening it on first use:
// a client authenticated as the admin with $MATTERSYNC_GATEWAY_TOKEN (an
// identity token, e.g. from `mattersync-admin vault identity-token`) or
// else an identity token of the Vault login.
func (a *app) openGateway(ctx context.Context) (admin.Gateway, error) {
	url := a.gateway()
	switch {
	case a.gw != nil:
		return a.gw, nil
	case url == "":
		return nil, fmt.Errorf("%w (--gateway or MATTERSYNC_GATEWAY_URL)", admin.ErrNoGateway)
	case a.newGateway != nil:
		return a.newGateway(ctx, url)
	}
	hc, err := client.HTTPClient(firstNonEmpty(a.gatewayCACert, a.getenv("MATTERSYNC_GATEWAY_CACERT")))
	if err != nil {
		return nil, err
	}
	hc.Timeout = 5 * time.Minute
	var tokens client.TokenSource
	switch t := a.getenv("MATTERSYNC_GATEWAY_TOKEN"); {
	case t != "":
		tokens = client.StaticToken(t)
	case a.vault != nil:
		tokens = a.vault
	default:
		adm, err := a.connect(ctx)
		if err != nil {
			return nil, err
		}
		// The Vault session lives as long as the command; the process
		// exits right after.
		context.AfterFunc(ctx, func() { adm.Close() })
		tokens = adm
	}
	host, _ := os.Hostname()
	dev := "mattersync-admin"
	if host != "" && api.ValidDevice("admin@"+host) {
		dev = "admin@" + host
	}
	c, err := client.New(url, tokens, client.Options{HTTPClient: hc, Device: dev})
	if err != nil {
		return nil, err
	}
	a.gw = c
	return c, nil
}

func (a *app) printf(format string, args ...any) { fmt.Fprintf(a.stdout, format, args...) }

// progress prints each step of a multi-step command as it completes.
func (a *app) progress(s admin.Step) {
	switch {
	case s.Name == "":
		a.printf("%s\n", s.Detail)
	case s.Err != nil:
		a.printf("  FAILED %s: %v\n", s.Name, s.Err)
	case s.Warning:
		a.printf("  WARNING %s: %s\n", s.Name, s.Detail)
	default:
		a.printf("  ok     %s: %s\n", s.Name, s.Detail)
	}
}

// usage marks bad command lines and input: exit code 2.
func usage(err error) error { return fault.Wrap(fault.Invalid, err) }

// args wraps a cobra argument check so its failures are usage errors.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return usage(fmt.Errorf("%w\nusage: %s", err, cmd.UseLine()))
		}
		return nil
	}
}

// exitCode maps an error, from kms, the gateway client, the admin package
// or the commands, to the process exit code and a hint for IT. It is the
// one place that does: every error names its kind in the shared
// vocabulary (internal/fault).
func exitCode(err error) (int, string) {
	// cobra reports these without a type to match.
	if msg := err.Error(); strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "required flag") {
		return exitUsage, "see --help"
	}
	// The hints are about Vault: only for Vault's own failures.
	var ke *kms.Error
	vault := errors.As(err, &ke)
	hint := func(s string) string {
		if vault {
			return s
		}
		return ""
	}
	switch fault.Of(err) {
	case fault.Invalid:
		return exitUsage, ""
	case fault.Unavailable:
		return exitUnreachable, hint("is Vault running and reachable at VAULT_ADDR?")
	case fault.Sealed:
		return exitSealed, hint("Vault is sealed: unseal it (vault operator unseal) and retry")
	case fault.Unauthenticated, fault.Denied:
		return exitDenied, hint("use the token of a mattersync-admins member (vault init needs a root or bootstrap token)")
	case fault.NotFound:
		return exitNotFound, ""
	case fault.Conflict:
		return exitExists, ""
	case fault.Incomplete:
		return exitIncomplete, ""
	case fault.Refused:
		return exitRefused, ""
	}
	return exitFailure, ""
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
