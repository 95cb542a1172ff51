package main

// The deny list commands, for repairs: `user revoke` denies by itself.

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/admin"
)

func denyAddCmd(a *app) *cobra.Command {
	var name, reason string
	cmd := &cobra.Command{
		Use:   "add <entity-id> [--name N] [--reason R]",
		Short: "refuse an entity at every gateway replica (within a second); its devices are told to wipe",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withGatewayVault(a, nil, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			if err := s.Deny(cmd.Context(), args[0], name, reason); err != nil {
				return err
			}
			a.printf("entity %s denied\n", args[0])
			return nil
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "user name, for the list")
	cmd.Flags().StringVar(&reason, "reason", "", "why")
	return cmd
}

func denyRemoveCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "remove <entity-id>",
		Short: "let an entity back in (its Vault entity must be re-enabled too)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withGateway(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			if err := s.Undeny(cmd.Context(), args[0]); err != nil {
				return err
			}
			a.printf("entity %s removed from the deny list\n", args[0])
			return nil
		}),
	}
}

func denyListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "list the deny list and the reissue stamps",
		Args:  args(cobra.NoArgs),
		RunE: withGateway(a, func(cmd *cobra.Command, s *admin.Session, _ []string) error {
			list, err := s.Denials(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ENTITY\tNAME\tSINCE\tBY\tREASON")
			for _, e := range list.Entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.EntityID, e.Name, e.Time.Format(time.RFC3339), e.CreatedBy, e.Reason)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(list.Reissue) == 0 {
				return nil
			}
			a.printf("\ntokens issued before these times are refused:\n")
			fmt.Fprintln(tw, "ENTITY\tNOT BEFORE\tBY\tREASON")
			for _, r := range list.Reissue {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.EntityID, r.NotBefore.Format(time.RFC3339), r.SetBy, r.Reason)
			}
			return tw.Flush()
		}),
	}
}

func denyReissueCmd(a *app) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "reissue <entity-id> [--reason R]",
		Short: "refuse an entity's identity tokens issued until now: its devices fetch new ones, with its current groups",
		Long: `matter remove and matter screen do this themselves; use it when their
"gateway reissue" step failed or no gateway was configured, or after
changing someone's groups in Vault by hand. Until then the entity's
tokens keep the groups they were issued with until they expire
(vault.max_token_lifetime at the gateway, 15m by default).`,
		Args: args(cobra.ExactArgs(1)),
		RunE: withGatewayVault(a, nil, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			st, err := s.Reissue(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			a.printf("entity %s: identity tokens issued before %s are refused\n", st.EntityID, st.NotBefore.Format(time.RFC3339))
			return nil
		}),
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded with the stamp and in the audit log)")
	return cmd
}
