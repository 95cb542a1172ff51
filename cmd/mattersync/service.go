package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/kardianos/service"
	"github.com/spf13/cobra"
)

// program adapts the agent to kardianos/service: Start must not block.
type program struct {
	opts   *options
	cancel context.CancelFunc
	done   chan error
}

func (p *program) Start(service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan error, 1)
	go func() { p.done <- runAgent(ctx, p.opts, true) }()
	return nil
}

func (p *program) Stop(service.Service) error {
	p.cancel()
	return <-p.done
}

// serviceConfig is the OS service definition: the config path is baked into
// its arguments, so the service never depends on the environment.
func serviceConfig(configPath string) (*service.Config, error) {
	abs, err := filepath.Abs(configPath)
	if err != nil {
		return nil, err
	}
	return &service.Config{
		Name:        "mattersync",
		DisplayName: "mattersync",
		Description: "Keeps legal matter folders in sync, end-to-end encrypted.",
		Arguments:   []string{"service", "run", "--config", abs},
		Option: service.KeyValue{
			// macOS: a LaunchAgent in the user's session; Linux: a systemd
			// user unit. The agent needs the user's folders and login.
			"UserService": runtime.GOOS != "windows",
			"RunAtLoad":   true,
			"KeepAlive":   true,
			"OnFailure":   "restart",
		},
	}, nil
}

func newServiceCmd(opts *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "service install|uninstall|start|stop|status",
		Short: "Manage the mattersync OS service (Windows service, macOS LaunchAgent, systemd user unit)",
	}
	control := func(action string) *cobra.Command {
		return &cobra.Command{
			Use:   action,
			Short: action + " the service",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				svc, err := newService(opts)
				if err != nil {
					return err
				}
				if err := service.Control(svc, action); err != nil {
					return fmt.Errorf("service %s: %w", action, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "service %s: done\n", action)
				return nil
			},
		}
	}
	for _, a := range []string{"install", "uninstall", "start", "stop", "restart"} {
		cmd.AddCommand(control(a))
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Show whether the service is installed and running",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, err := newService(opts)
			if err != nil {
				return err
			}
			st, err := svc.Status()
			if errors.Is(err, service.ErrNotInstalled) {
				fmt.Fprintln(cmd.OutOrStdout(), "service: not installed")
				return nil
			}
			if err != nil {
				return fmt.Errorf("service status: %w", err)
			}
			names := map[service.Status]string{service.StatusRunning: "running", service.StatusStopped: "stopped"}
			s, ok := names[st]
			if !ok {
				s = "unknown"
			}
			fmt.Fprintln(cmd.OutOrStdout(), "service:", s)
			return nil
		},
	}, &cobra.Command{
		Use:    "run",
		Short:  "Run under the OS service manager (used by the service definition)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, err := newService(opts)
			if err != nil {
				return err
			}
			return svc.Run()
		},
	})
	return cmd
}

func newService(opts *options) (service.Service, error) {
	sc, err := serviceConfig(opts.configPath)
	if err != nil {
		return nil, err
	}
	return service.New(&program{opts: opts}, sc)
}
