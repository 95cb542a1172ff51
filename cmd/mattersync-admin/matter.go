package main

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/admin"
	"github.com/mattersync/mattersync/kms"
)

func matterCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "matter", Short: "create matters, manage members and ethical walls, rotate, shred"}
	cmd.AddCommand(matterCreateCmd(a), matterListCmd(a), matterGrantCmd(a), matterRemoveCmd(a),
		matterScreenCmd(a), matterUnscreenCmd(a), matterMembersCmd(a), matterRotateCmd(a), matterShredCmd(a),
		matterRetentionCmd(a), matterUsageCmd(a), matterCloseCmd(a), matterDestructionCmd(a), matterResyncCmd(a), matterSharingCmd(a))
	cmd.PersistentFlags().StringVar(&a.reason, "reason", "", "why (grant, remove, screen, unscreen, create, resync): kept in the membership history")
	return cmd
}

func matterCreateCmd(a *app) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "create <id> --name <display name>",
		Short: "create a matter: transit key, epoch 1, policies, groups matter-<id>-rw/-ro/-screened",
		Long: `Matter IDs are 1 to 40 characters of a-z, 0-9 and inner '-', e.g. 2026-0001.
They appear in Vault names and storage keys; the display name is stored in
Vault and shown to members only. With a gateway configured (--gateway), the
last step tells it the matter is at epoch 1.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			m, err := s.CreateMatter(cmd.Context(), args[0], name)
			if m.ID != "" {
				a.printf("matter %s (%q) created, epoch 1\n", m.ID, m.Name)
			}
			return err
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "display name, e.g. \"Smith v. Jones\" (required)")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func matterListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "list every matter",
		Args:  args(cobra.NoArgs),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, _ []string) error {
			ms, err := s.ListMatters(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "MATTER\tNAME\tCREATED\tSHREDDED")
			for _, m := range ms {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", m.ID, m.Name, m.Created, m.Shredded)
			}
			return w.Flush()
		}),
	}
}

func matterGrantCmd(a *app) *cobra.Command {
	var role string
	cmd := &cobra.Command{
		Use:   "grant <id> <user> --role rw|ro",
		Short: "make a user a member of a matter (or change their role)",
		Args:  args(cobra.ExactArgs(2)),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			r, err := kms.ParseRole(role)
			if err != nil || r == kms.RoleScreened {
				return usage(fmt.Errorf("--role must be rw or ro, not %q (use `matter screen` for walls)", role))
			}
			changed, err := s.Grant(cmd.Context(), args[0], args[1], r)
			if err != nil {
				return err
			}
			if changed {
				a.printf("%s is now %s on %s\n", args[1], r, args[0])
			} else {
				a.printf("%s already was %s on %s: nothing changed\n", args[1], r, args[0])
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&role, "role", "", "rw (read and write) or ro (read only) (required)")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

// printRotation ends the output of remove and screen: how the matter's
// rotation went.
func printRotation(a *app, matter string, ch admin.AccessChange) {
	switch {
	case ch.RotationSkipped:
		a.printf("not rotated (--no-rotate): keys the user may have kept still open data written from now on until `matter rotate %s`\n", matter)
	case ch.Rotation.Epoch != 0:
		a.printf("matter %s is at epoch %d\n", matter, ch.Rotation.Epoch)
	}
}

func matterRemoveCmd(a *app) *cobra.Command {
	var noRotate bool
	cmd := &cobra.Command{
		Use:   "remove <id> <user>",
		Short: "remove a member from a matter, then rotate the matter",
		Args:  args(cobra.ExactArgs(2)),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			ch, err := s.RemoveMember(cmd.Context(), args[0], args[1], admin.AccessOptions{NoRotate: noRotate})
			if err == nil && !ch.Changed {
				a.printf("%s was not a member of %s: nothing changed\n", args[1], args[0])
			}
			printRotation(a, args[0], ch)
			return err
		}),
	}
	cmd.Flags().BoolVar(&noRotate, "no-rotate", false, "do not rotate the matter afterwards")
	return cmd
}

func matterScreenCmd(a *app) *cobra.Command {
	var noRotate bool
	cmd := &cobra.Command{
		Use:   "screen <id> <user>",
		Short: "put an ethical wall between a user and a matter (beats any grant), rotating if they were a member",
		Args:  args(cobra.ExactArgs(2)),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			ch, err := s.Screen(cmd.Context(), args[0], args[1], admin.AccessOptions{NoRotate: noRotate})
			printRotation(a, args[0], ch)
			return err
		}),
	}
	cmd.Flags().BoolVar(&noRotate, "no-rotate", false, "do not rotate the matter if the user was a member")
	return cmd
}

func matterUnscreenCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "unscreen <id> <user>",
		Short: "lift an ethical wall (grants nothing by itself)",
		Args:  args(cobra.ExactArgs(2)),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			changed, err := s.Unscreen(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			if changed {
				a.printf("%s is no longer screened from %s\n", args[1], args[0])
			} else {
				a.printf("%s was not screened from %s: nothing changed\n", args[1], args[0])
			}
			return nil
		}),
	}
}

func matterMembersCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "members <id>",
		Short: "list a matter's members and screened users",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			ms, err := s.Members(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "USER\tROLE\tSTATUS\tENTITY")
			for _, m := range ms {
				status := "active"
				if m.Disabled {
					status = "revoked"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", m.User, m.Role, status, m.EntityID)
			}
			return w.Flush()
		}),
	}
}

func matterRotateCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate <id>",
		Short: "start a new key epoch: rotate the transit key, rewrap older epochs, retire old key versions, tell the gateway",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			res, err := s.Rotate(cmd.Context(), args[0])
			if res.Epoch != 0 {
				a.printf("matter %s is at epoch %d (transit key version %d, %d older epochs rewrapped)\n", args[0], res.Epoch, res.KeyVersion, res.Rewrapped)
			}
			return err
		}),
	}
}

func matterShredCmd(a *app) *cobra.Command {
	var confirm string
	var noHoldCheck bool
	cmd := &cobra.Command{
		Use:   "shred <id> --confirm <id>",
		Short: "crypto-shred a closed matter: its data becomes unreadable for good",
		Long: `Deletes the matter's transit key and every stored version of its wrapped epoch
keys, its policies and groups, and its display name. Nobody, Vault's root
included, can decrypt the matter's data afterwards. Refused while the matter
is on legal hold; the hold is the gateway's, so without a configured gateway
--no-hold-check is required (only if you know there is no hold).`,
		Args: args(cobra.ExactArgs(1)),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			id := args[0]
			if confirm != id {
				return usage(fmt.Errorf("shredding is irreversible: repeat the matter ID with --confirm %s", id))
			}
			// Before the hold check, which would ask the gateway about
			// a phantom matter.
			if err := s.RequireMatter(cmd.Context(), id); err != nil {
				return err
			}
			if noHoldCheck {
				a.printf("legal hold check skipped (--no-hold-check)\n")
			}
			err := s.Shred(cmd.Context(), id, admin.ShredOptions{SkipHoldCheck: noHoldCheck})
			if errors.Is(err, admin.ErrHoldUnknown) {
				return usage(fmt.Errorf("%w; use --no-hold-check only if you know the matter is not on hold", err))
			}
			if err != nil {
				return err
			}
			a.printf("matter %s shredded\n", id)
			return nil
		}),
	}
	cmd.Flags().StringVar(&confirm, "confirm", "", "the matter ID again (required)")
	cmd.Flags().BoolVar(&noHoldCheck, "no-hold-check", false, "skip the gateway's legal hold check")
	return cmd
}
