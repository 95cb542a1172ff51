// Command mattersync is the desktop agent: it watches the matter folders,
// encrypts every change and syncs it through the gateway.
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
		fmt.Fprintln(os.Stderr, "mattersync:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	return &cobra.Command{
		Use:           "mattersync",
		Short:         "mattersync agent: end-to-end encrypted sync of legal matter folders",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
}
