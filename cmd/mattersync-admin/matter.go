package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/kms"
)

func matterCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "matter", Short: "create matters, manage members and ethical walls, rotate, shred"}
	cmd.AddCommand(matterCreateCmd(a), matterListCmd(a), matterGrantCmd(a), matterRemoveCmd(a),
		matterScreenCmd(a), matterUnscreenCmd(a), matterMembersCmd(a), matterRotateCmd(a), matterShredCmd(a))
	return cmd
}

// withAdmin runs f with a connected kms.Admin, closed afterwards.
func withAdmin(a *app, f func(cmd *cobra.Command, adm *kms.Admin, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		adm, err := a.connect(cmd.Context())
		if err != nil {
			return err
		}
		defer adm.Close()
		return f(cmd, adm, args)
	}
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
		RunE: withAdmin(a, func(cmd *cobra.Command, adm *kms.Admin, args []string) error {
			m, err := adm.CreateMatter(cmd.Context(), args[0], name, a.progress)
			if err != nil {
				return err
			}
			gwErr := a.gatewayEpoch(cmd, m.ID, 1)
			a.printf("matter %s (%q) created, epoch 1\n", m.ID, m.Name)
			return epochIncomplete("matter "+m.ID+" created", m.ID, 1, gwErr)
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
		RunE: withAdmin(a, func(cmd *cobra.Command, adm *kms.Admin, _ []string) error {
			ms, err := adm.ListMatters(cmd.Context())
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
		RunE: withAdmin(a, func(cmd *cobra.Command, adm *kms.Admin, args []string) error {
			r, err := kms.ParseRole(role)
			if err != nil || r == kms.RoleScreened {
				return usage(fmt.Errorf("--role must be rw or ro, not %q (use `matter screen` for walls)", role))
			}
			changed, err := adm.Grant(cmd.Context(), args[0], args[1], r)
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

// rotateAfter rotates matter when a member lost access, unless told not to.
func rotateAfter(cmd *cobra.Command, a *app, adm *kms.Admin, matter string, lostAccess, noRotate bool) error {
	switch {
	case !lostAccess:
		return nil
	case noRotate:
		a.printf("not rotated (--no-rotate): keys the user may have kept still open data written from now on until `matter rotate %s`\n", matter)
		return nil
	}
	a.printf("rotating %s so that data written from now on is out of their reach:\n", matter)
	res, err := adm.Rotate(cmd.Context(), matter, a.progress)
	if res.Epoch == 0 {
		return err
	}
	gwErr := a.gatewayEpoch(cmd, matter, res.Epoch)
	a.printf("matter %s is at epoch %d\n", matter, res.Epoch)
	if err != nil {
		return err
	}
	return epochIncomplete(fmt.Sprintf("matter %s rotated to epoch %d", matter, res.Epoch), matter, res.Epoch, gwErr)
}

func matterRemoveCmd(a *app) *cobra.Command {
	var noRotate bool
	cmd := &cobra.Command{
		Use:   "remove <id> <user>",
		Short: "remove a member from a matter, then rotate the matter",
		Args:  args(cobra.ExactArgs(2)),
		RunE: withAdmin(a, func(cmd *cobra.Command, adm *kms.Admin, args []string) error {
			removed, err := adm.Remove(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			if !removed {
				a.printf("%s was not a member of %s: nothing changed\n", args[1], args[0])
				return nil
			}
			a.printf("%s removed from %s\n", args[1], args[0])
			riErr := a.gatewayReissue(cmd, adm, args[1], "removed from "+args[0])
			return reissueIncomplete(rotateAfter(cmd, a, adm, args[0], true, noRotate), riErr)
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
		RunE: withAdmin(a, func(cmd *cobra.Command, adm *kms.Admin, args []string) error {
			wasMember, err := adm.Screen(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			a.printf("%s is screened from %s\n", args[1], args[0])
			var riErr error
			if wasMember {
				riErr = a.gatewayReissue(cmd, adm, args[1], "screened from "+args[0])
			}
			return reissueIncomplete(rotateAfter(cmd, a, adm, args[0], wasMember, noRotate), riErr)
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
		RunE: withAdmin(a, func(cmd *cobra.Command, adm *kms.Admin, args []string) error {
			changed, err := adm.Unscreen(cmd.Context(), args[0], args[1])
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
		RunE: withAdmin(a, func(cmd *cobra.Command, adm *kms.Admin, args []string) error {
			ms, err := adm.Members(cmd.Context(), args[0])
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
		RunE: withAdmin(a, func(cmd *cobra.Command, adm *kms.Admin, args []string) error {
			res, err := adm.Rotate(cmd.Context(), args[0], a.progress)
			if res.Epoch == 0 {
				return err
			}
			// The new epoch is stored in Vault from here on, even if a
			// later Vault step failed: agents will seal under it.
			gwErr := a.gatewayEpoch(cmd, args[0], res.Epoch)
			a.printf("matter %s is at epoch %d (transit key version %d, %d older epochs rewrapped)\n", args[0], res.Epoch, res.KeyVersion, res.Rewrapped)
			if err != nil {
				return err
			}
			return epochIncomplete(fmt.Sprintf("matter %s rotated to epoch %d", args[0], res.Epoch), args[0], res.Epoch, gwErr)
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
		RunE: withAdmin(a, func(cmd *cobra.Command, adm *kms.Admin, args []string) error {
			id := args[0]
			if confirm != id {
				return usage(fmt.Errorf("shredding is irreversible: repeat the matter ID with --confirm %s", id))
			}
			if noHoldCheck {
				a.printf("legal hold check skipped (--no-hold-check)\n")
			} else {
				held, err := a.checkHold(cmd, id)
				if err != nil {
					return err
				}
				if held {
					return fault.Errorf(fault.Refused, "matter %s is on legal hold: shredding refused", id)
				}
				a.printf("legal hold: none\n")
			}
			if err := adm.Shred(cmd.Context(), id, a.progress); err != nil {
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

// gatewayEpoch is the "gateway epoch" step of the commands that create or
// rotate an epoch: the gateway then refuses uploads sealed under older
// epochs, from agents whose key caches are not yet refreshed or with keys a
// removed member kept (FORMAT.md section 10). Without a configured gateway
// it warns and returns nil: Vault is the authority, and the gateway raises
// the epoch itself at the first commit under the new one.
func (a *app) gatewayEpoch(cmd *cobra.Command, matter string, epoch uint32) error {
	step := "gateway epoch " + matter
	url := a.gateway()
	if url == "" {
		a.printf("  WARNING %s: gateway not configured (--gateway or MATTERSYNC_GATEWAY_URL): it accepts uploads sealed under epochs below %d until a commit under %d reaches it; run `mattersync-admin epoch set %s %d`\n",
			step, epoch, epoch, matter, epoch)
		return nil
	}
	err := errors.New("gateway client not available in this build")
	var got uint32
	if a.newEpochSetter != nil {
		var es epochSetter
		if es, err = a.newEpochSetter(cmd.Context(), url); err == nil {
			got, err = es.RaiseEpoch(cmd.Context(), matter, epoch)
		}
	}
	if err != nil {
		err = fmt.Errorf("gateway %s: %w", url, err)
		a.progress(kms.Step{Name: step, Err: err})
		return err
	}
	detail := fmt.Sprintf("uploads sealed under epochs below %d refused at %s", epoch, url)
	if got > epoch {
		detail = fmt.Sprintf("gateway at %s already at epoch %d", url, got)
	}
	a.progress(kms.Step{Name: step, Detail: detail})
	return nil
}

// gatewayReissue is the "gateway reissue" step of matter remove and
// screen: the gateway refuses the user's identity tokens issued until now,
// which still name the matter's group, so access ends now rather than when
// they expire; the user's devices fetch new tokens. Without a configured
// gateway it warns and returns nil.
func (a *app) gatewayReissue(cmd *cobra.Command, adm *kms.Admin, user, reason string) error {
	step := "gateway reissue " + user
	u, err := adm.User(cmd.Context(), user)
	if err != nil {
		a.progress(kms.Step{Name: step, Err: err})
		return err
	}
	url := a.gateway()
	if url == "" {
		a.printf("  WARNING %s: gateway not configured (--gateway or MATTERSYNC_GATEWAY_URL): identity tokens already issued to %s keep the old groups at the gateway until they expire; run `mattersync-admin deny reissue %s`\n",
			step, user, u.EntityID)
		return nil
	}
	err = errors.New("gateway client not available in this build")
	var at time.Time
	if a.newReissuer != nil {
		var r reissuer
		if r, err = a.newReissuer(cmd.Context(), url); err == nil {
			at, err = r.Reissue(cmd.Context(), u.EntityID, reason)
		}
	}
	if err != nil {
		err = fmt.Errorf("gateway %s: %w", url, err)
		a.progress(kms.Step{Name: step, Err: err})
		return reissueFailed{entity: u.EntityID, err: err}
	}
	a.progress(kms.Step{Name: step, Detail: fmt.Sprintf("tokens issued before %s refused at %s", at.Format(time.RFC3339), url)})
	return nil
}

// reissueFailed is a failed gateway reissue step.
type reissueFailed struct {
	entity string
	err    error
}

func (e reissueFailed) Error() string { return e.err.Error() }

// reissueIncomplete combines the command's other outcome with its reissue
// step's: a failed step makes the command incomplete, naming the repair.
func reissueIncomplete(err, reissueErr error) error {
	var rf reissueFailed
	switch {
	case reissueErr == nil:
		return err
	case !errors.As(reissueErr, &rf):
		if err != nil {
			return err
		}
		return reissueErr
	}
	if err != nil {
		return err // its own exit code; the FAILED line names the reissue step
	}
	return fault.Errorf(fault.Incomplete, "INCOMPLETE: Vault steps done, but the gateway reissue step failed: %w; until it is done, identity tokens already issued keep the old groups at the gateway until they expire: run `mattersync-admin deny reissue %s`", rf.err, rf.entity)
}

// epochIncomplete is the error of a command whose Vault steps succeeded
// but whose gateway epoch step (err) failed; nil if err is nil.
func epochIncomplete(done, matter string, epoch uint32, err error) error {
	if err == nil {
		return nil
	}
	return fault.Errorf(fault.Incomplete, "INCOMPLETE: %s in Vault, but the gateway epoch step failed: %w; until it is done, agents with cached keys of older epochs can still upload: run `mattersync-admin epoch set %s %d`", done, err, matter, epoch)
}

// checkHold asks the gateway whether matter is on legal hold.
func (a *app) checkHold(cmd *cobra.Command, matter string) (bool, error) {
	url := a.gateway()
	if url == "" {
		return false, usage(errors.New("cannot check for a legal hold: gateway not configured (--gateway or MATTERSYNC_GATEWAY_URL); use --no-hold-check only if you know the matter is not on hold"))
	}
	if a.newHoldChecker == nil {
		return false, usage(errors.New("cannot check for a legal hold: this build has no gateway admin client; use --no-hold-check only if you know the matter is not on hold"))
	}
	hc, err := a.newHoldChecker(cmd.Context(), url)
	if err != nil {
		return false, fmt.Errorf("gateway %s: %w", url, err)
	}
	held, err := hc.OnHold(cmd.Context(), matter)
	if err != nil {
		return false, fmt.Errorf("legal hold check at %s: %w", url, err)
	}
	return held, nil
}
