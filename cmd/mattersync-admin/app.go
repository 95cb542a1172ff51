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

// denyLister puts an entity on the gateway's deny list (and so tells its
// devices to wipe). The gateway's admin client implements it.
type denyLister interface {
	Deny(ctx context.Context, entityID, name, reason string) error
}

// holdChecker reports whether a matter is on legal hold. The gateway's
// admin client implements it.
type holdChecker interface {
	OnHold(ctx context.Context, matter string) (bool, error)
}

// epochSetter raises a matter's epoch at the gateway, which then refuses
// uploads sealed under older epochs. It returns the gateway's epoch
// afterwards: higher than asked if the gateway already was. The gateway's
// admin client implements it.
type epochSetter interface {
	RaiseEpoch(ctx context.Context, matter string, epoch uint32) (uint32, error)
}

// reissuer makes the gateway refuse an entity's identity tokens issued
// until now, so a member removed or screened cannot use a token that still
// names the group; its devices fetch a new one. The gateway's admin client
// implements it.
type reissuer interface {
	Reissue(ctx context.Context, entityID, reason string) (time.Time, error)
}

// app is what every command shares: standard streams, environment, the
// global flags, and the hooks to the gateway's admin API.
type app struct {
	stdin  *bufio.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string

	vaultAddr string
	caCert    string
	login     string // userpass user to log in as; password from stdin
	// loginPassword is the --login password once read from stdin.
	loginPassword string
	gatewayURL    string
	verbose       bool
	layout        kms.Layout

	// newDenyLister, newHoldChecker and newEpochSetter build the gateway
	// admin client for a gateway URL. They are nil until the gateway wiring
	// sets them; then revoke and the epoch step report "gateway client not
	// available" and shred requires --no-hold-check.
	newDenyLister  func(ctx context.Context, gatewayURL string) (denyLister, error)
	newHoldChecker func(ctx context.Context, gatewayURL string) (holdChecker, error)
	newEpochSetter func(ctx context.Context, gatewayURL string) (epochSetter, error)
	newReissuer    func(ctx context.Context, gatewayURL string) (reissuer, error)
}

func newApp(stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) *app {
	return &app{stdin: bufio.NewReader(stdin), stdout: stdout, stderr: stderr, getenv: getenv, layout: kms.DefaultLayout()}
}

// globalFlags registers the flags every command understands.
func (a *app) globalFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&a.vaultAddr, "vault-addr", "", "Vault address (default $VAULT_ADDR)")
	f.StringVar(&a.caCert, "vault-cacert", "", "PEM file of CAs for Vault's TLS (default $VAULT_CACERT)")
	f.StringVar(&a.login, "login", "", "log in to Vault as this userpass user, password read from the first line of stdin (default: $VAULT_TOKEN, then ~/.vault-token)")
	f.StringVar(&a.gatewayURL, "gateway", "", "gateway admin URL (default $MATTERSYNC_GATEWAY_URL)")
	f.BoolVarP(&a.verbose, "verbose", "v", false, "log Vault operations to stderr")
	f.StringVar(&a.layout.Transit, "transit-mount", a.layout.Transit, "Vault transit mount")
	f.StringVar(&a.layout.KV, "kv-mount", a.layout.KV, "Vault KV v2 mount")
	f.StringVar(&a.layout.Userpass, "userpass-mount", a.layout.Userpass, "Vault userpass auth mount")
	f.StringVar(&a.layout.Name, "vault-name", a.layout.Name, "name of the OIDC key and role and prefix of mattersync's Vault policies")
	f.StringVar(&a.layout.Audience, "audience", a.layout.Audience, "identity token audience (OIDC role client_id)")
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
	switch {
	case a.login != "":
		// One command may connect twice (Vault, then the gateway's
		// identity token): read the password once.
		if a.loginPassword == "" {
			pw, err := a.readSecretLine("password for " + a.login)
			if err != nil {
				return nil, err
			}
			a.loginPassword = pw
		}
		auth = kms.UserpassAuth{Mount: cfg.Layout.Userpass, Username: a.login, Password: a.loginPassword}
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
// flags, which end up in shell history and process listings.
func (a *app) readSecretLine(what string) (string, error) {
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

func (a *app) printf(format string, args ...any) { fmt.Fprintf(a.stdout, format, args...) }

// progress prints each step of a multi-step command as it completes.
func (a *app) progress(s kms.Step) {
	if s.Err != nil {
		a.printf("  FAILED %s: %v\n", s.Name, s.Err)
		return
	}
	a.printf("  ok     %s: %s\n", s.Name, s.Detail)
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

// exitCode maps an error, from kms, the gateway client or the commands, to
// the process exit code and a hint for IT. It is the one place that does:
// every error names its kind in the shared vocabulary (internal/fault).
func exitCode(err error) (int, string) {
	// cobra reports these without a type to match.
	if msg := err.Error(); strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "required flag") {
		return exitUsage, "see --help"
	}
	// Hints name Vault only for Vault's own failures.
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
