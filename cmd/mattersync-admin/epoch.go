package main

// The gateway epoch commands, for repairs: the commands that create or
// rotate an epoch tell the gateway by themselves.

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/admin"
)

func epochSetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "set <matter> <epoch>",
		Short: "make the gateway refuse uploads sealed under epochs below <epoch> (never lowers it)",
		Long: `The commands that create or rotate an epoch do this themselves; use it when
their "gateway epoch" step failed or no gateway was configured, with the epoch
they printed. Setting the current epoch again changes nothing; a lower one is
refused (exit 9).`,
		Args: args(cobra.ExactArgs(2)),
		RunE: withGatewayVault(a, nil, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			n, err := strconv.ParseUint(args[1], 10, 32)
			if err != nil || n == 0 {
				return usage(fmt.Errorf("epoch %q: want an integer from 1 to %d", args[1], ^uint32(0)))
			}
			ep, err := s.SetEpoch(cmd.Context(), args[0], uint32(n))
			if err != nil {
				return err
			}
			if ep.Previous == ep.Epoch {
				a.printf("matter %s: gateway already at epoch %d\n", ep.Matter, ep.Epoch)
				return nil
			}
			a.printf("matter %s: gateway at epoch %d (was %d): uploads sealed under older epochs are refused\n", ep.Matter, ep.Epoch, ep.Previous)
			return nil
		}),
	}
}

func epochShowCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "show <matter>",
		Short: "show the epoch the gateway enforces for a matter",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withGatewayVault(a, nil, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			ep, err := s.Epoch(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if ep.Epoch == 0 {
				a.printf("matter %s: the gateway has seen no epoch yet (it refuses nothing for it)\n", ep.Matter)
				return nil
			}
			a.printf("matter %s: gateway at epoch %d\n", ep.Matter, ep.Epoch)
			return nil
		}),
	}
}
