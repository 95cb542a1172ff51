package kms

import (
	"context"
	"errors"
	"sort"
	"strings"

	vault "github.com/hashicorp/vault/api"
)

// MFAMethod is a second factor Vault asks for at login.
type MFAMethod struct {
	ID   string // Vault's method ID
	Type string // "totp"
	Name string // the method's name, e.g. "mattersync-totp"
}

// MFAAuth wraps a login method (OIDCAuth, UserpassAuth) on a mount where
// Vault enforces login MFA: when Vault answers the first step with an MFA
// requirement, MFAAuth asks Passcode for the code of the person's
// authenticator app and completes the login at sys/mfa/validate. A login
// Vault completes without MFA passes through unchanged.
type MFAAuth struct {
	Auth Authenticator
	// Passcode returns the current code for method; it is asked once per
	// login (a wrong code ends the login: start again).
	Passcode func(ctx context.Context, method MFAMethod) (string, error)
}

// String names the wrapped method.
func (a MFAAuth) String() string { return "MFA login" }

// Login implements Authenticator.
func (a MFAAuth) Login(ctx context.Context, c *vault.Client) (*vault.Secret, error) {
	const op = "login"
	if a.Auth == nil {
		return nil, errorf(op, Invalid, "no login method to add a second factor to")
	}
	sec, err := a.Auth.Login(ctx, c)
	if err != nil || sec == nil || sec.Auth == nil || sec.Auth.MFARequirement == nil {
		return sec, err
	}
	req := sec.Auth.MFARequirement
	m, err := totpMethod(req)
	if err != nil {
		return nil, err
	}
	if a.Passcode == nil {
		return nil, errorf(op, Denied, "Vault asks for a code from your authenticator app, and this login cannot ask for one")
	}
	code, err := a.Passcode(ctx, m)
	if err != nil {
		return nil, &Error{Op: op, Kind: Denied, Err: described{err}}
	}
	code = strings.Join(strings.Fields(code), "") // "123 456" as apps show it
	if code == "" {
		return nil, errorf(op, Denied, "no code given")
	}
	out, err := c.Sys().MFAValidateWithContext(ctx, req.MFARequestID, map[string]any{m.ID: []string{code}})
	if err != nil {
		return nil, mfaError(err)
	}
	if out == nil || out.Auth == nil || out.Auth.ClientToken == "" {
		return nil, errorf(op, Other, "Vault accepted the code but returned no token")
	}
	return out, nil
}

// totpMethod picks the TOTP method among Vault's MFA constraints.
func totpMethod(req *vault.MFARequirement) (MFAMethod, error) {
	var types []string
	names := make([]string, 0, len(req.MFAConstraints))
	for n := range req.MFAConstraints {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, m := range req.MFAConstraints[n].Any {
			if m.Type == "totp" {
				return MFAMethod{ID: m.ID, Type: m.Type, Name: m.Name}, nil
			}
			types = append(types, m.Type)
		}
	}
	return MFAMethod{}, errorf("login", Denied, "Vault asks for a second factor of a kind mattersync cannot answer (%s); mattersync supports TOTP", strings.Join(types, ", "))
}

// mfaError says what Vault's refusal of a code means, in the words a
// person needs: what to do next.
func mfaError(err error) error {
	const op = "login"
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "code already used"):
		return errorf(op, Denied, "this code was already used: wait until your authenticator app shows the next one (every 30 seconds) and sign in again")
	case strings.Contains(msg, "not present in entity") || strings.Contains(msg, "does not contain the totp secret"):
		return errorf(op, Denied, "no authenticator app is set up for your account (MFA not enrolled): ask IT to run `mattersync-admin user mfa enroll <your user name>`")
	case strings.Contains(msg, "maximum totp validation attempts"):
		return errorf(op, Denied, "too many wrong codes: wait a minute and sign in again")
	case strings.Contains(msg, "failed to validate totp passcode") || strings.Contains(msg, "invalid passcode"):
		return errorf(op, Denied, "the code is wrong: use the current code of the mattersync entry in your authenticator app (check that the phone's clock is right) and sign in again")
	case strings.Contains(msg, "invalid request id") || strings.Contains(msg, "mfa request"):
		return errorf(op, Denied, "the sign-in waited too long for the code: sign in again")
	}
	return wrap(op, err)
}

// errMFAPending is returned when a login method that cannot ask for a
// second factor gets an MFA requirement back.
var errMFAPending = errors.New("this login needs a second factor (a code from your authenticator app), and this login method cannot ask for one: sign in with `mattersync login` (agent) or give the admin tool a terminal")

// mfaPending reports a login answer that still waits for a second factor,
// so no caller mistakes it for a token.
func mfaPending(sec *vault.Secret) error {
	if sec != nil && sec.Auth != nil && sec.Auth.MFARequirement != nil && sec.Auth.ClientToken == "" {
		return &Error{Op: "login", Kind: Denied, Err: described{errMFAPending}}
	}
	return nil
}
