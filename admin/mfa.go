package admin

// Sign-in through the firm's identity provider and Vault login MFA
// (kms.Admin.LinkSSO, EnrollMFA, ResetMFA): docs/SSO.md.

import (
	"context"

	"github.com/mattersync/mattersync/kms"
)

// LinkSSO ties an existing user to their sign-in at the identity
// provider (the value of the OIDC role's user claim).
func (s *Session) LinkSSO(ctx context.Context, user, login string) error {
	return s.Vault.LinkSSO(ctx, user, login)
}

// EnrollMFA gives user a TOTP secret and returns it (otpauth:// URL and
// QR code) for their authenticator app.
func (s *Session) EnrollMFA(ctx context.Context, user string) (kms.MFAEnrollment, error) {
	return s.Vault.EnrollMFA(ctx, user)
}

// ResetMFA removes user's TOTP secret (lost or replaced phone).
func (s *Session) ResetMFA(ctx context.Context, user string) error {
	return s.Vault.ResetMFA(ctx, user)
}

// UserMFA returns whether MFA is enforced and user enrolled.
func (s *Session) UserMFA(ctx context.Context, user string) (kms.MFAStatus, error) {
	return s.Vault.MFA(ctx, user)
}
