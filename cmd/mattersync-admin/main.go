// Command mattersync-admin is IT's tool: bootstrap Vault, manage matters and
// members, revoke users, rotate keys, legal holds and audit reports.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "mattersync-admin:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	return &cobra.Command{
		Use:           "mattersync-admin",
		Short:         "mattersync administration: Vault bootstrap, matters, members, revocation, audit",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
}
