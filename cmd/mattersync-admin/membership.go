package main

// Membership history: sync (on a schedule) and history.

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/admin"
)

func membershipCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "membership", Short: "the membership history the gateway keeps: sync from Vault, show"}
	cmd.AddCommand(membershipSyncCmd(a), membershipHistoryCmd(a))
	return cmd
}

func membershipSyncCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "sync [matter...]",
		Short: "record each matter's membership as Vault has it; differences are changes made outside mattersync-admin",
		Long: `Reads the members, read-only members and screened users of each matter
(every live matter if none is named) from Vault and reports them to the
gateway, which records every difference from its history as "changed in
Vault outside mattersync-admin" (the first time, as the matter's baseline:
history starts then). Run it on a schedule (a systemd timer or cron, every
10 minutes, see docs/EVIDENCE.md) with a Vault login that may read the
matter groups. Exits 8 if some matters could not be recorded.`,
		Args: args(cobra.ArbitraryArgs),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			if _, err := a.openGateway(cmd.Context()); err != nil {
				return err
			}
			res, err := s.SyncMembership(cmd.Context(), args)
			changed := 0
			for _, r := range res {
				for _, c := range r.Changes {
					if c.Entity != "" {
						changed++
					}
				}
			}
			a.printf("%d matters synced, %d changes recorded\n", len(res), changed)
			return err
		}),
	}
}

func membershipHistoryCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "history <matter>",
		Short: "every recorded change of a matter's membership: who, role, when, by whom, why, how it was seen",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withGatewayVault(a, nil, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			hist, err := s.MembershipHistory(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				for _, c := range hist {
					if err := enc.Encode(c); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tCHANGE\tUSER\tROLE\tSOURCE\tBY\tREASON")
			for _, c := range hist {
				change, user := "removed", c.Name
				switch {
				case c.Entity == "":
					change, user = "history begins", "-"
				case c.Added:
					change = "added"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Time.UTC().Format(time.RFC3339), change, user, firstNonEmpty(c.Role, "-"), c.Source, c.By, c.Reason)
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "JSON lines")
	return cmd
}
