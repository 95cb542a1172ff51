package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/mattersync/mattersync/agent"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

func newCheckConfigCmd(opts *options) *cobra.Command {
	return &cobra.Command{
		Use:   "check-config",
		Short: "Load and validate the configuration file, then exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := agent.LoadConfig(opts.configPath); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", opts.configPath)
			return nil
		},
	}
}

// newConfigCmd is used by installers (MSI custom action, macOS postinstall)
// to write a config from their properties.
func newConfigCmd(opts *options) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Create the configuration file"}
	var (
		gatewayURL, vaultAddr, root, auth, username, device, syncMatters string
		force                                                            bool
	)
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Write a configuration file (the --config path) from flags; refuses to overwrite without --force",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Only what the installer knows goes in the file: per-user and
			// per-host settings (data dir, device name) keep their defaults,
			// computed where the agent runs.
			var f initFile
			f.Gateway.URL, f.Vault.Address, f.Vault.Auth = gatewayURL, vaultAddr, auth
			f.Vault.Username, f.Root, f.DeviceName = username, root, device
			sel, err := parseSyncMatters(syncMatters)
			if err != nil {
				return fmt.Errorf("config init: %w", err)
			}
			f.SyncMatters = sel
			// A development stack on this machine speaks http; the file
			// then says so itself. http to any other host stays an error.
			f.InsecureHTTP = loopbackHTTP(gatewayURL) || loopbackHTTP(vaultAddr)
			b, err := yaml.Marshal(f)
			if err != nil {
				return err
			}
			if _, err := agent.ParseConfig(b); err != nil {
				return fmt.Errorf("config init: %w", err)
			}
			if _, err := os.Stat(opts.configPath); err == nil && !force {
				return fmt.Errorf("config init: %s exists; pass --force to replace it", opts.configPath)
			} else if err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("config init: %w", err)
			}
			if err := os.MkdirAll(filepath.Dir(opts.configPath), 0o755); err != nil {
				return fmt.Errorf("config init: %w", err)
			}
			header := "# mattersync agent configuration, written by `mattersync config init`.\n# See configs/agent.yaml in the documentation for every setting.\n"
			if err := agent.WriteFileAtomic(opts.configPath, append([]byte(header), b...), 0o644); err != nil {
				return fmt.Errorf("config init: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", opts.configPath)
			return nil
		},
	}
	f := initCmd.Flags()
	f.StringVar(&gatewayURL, "gateway-url", "", "gateway URL (required)")
	f.StringVar(&vaultAddr, "vault-addr", "", "Vault address (required)")
	f.StringVar(&root, "root", "", "matters folder (default ~/Matters)")
	f.StringVar(&auth, "auth", "oidc", "Vault login method: oidc (the identity provider, docs/SSO.md), userpass (also LDAP) or token")
	f.StringVar(&username, "username", "", "Vault user name (userpass)")
	f.StringVar(&device, "device", "", "device name (default: host name)")
	f.StringVar(&syncMatters, "sync-matters", "", "which of the user's matters a laptop syncs by default: all, none, or matter IDs separated by commas (default all)")
	f.BoolVar(&force, "force", false, "replace an existing file")
	cmd.AddCommand(initCmd)
	return cmd
}

// initFile is the part of the agent config that `config init` writes.
type initFile struct {
	Gateway struct {
		URL string `yaml:"url"`
	} `yaml:"gateway"`
	Vault struct {
		Address  string `yaml:"address"`
		Auth     string `yaml:"auth"`
		Username string `yaml:"username,omitempty"`
	} `yaml:"vault"`
	Root         string                 `yaml:"root,omitempty"`
	DeviceName   string                 `yaml:"device_name,omitempty"`
	SyncMatters  *agent.MatterSelection `yaml:"sync_matters,omitempty"`
	InsecureHTTP bool                   `yaml:"insecure_http,omitempty"`
}

// parseSyncMatters reads --sync-matters: "" (not set), all, none, or
// matter IDs separated by commas or spaces (the installers' MSI property
// and MDM key).
func parseSyncMatters(v string) (*agent.MatterSelection, error) {
	v = strings.TrimSpace(v)
	switch v {
	case "":
		return nil, nil
	case "all":
		return &agent.MatterSelection{}, nil
	case "none":
		return &agent.MatterSelection{None: true}, nil
	}
	ids := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == ';' })
	if len(ids) == 0 {
		return nil, fmt.Errorf("--sync-matters %q: all, none or matter IDs separated by commas", v)
	}
	return &agent.MatterSelection{List: ids}, nil
}

// loopbackHTTP reports whether u is an http:// URL to this machine.
func loopbackHTTP(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "http" {
		return false
	}
	ip := net.ParseIP(p.Hostname())
	return p.Hostname() == "localhost" || (ip != nil && ip.IsLoopback())
}
