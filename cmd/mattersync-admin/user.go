package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/kms"
)

func userCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "create, list and revoke users"}
	cmd.AddCommand(userCreateCmd(a), userListCmd(a), userMattersCmd(a), userAdminCmd(a), userRevokeCmd(a))
	return cmd
}

func userCreateCmd(a *app) *cobra.Command {
	var admin, passwordStdin bool
	cmd := &cobra.Command{
		Use:   "create <name>",
		Short: "create a user: Vault entity <name>, userpass login, alias (dev/test, small firms)",
		Long: `Creates a Vault identity entity named exactly <name> (the "username" claim of
identity tokens) with the mattersync agent policy, a userpass login of the same
name, and the alias tying them. Names are 1 to 64 characters of a-z 0-9 . _ @ -.

The password is read from stdin with --password-stdin (after the --login
password, if any); otherwise a random one is generated and printed once.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: withAdmin(a, func(cmd *cobra.Command, adm *kms.Admin, args []string) error {
			var pw string
			var err error
			if passwordStdin {
				if pw, err = a.readSecretLine("password for " + args[0]); err != nil {
					return err
				}
			} else {
				b := make([]byte, 18)
				if _, err := rand.Read(b); err != nil {
					return err
				}
				pw = base64.RawURLEncoding.EncodeToString(b)
			}
			u, err := adm.CreateUser(cmd.Context(), args[0], kms.UserOptions{Password: pw, Admin: admin})
			if err != nil {
				return err
			}
			role := "user"
			if u.Admin() {
				role = "admin (member of " + kms.AdminGroup + ")"
			}
			a.printf("user %s created: %s, entity %s\n", u.Name, role, u.EntityID)
			if !passwordStdin {
				a.printf("password (shown once, hand it over securely): %s\n", pw)
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&admin, "admin", false, "add the user to "+kms.AdminGroup)
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from a line of stdin instead of generating one")
	return cmd
}

func userListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "list users (Vault entities) with their status and matters",
		Args:  args(cobra.NoArgs),
		RunE: withAdmin(a, func(cmd *cobra.Command, adm *kms.Admin, _ []string) error {
			us, err := adm.ListUsers(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "USER\tSTATUS\tADMIN\tMATTERS\tENTITY")
			for _, u := range us {
				fmt.Fprintf(w, "%s\t%s\t%v\t%d\t%s\n", u.Name, status(u), u.Admin(), len(u.Matters()), u.EntityID)
			}
			return w.Flush()
		}),
	}
}

func status(u kms.User) string {
	if u.Disabled {
		return "revoked"
	}
	return "active"
}

func userMattersCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "matters <name>",
		Short: "list a user's matters and roles",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withAdmin(a, func(cmd *cobra.Command, adm *kms.Admin, args []string) error {
			u, err := adm.User(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "MATTER\tROLE")
			for _, m := range u.Matters() {
				fmt.Fprintf(w, "%s\t%s\n", m.Matter, m.Role)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if u.Disabled {
				a.printf("(user %s is revoked)\n", u.Name)
			}
			return nil
		}),
	}
}

func userAdminCmd(a *app) *cobra.Command {
	var off bool
	cmd := &cobra.Command{
		Use:   "admin <name> [--off]",
		Short: "add an existing user (e.g. an OIDC or LDAP login) to " + kms.AdminGroup + ", or remove them",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withAdmin(a, func(cmd *cobra.Command, adm *kms.Admin, args []string) error {
			changed, err := adm.SetAdmin(cmd.Context(), args[0], !off)
			if err != nil {
				return err
			}
			state := map[bool]string{true: "is now", false: "is no longer"}[!off]
			if !changed {
				state = map[bool]string{true: "already was", false: "was not"}[!off]
			}
			a.printf("%s %s in %s\n", args[0], state, kms.AdminGroup)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&off, "off", false, "remove from "+kms.AdminGroup)
	return cmd
}

func userRevokeCmd(a *app) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "revoke <name>",
		Short: "cut a user off everywhere: gateway deny list, Vault entity and tokens, memberships, key rotation",
		Long: `Runs every step even if one fails, prints what it did, and is safe to re-run:
  1. gateway deny list: every gateway replica refuses the user within a second,
     and the user's devices are told to drop their keys (needs --gateway)
  2. Vault: disable the entity (its tokens and identity tokens stop working),
     revoke its login tokens, delete its userpass login
  3. remove it from every matter group and mattersync-admins (recorded in Vault)
  4. rotate every matter it could read
  5. gateway epoch: each rotated matter's gateway refuses uploads sealed
     under the old epochs (a warning without --gateway)
Exits 0 only if every step succeeded; 8 if only gateway steps could not be
done (e.g. no gateway configured); otherwise the code of the first failure.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: withAdmin(a, func(cmd *cobra.Command, adm *kms.Admin, args []string) error {
			name := args[0]
			u, err := adm.User(cmd.Context(), name)
			if err != nil {
				return err
			}
			a.printf("revoking %s (entity %s):\n", name, u.EntityID)
			gwErr := a.deny(cmd, u, reason)
			if gwErr != nil {
				a.progress(kms.Step{Name: "gateway deny list and device wipe", Err: gwErr})
			} else {
				a.progress(kms.Step{Name: "gateway deny list and device wipe", Detail: "denied at " + a.gateway()})
			}
			rep, err := adm.Revoke(cmd.Context(), name, a.progress)
			matters := make([]string, 0, len(rep.Rotated))
			for m := range rep.Rotated {
				matters = append(matters, m)
			}
			slices.Sort(matters)
			// The user's old epoch keys must stop working for uploads now,
			// not when their agents' caches expire.
			var epochFailed []string
			for _, m := range matters {
				if err := a.gatewayEpoch(cmd, m, rep.Rotated[m]); err != nil {
					epochFailed = append(epochFailed, fmt.Sprintf("`mattersync-admin epoch set %s %d`", m, rep.Rotated[m]))
				}
			}
			a.printf("summary for %s:\n", name)
			a.printf("  groups removed: %s\n", listOrNone(rep.Groups))
			var rotated []string
			for _, m := range matters {
				rotated = append(rotated, fmt.Sprintf("%s (epoch %d)", m, rep.Rotated[m]))
			}
			a.printf("  matters rotated: %s\n", listOrNone(rotated))
			switch {
			case err != nil:
				return fmt.Errorf("REVOCATION INCOMPLETE, re-run when fixed: %w", err)
			case gwErr != nil:
				also := ""
				if len(epochFailed) > 0 {
					also = "; the gateway epoch step failed too: run " + strings.Join(epochFailed, ", ")
				}
				return fault.Errorf(fault.Incomplete, "REVOCATION INCOMPLETE: Vault steps done, gateway deny list step failed: %w; until it is done, identity tokens already issued to %s stay valid at the gateway for up to their lifetime and devices are not told to wipe%s", gwErr, name, also)
			case len(epochFailed) > 0:
				return fault.Errorf(fault.Incomplete, "REVOCATION INCOMPLETE: Vault and deny list steps done, gateway epoch step failed for %d matters; until it is done, agents with cached keys of the old epochs can still upload there: run %s", len(epochFailed), strings.Join(epochFailed, ", "))
			}
			a.printf("%s is revoked\n", name)
			return nil
		}),
	}
	cmd.Flags().StringVar(&reason, "reason", "revoked by mattersync-admin", "reason recorded in the gateway deny list and audit log")
	return cmd
}

// deny puts u on the gateway deny list.
func (a *app) deny(cmd *cobra.Command, u kms.User, reason string) error {
	url := a.gateway()
	switch {
	case url == "":
		return errors.New("gateway not configured (--gateway or MATTERSYNC_GATEWAY_URL)")
	case a.newDenyLister == nil:
		return errors.New("gateway client not available in this build")
	}
	dl, err := a.newDenyLister(cmd.Context(), url)
	if err != nil {
		return fmt.Errorf("gateway %s: %w", url, err)
	}
	return dl.Deny(cmd.Context(), u.EntityID, u.Name, reason)
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
