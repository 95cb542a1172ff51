// Command mattersync is the desktop agent: it watches the matter folders,
// encrypts every change and syncs it through the gateway.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

// memoryLimit is the agent's soft memory limit (runtime/debug): the
// collector runs more often as the heap nears it, instead of letting it
// grow to twice the live data between collections; a first sync's 8 MiB
// chunk buffers came to 240 MiB of RSS that way (issue 22). The target is
// 150 MiB of RSS, which also holds the binary. GOMEMLIMIT, when set, wins.
const memoryLimit = 120 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "mattersync:", err)
		os.Exit(1)
	}
}

// options are the flags every command shares.
type options struct {
	configPath string
	notify     notifier // nil: the desktop's
}

func newRootCmd() *cobra.Command {
	opts := &options{}
	root := &cobra.Command{
		Use:           "mattersync",
		Short:         "mattersync agent: end-to-end encrypted sync of legal matter folders",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&opts.configPath, "config", defaultConfigPath(), "agent configuration file (env MATTERSYNC_CONFIG)")
	root.AddCommand(newConfigCmd(opts), newCheckConfigCmd(opts), newRunCmd(opts), newSyncCmd(opts),
		newStatusCmd(opts), newConflictsCmd(opts), newVersionsCmd(opts), newRestoreCmd(opts), newShareCmd(opts), newServiceCmd(opts),
		newLoginCmd(opts), newLogoutCmd(opts), newMattersCmd(opts), newRequestCmd(opts))
	return root
}

// defaultConfigPath is $MATTERSYNC_CONFIG, else the user's config folder
// (Windows %AppData%, macOS ~/Library/Application Support, Linux
// ~/.config) + mattersync/agent.yaml.
func defaultConfigPath() string {
	if p := os.Getenv("MATTERSYNC_CONFIG"); p != "" {
		return p
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "agent.yaml"
	}
	return filepath.Join(dir, "mattersync", "agent.yaml")
}
