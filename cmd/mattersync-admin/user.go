package main

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/admin"
	"github.com/mattersync/mattersync/kms"
)

func userCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "create, list and revoke users"}
	cmd.AddCommand(userCreateCmd(a), userListCmd(a), userMattersCmd(a), userAdminCmd(a), userRevokeCmd(a), userReinstateCmd(a))
	cmd.AddCommand(ssoUserCmds(a)...)
	return cmd
}

func userCreateCmd(a *app) *cobra.Command {
	var isAdmin, passwordStdin bool
	var sso string
	cmd := &cobra.Command{
		Use:   "create <name>",
		Short: "create a user: Vault entity <name>, userpass login, alias (dev/test, small firms)",
		Long: `Creates a Vault identity entity named exactly <name> (the "username" claim of
identity tokens) with the mattersync agent policy, a userpass login of the same
name, and the alias tying them. Names are 1 to 64 characters of a-z 0-9 . _ @ -.

The password is read from stdin with --password-stdin (after the --login
password, if any); otherwise a random one is generated and printed once.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			opt := admin.UserOptions{Admin: isAdmin, SSOLogin: sso}
			if passwordStdin {
				pw, err := a.readSecretLine("password for " + args[0])
				if err != nil {
					return err
				}
				opt.Password = pw
			}
			u, err := s.CreateUser(cmd.Context(), args[0], opt)
			if err != nil {
				return err
			}
			role := "user"
			if u.Admin() {
				role = "admin (member of " + kms.AdminGroup + ")"
			}
			a.printf("user %s created: %s, entity %s\n", u.Name, role, u.EntityID)
			if u.Password != "" {
				a.printf("password (shown once, hand it over securely): %s\n", u.Password)
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&isAdmin, "admin", false, "add the user to "+kms.AdminGroup)
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from a line of stdin instead of generating one")
	cmd.Flags().StringVar(&sso, "sso", "", "the user's sign-in at the identity provider (value of the OIDC user claim, e.g. alice@firm.example); then no password unless --password-stdin")
	return cmd
}

func userListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "list users (Vault entities) with their status and matters",
		Args:  args(cobra.NoArgs),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, _ []string) error {
			us, err := s.ListUsers(cmd.Context())
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
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			u, err := s.User(cmd.Context(), args[0])
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
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			changed, err := s.SetAdmin(cmd.Context(), args[0], !off)
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
  4. rotate every matter it could read since the last rotation (a re-run
     does not rotate a matter twice; revoking a user reinstated since
     their last revocation is a new revocation and rotates again)
  5. gateway epoch: each rotated matter's gateway refuses uploads sealed
     under the old epochs (a warning without --gateway)
Exits 0 only if every step succeeded; 8 if only gateway steps could not be
done (e.g. no gateway configured); otherwise the code of the first failure.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			name := args[0]
			rv, err := s.Revoke(cmd.Context(), name, reason)
			if rv.User.EntityID == "" {
				return err // the user was not found: nothing done
			}
			a.printf("summary for %s:\n", name)
			if rv.Reinstated {
				a.printf("  a new revocation: %s had been revoked before and reinstated since\n", name)
			}
			a.printf("  groups removed: %s\n", listOrNone(rv.Groups))
			a.printf("  matters rotated: %s\n", listOrNone(epochs(rv.Rotated)))
			if len(rv.RotatedEarlier) > 0 {
				a.printf("  rotated by an earlier run of this revocation, not again: %s\n", strings.Join(epochs(rv.RotatedEarlier), ", "))
			}
			if len(rv.NotRotated) > 0 {
				a.printf("  matters NOT rotated (step failed, re-run): %s\n", strings.Join(rv.NotRotated, ", "))
			}
			if err != nil {
				return err
			}
			a.printf("%s is revoked\n", name)
			return nil
		}),
	}
	cmd.Flags().StringVar(&reason, "reason", "revoked by mattersync-admin", "reason recorded in the gateway deny list and audit log")
	return cmd
}

func userReinstateCmd(a *app) *cobra.Command {
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "reinstate <name> [--password-stdin]",
		Short: "let a revoked user back in: enable the Vault entity, recreate the userpass login, lift the gateway deny list",
		Long: `For a revocation made by mistake, or someone rehired. It grants nothing:
it prints the memberships the revocation removed, as the commands that
grant them again, for you to run those that still apply. The user's
agent stopped when it was revoked: restart it (mattersync run, or the
service). A later revocation of the user is a new one and rotates their
matters again.

A userpass user gets a new password: generated and printed once, or read
from stdin with --password-stdin (after the --login password, if any).
Exits 8 if only the gateway step could not be done.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			name := args[0]
			var opt admin.ReinstateOptions
			if passwordStdin {
				pw, err := a.readSecretLine("new password for " + name)
				if err != nil {
					return err
				}
				opt.Password = pw
			}
			r, err := s.Reinstate(cmd.Context(), name, opt)
			if r.User.EntityID == "" {
				return err // nothing done
			}
			if r.Password != "" {
				a.printf("password (shown once, hand it over securely): %s\n", r.Password)
			}
			var grants, gone []string
			for _, g := range r.FormerGroups {
				if slices.Contains(r.User.Groups, g) {
					continue // granted again already
				}
				gone = append(gone, g)
				if g == kms.AdminGroup {
					grants = append(grants, "mattersync-admin user admin "+name)
				} else if m, role, ok := kms.ParseMatterGroup(g); ok {
					grants = append(grants, fmt.Sprintf("mattersync-admin matter grant %s %s --role %s", m, name, role))
				}
			}
			if len(grants) > 0 {
				a.printf("the revocation removed %s from %s; grant again what still applies:\n  %s\n", name, strings.Join(gone, ", "), strings.Join(grants, "\n  "))
			}
			if err != nil {
				return err
			}
			a.printf("%s is reinstated (restart their agent: it stopped when they were revoked)\n", name)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the new password from a line of stdin instead of generating one")
	return cmd
}

func epochs(rs []admin.RotatedMatter) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s (epoch %d)", r.Matter, r.Epoch))
	}
	return out
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
