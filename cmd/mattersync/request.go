package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/agent"
)

func newRequestCmd(opts *options) *cobra.Command {
	var from, expires string
	var maxFiles int64
	cmd := &cobra.Command{
		Use:   `request "<matter folder>" --from client@example.com [--expires 7d] [--max-files 20]`,
		Short: "Make a link through which a client sends files into the matter's Incoming folder, encrypted in their browser",
		Long: "Prints a link to send the client. Opening it, they prove control of the address with a code e-mailed to it,\n" +
			"then pick files; each is encrypted in their browser so that only the matter's members can open it, and\n" +
			"appears in the matter's Incoming folder on members' laptops. Only members who may edit the matter can ask.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" {
				return fmt.Errorf("--from must name the client's address")
			}
			d, err := requestLifetime(expires)
			if err != nil {
				return err
			}
			if maxFiles < 0 {
				return fmt.Errorf("--max-files must be positive")
			}
			return withAgent(cmd, opts, func(a *agent.Agent) error {
				q, err := a.Request(cmd.Context(), args[0], agent.RequestOptions{From: from, Expires: d, MaxFiles: maxFiles})
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				fmt.Fprintln(w, q.Link)
				fmt.Fprintf(cmd.ErrOrStderr(), "request %s for %s: up to %d files until %s; files land in %s\n",
					q.ID, agent.SafeText(q.Recipient), q.MaxFiles, q.Expires.Local().Format("2006-01-02 15:04"), agent.IncomingFolder)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the client's e-mail address (they prove it with a code)")
	cmd.Flags().StringVar(&expires, "expires", "", "how long the link works: 7d, 36h, 90m (default: the gateway's, 7 days)")
	cmd.Flags().Int64Var(&maxFiles, "max-files", 0, "how many files the link takes (default: the gateway's, 20)")
	return cmd
}

// requestLifetime reads 7d, 36h or 90m ("" is 0: the gateway's default).
func requestLifetime(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 365 {
			return 0, fmt.Errorf("--expires %q: want e.g. 7d, 36h or 90m", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Minute {
		return 0, fmt.Errorf("--expires %q: want e.g. 7d, 36h or 90m", s)
	}
	return d, nil
}
