package main

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/admin"
	"github.com/mattersync/mattersync/internal/fault"
)

func matterResyncCmd(a *app) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "resync <matter>|--all --reason <why>",
		Short: "after restoring the gateway's store: agents start syncing again and commit what it lacks",
		Long: `Agents remember the newest change and signed audit checkpoint they saw of each
matter; a gateway that goes back (its store restored from a backup, or tampered
with) makes them stop syncing the matter, keep every local file as it is, and
report it. After restoring the store (docs/OPERATIONS.md), run this for every
matter (or --all): each agent then starts again from the gateway as it is and
commits, as new versions and conflict-safe, whatever it holds that the restored
store lacks. Audited as admin.matter.resync with the reason.`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			if strings.TrimSpace(a.reason) == "" {
				return usage(errors.New("--reason is required (e.g. \"store restored from the backup of 02:00\")"))
			}
			var ids []string
			switch {
			case all && len(args) == 0:
				ms, err := s.ListMatters(cmd.Context())
				if err != nil {
					return err
				}
				for _, m := range ms {
					if m.Shredded == "" {
						ids = append(ids, m.ID)
					}
				}
			case !all && len(args) == 1:
				ids = args
			default:
				return usage(errors.New("name one matter, or --all"))
			}
			done := 0
			for _, id := range ids {
				r, err := s.ResyncMatter(cmd.Context(), id, a.reason)
				if err != nil {
					if done > 0 || len(ids) > 1 {
						a.printf("FAILED %s: %v\n", id, err)
						continue
					}
					return err
				}
				done++
				a.printf("matter %s: resync %d at change %d; its agents start syncing again\n", r.Matter, r.Resync, r.Seq)
			}
			if done < len(ids) {
				return fault.Errorf(fault.Incomplete, "%d of %d matters resynced", done, len(ids))
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&all, "all", false, "every matter that is not shredded")
	return cmd
}
