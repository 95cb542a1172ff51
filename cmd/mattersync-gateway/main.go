// Command mattersync-gateway is the only door to the storage: it
// authenticates every request, enforces matter permissions, stores
// ciphertext in S3 and writes the audit log.
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
		fmt.Fprintln(os.Stderr, "mattersync-gateway:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	return &cobra.Command{
		Use:           "mattersync-gateway",
		Short:         "mattersync gateway: authenticated, audited access to encrypted matter storage",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
}
