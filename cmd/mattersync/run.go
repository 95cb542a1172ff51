package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mattersync/mattersync/agent"
	"github.com/mattersync/mattersync/kms"
	"github.com/spf13/cobra"
)

// loginFor returns the Vault login cfg names: the environment variable it
// names, else what `mattersync login` kept (token file or OS credential
// store), for the agent and the one-shot commands alike (a missing one is a problem
// only the user can fix, reported at once). A password an older
// `mattersync login` kept is replaced by a token first, when Vault can be
// reached.
func loginFor(ctx context.Context, cfg agent.Config, log *slog.Logger) (kms.Authenticator, error) {
	migrateStoredPassword(ctx, cfg, log)
	auth, err := cfg.Authenticator(credentials{dataDir: cfg.DataDir})
	if err != nil && cfg.Vault.Auth != "oidc" && cfg.Vault.TokenFile == "" {
		// "run `mattersync login`" alone would fail again on a machine
		// without a credential store.
		if credentialStoreProblem(cfg, loginKey(cfg)) != nil {
			return nil, fmt.Errorf("%w; here that is `mattersync login --token-file`: this session has no OS credential store (see docs/AGENT.md, \"Logging in\")", err)
		}
	}
	return auth, err
}

// openAgent loads the config, logs in and opens the agent for a one-shot
// command: its log is the terse text of newCLILogger, not the service's
// JSON.
func openAgent(ctx context.Context, opts *options, logTo io.Writer) (*agent.Agent, error) {
	cfg, err := agent.LoadConfig(opts.configPath)
	if err != nil {
		return nil, err
	}
	cfg.AgentVersion = version // the device inventory
	log := newCLILogger(logTo)
	auth, err := loginFor(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	return agent.Open(ctx, cfg, auth, log)
}

func newLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// runAgent runs the agent until ctx ends. Logs go to stderr and, for the
// service, to agent.log in the data dir.
func runAgent(ctx context.Context, opts *options, logFile bool) error {
	cfg, err := agent.LoadConfig(opts.configPath)
	if err != nil {
		return err
	}
	cfg.AgentVersion = version // the device inventory
	var logTo io.Writer = os.Stderr
	if logFile {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return err
		}
		f, err := os.OpenFile(filepath.Join(cfg.DataDir, "agent.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		// The file first: a Windows agent started at sign-in has no usable
		// stderr, and MultiWriter stops at the first failing writer.
		logTo = io.MultiWriter(f, os.Stderr)
	}
	log := newLogger(cfg.LogLevel, logTo)
	auth, err := loginFor(ctx, cfg, log)
	if err != nil {
		return err
	}
	att := &attention{n: opts.notify, log: log}
	if att.n == nil {
		att.n = desktop{}
	}
	for {
		a, err := openWhenPossible(ctx, cfg, auth, log, att)
		if a == nil {
			return err
		}
		wctx, stopWatch := context.WithCancel(ctx)
		watched := make(chan struct{})
		go func() { defer close(watched); att.watch(wctx, a) }()
		err = a.Run(ctx)
		stopWatch()
		<-watched
		att.see(a.Status()) // a stop the last tick missed
		a.Close()
		if errors.Is(err, agent.ErrLoggedInAgain) {
			log.Info("Vault accepts the login again: syncing resumes")
			continue
		}
		// A revoked agent stays up (keys wiped, status saying why) until
		// it is stopped, so a service manager does not restart it in a
		// loop; that stop is a normal exit.
		if err != nil && !errors.Is(err, agent.ErrRevoked) {
			return err
		}
		return nil
	}
}

// openWhenPossible opens the agent, retrying with backoff until ctx ends:
// Vault or the gateway may be unreachable at boot (laptop offline), or
// the stored login expired. Meanwhile `mattersync status` says why. It
// returns a nil agent when ctx ends or on a config problem.
func openWhenPossible(ctx context.Context, cfg agent.Config, auth kms.Authenticator, log *slog.Logger, att *attention) (*agent.Agent, error) {
	var sb standby
	defer sb.stop()
	stored := storedLogin(cfg)
	for wait := time.Second; ; wait = min(2*wait, 5*time.Minute) {
		seen := stored()
		a, err := agent.Open(ctx, cfg, auth, log)
		if err == nil {
			return a, nil
		}
		if kms.KindOf(err) == kms.Invalid {
			return nil, err // a config problem: retrying cannot help
		}
		// Offline, or the login refused (token expired, password changed,
		// user revoked): retry slowly rather than exit, so a service
		// manager does not restart the agent in a loop.
		log.Warn("cannot start yet; retrying", "in", wait, "err", err)
		st := agent.Status{State: "offline", Device: cfg.DeviceName, Root: cfg.Root,
			Message: "cannot reach Vault or the gateway yet; retrying: " + err.Error()}
		if kms.KindOf(err) == kms.Denied {
			st.State, st.Message = "login needed", "Vault refused the stored login (expired, or revoked by IT): run `mattersync login`; syncing starts by itself"
		}
		sb.show(ctx, cfg, st, log)
		att.see(st)
		if !waitOrLogin(ctx, wait, func() bool { return stored() != seen }) {
			return nil, nil
		}
	}
}

// storedLogin returns a function reading what `mattersync login` keeps
// for cfg (token file or credential store), "" if nothing.
func storedLogin(cfg agent.Config) func() string {
	c, key := credentials{dataDir: cfg.DataDir}, loginKey(cfg)
	return func() string {
		v, _ := c.Get(key)
		return v
	}
}

// waitOrLogin waits for d, cut short when changed reports a new login
// (the user ran `mattersync login`: try at once rather than at the end of
// a backoff of up to five minutes). It returns false when ctx ends.
func waitOrLogin(ctx context.Context, d time.Duration, changed func() bool) bool {
	end := time.NewTimer(d)
	defer end.Stop()
	poll := time.NewTicker(2 * time.Second)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-end.C:
			return true
		case <-poll.C:
			if changed() {
				return true
			}
		}
	}
}

// standby serves a fixed status while the agent cannot start.
type standby struct {
	state  string
	cancel context.CancelFunc
	done   chan struct{}
}

// show serves st, replacing what was served if the state changed.
func (s *standby) show(ctx context.Context, cfg agent.Config, st agent.Status, log *slog.Logger) {
	if st.State == s.state {
		return
	}
	s.stop()
	s.state = st.State
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	s.cancel, s.done = cancel, done
	go func() {
		defer close(done)
		if err := agent.ServeStatus(sctx, cfg, st); err != nil {
			log.Warn("status endpoint", "err", err)
		}
	}()
}

// stop ends the status and waits until it has removed its address, so the
// agent that starts next can write its own.
func (s *standby) stop() {
	if s.cancel != nil {
		s.cancel()
		<-s.done
		s.cancel, s.state = nil, ""
	}
}

func newRunCmd(opts *options) *cobra.Command {
	var logFile bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the agent in the foreground until interrupted (the service runs this)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runAgent(ctx, opts, logFile)
		},
	}
	cmd.Flags().BoolVar(&logFile, "log-file", false, "also log to agent.log in the data dir")
	return cmd
}

func newSyncCmd(opts *options) *cobra.Command {
	var once bool
	cmd := &cobra.Command{
		Use:   "sync --once",
		Short: "Reconcile every matter both ways once; exit 0 only when everything is in sync",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !once {
				return errors.New("sync needs --once (use `mattersync run` to keep syncing)")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			a, err := openAgent(ctx, opts, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer a.Close()
			start := time.Now()
			sum, err := a.SyncOnce(ctx)
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%d matters: %d uploaded, %d downloaded, %d deleted, %d conflicts in %v\n",
				sum.Matters, sum.Uploaded, sum.Downloaded, sum.Deleted, sum.Conflicts, time.Since(start).Round(time.Millisecond))
			for _, p := range sum.Problems {
				fmt.Fprintln(out, "  not synced:", p)
			}
			if err != nil {
				return err
			}
			if len(sum.Integrity) > 0 {
				return fmt.Errorf("%d files not in sync, %d of them refused as tampered or unsafe (reported to IT)", len(sum.Problems), len(sum.Integrity))
			}
			if len(sum.Problems) > 0 {
				return fmt.Errorf("%d files not in sync", len(sum.Problems))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "one full reconciliation, then exit")
	return cmd
}
