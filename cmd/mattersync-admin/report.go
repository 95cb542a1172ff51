package main

// Reports for a compliance officer: who could open a matter at a time
// (from the membership history).

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/admin"
)

func reportCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "report", Short: "reports for compliance: who could open a matter when"}
	cmd.AddCommand(reportWhoCouldOpenCmd(a))
	return cmd
}

func reportWhoCouldOpenCmd(a *app) *cobra.Command {
	var at string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "who-could-open <matter> --at <time>",
		Short: "who could open a matter at a time, from the membership history",
		Long: `Answers from the membership history the gateway keeps (membership
history, membership sync): every user in the matter's rw or ro group at that
time, not screened and not revoked, and everyone else in its groups then
(screened, revoked), each with the change that put them there: when, by whom,
why, and whether it was made with mattersync-admin, found in Vault by a sync,
or part of the baseline when the history began. Times are RFC 3339,
YYYY-MM-DD (UTC midnight) or an age such as 90d.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: withGatewayVault(a, nil, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			if at == "" {
				return usage(errors.New("--at is required (e.g. --at 2026-11-01T09:00:00Z)"))
			}
			when, err := parseWhen(at, time.Now())
			if err != nil {
				return err
			}
			res, err := s.WhoCouldOpen(cmd.Context(), args[0], when)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(res)
			}
			a.printf("who could open %s at %s (membership history since %s)\n", res.Matter, res.At.UTC().Format(time.RFC3339), res.HistoryStart.UTC().Format(time.RFC3339))
			tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tCOULD OPEN\tROLES\tSINCE\tSOURCE\tBY\tREASON")
			for _, h := range res.Holders {
				could := "yes"
				switch {
				case !h.Revoked.IsZero():
					could = "no (revoked " + h.Revoked.UTC().Format(time.RFC3339) + ")"
				case !h.CouldOpen:
					could = "no"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Name, could, strings.Join(h.Roles, ","), h.Since.UTC().Format(time.RFC3339), h.Source, h.By, h.Reason)
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().StringVar(&at, "at", "", "the time asked about (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
