// Command mattersync-admin is IT's tool: bootstrap Vault, manage matters and
// members, revoke users, rotate keys, legal holds and audit reports.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/spf13/cobra"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, newApp(os.Stdin, os.Stdout, os.Stderr, os.Getenv), os.Args[1:])
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code (see app.go).
func run(ctx context.Context, a *app, args []string) int {
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	defer a.closeSSO()
	if err := root.ExecuteContext(ctx); err != nil {
		code, hint := exitCode(err)
		fmt.Fprintln(a.stderr, "mattersync-admin:", err)
		if hint != "" {
			fmt.Fprintln(a.stderr, "hint:", hint)
		}
		return code
	}
	return exitOK
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "mattersync-admin",
		Short:         "mattersync administration: Vault bootstrap, matters, members, revocation, audit",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	a.globalFlags(root)
	addVaultCommands(root, a)
	addGatewayCommands(root, a)
	return root
}
