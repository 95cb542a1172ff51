package main

// user show, user sso, user mfa enroll|reset: a user's logins and second
// factor (docs/SSO.md).

import (
	"fmt"
	"io"
	"strings"

	"github.com/skip2/go-qrcode"
	"github.com/spf13/cobra"

	"github.com/mattersync/mattersync/admin"
	"github.com/mattersync/mattersync/kms"
)

// ssoUserCmds are the user subcommands of this file.
func ssoUserCmds(a *app) []*cobra.Command {
	mfa := &cobra.Command{Use: "mfa", Short: "a user's second factor (TOTP authenticator app): enroll, reset"}
	mfa.AddCommand(userMFAEnrollCmd(a), userMFAResetCmd(a))
	return []*cobra.Command{userShowCmd(a), userSSOCmd(a), mfa}
}

func userShowCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "show <name>",
		Short: "a user's status, logins, second factor and matters",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			ctx := cmd.Context()
			u, err := s.User(ctx, args[0])
			if err != nil {
				return err
			}
			st, err := s.UserMFA(ctx, args[0])
			if err != nil {
				return err
			}
			a.printf("user:    %s\nentity:  %s\nstatus:  %s\nadmin:   %v\n", u.Name, u.EntityID, status(u), u.Admin())
			var logins []string
			for _, al := range u.Aliases {
				logins = append(logins, fmt.Sprintf("%s %q (%s)", al.MountType, al.Name, strings.TrimSuffix(al.MountPath, "/")))
			}
			if len(logins) == 0 {
				logins = []string{"none"}
			}
			a.printf("logins:  %s\nMFA:     %s\n", strings.Join(logins, "; "), mfaText(st))
			a.printf("matters: %d\n", len(u.Matters()))
			for _, m := range u.Matters() {
				a.printf("  %s  %s\n", m.Matter, m.Role)
			}
			return nil
		}),
	}
}

// mfaText says what MFA means for the user's logins.
func mfaText(st kms.MFAStatus) string {
	switch {
	case st.Enrolled && st.Enforced:
		return "enrolled (TOTP authenticator app), required at every login"
	case st.Enrolled:
		return "enrolled (TOTP), but not enforced: run `vault init --mfa`"
	case st.Enforced:
		return "NOT ENROLLED: this user cannot log in until `user mfa enroll` (MFA is required)"
	}
	return "not enrolled, not enforced"
}

func userSSOCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "sso <name> <sign-in>",
		Short: "let a user sign in through the identity provider as <sign-in> (the value of the OIDC user claim, e.g. alice@firm.example)",
		Long: `Ties the identity provider's sign-in <sign-in> (the value of the claim set with
vault init --oidc-user-claim, default email) to the mattersync user <name>:
signing in then reaches that user's Vault entity, its policy and its matter
groups. Use it for users created before sign-in through the identity provider
was set up, or use user create --sso for new ones.`,
		Args: args(cobra.ExactArgs(2)),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			if err := s.LinkSSO(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			a.printf("%s signs in through the identity provider as %q\n", args[0], args[1])
			return nil
		}),
	}
}

func userMFAEnrollCmd(a *app) *cobra.Command {
	var noQR bool
	cmd := &cobra.Command{
		Use:   "enroll <name>",
		Short: "give a user a TOTP secret for their authenticator app; prints it once as an otpauth:// URL and a QR code",
		Long: `Creates the user's TOTP secret in Vault and prints it once: a QR code to scan
with an authenticator app (Microsoft or Google Authenticator, 1Password...)
and the same as an otpauth:// URL. Both hold the secret: show them to the
user only (in person, or a screen share they alone see), never by e-mail.
A user who already has one is refused: user mfa reset first (a lost phone).`,
		Args: args(cobra.ExactArgs(1)),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			e, err := s.EnrollMFA(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if !noQR {
				if err := printQR(a.stdout, e.URL); err != nil {
					return err
				}
			}
			a.printf("%s\n", e.URL)
			a.printf("%s is enrolled: scan the QR code (or enter the URL) in the authenticator app; Vault asks for its code at every login.\n", args[0])
			return nil
		}),
	}
	cmd.Flags().BoolVar(&noQR, "no-qr", false, "print the otpauth:// URL only")
	return cmd
}

func userMFAResetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "reset <name>",
		Short: "remove a user's TOTP secret (lost or replaced phone); they cannot log in until enrolled again",
		Args:  args(cobra.ExactArgs(1)),
		RunE: withSession(a, func(cmd *cobra.Command, s *admin.Session, args []string) error {
			if err := s.ResetMFA(cmd.Context(), args[0]); err != nil {
				return err
			}
			a.printf("%s's authenticator app no longer works for mattersync: `user mfa enroll %s` to set up a new one\n", args[0], args[0])
			return nil
		}),
	}
}

// printQR draws the QR code of s with half blocks: two rows of modules
// per line, readable by a phone camera from a terminal.
func printQR(w io.Writer, s string) error {
	q, err := qrcode.New(s, qrcode.Medium)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, q.ToSmallString(false))
	return err
}
