package kms

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	vault "github.com/hashicorp/vault/api"

	"github.com/mattersync/mattersync/internal/fault"
)

// Kind classifies an Error so callers (the admin CLI's exit codes, the
// agent's retry logic) can react without parsing messages. It is the
// kind vocabulary the gateway and its client share (internal/fault).
type Kind = fault.Kind

// The kinds of Error kms returns. Other is anything not listed, e.g. a
// malformed reply.
const (
	Other       = fault.Other
	Unavailable = fault.Unavailable // Vault did not answer: network, DNS, TLS, timeout
	Sealed      = fault.Sealed      // Vault answered but is sealed
	Denied      = fault.Denied      // Vault refused: no permission, invalid/revoked token, disabled entity
	NotFound    = fault.NotFound    // the matter, user, epoch or mount does not exist
	Conflict    = fault.Conflict    // the thing to create already exists, or changed meanwhile
	Invalid     = fault.Invalid     // the caller's input is invalid (matter ID, user name, role, config)
)

// describe says what k means for a Vault operation, in messages.
func describe(k Kind) string {
	switch k {
	case Unavailable:
		return "vault unreachable"
	case Sealed:
		return "vault sealed"
	case Denied:
		return "permission denied"
	case NotFound:
		return "not found"
	case Conflict:
		return "already exists"
	case Invalid:
		return "invalid"
	}
	return "error"
}

// Error is the error type of every kms operation that fails.
type Error struct {
	Op   string // what kms was doing, e.g. "create matter 2026-0001"
	Kind Kind
	Err  error // the underlying error, possibly from Vault; may be nil
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("kms: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	var d described
	var inner *Error
	if e.Err == nil || !(errors.As(e.Err, &d) || errors.As(e.Err, &inner)) {
		// Causes from Vault or the network do not say what they mean for
		// mattersync; ours (from errorf) do.
		b.WriteString(describe(e.Kind))
		if e.Err != nil {
			b.WriteString(": ")
		}
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Fault returns e.Kind, for fault.Of.
func (e *Error) Fault() Kind { return e.Kind }

// KindOf returns the Kind of the first *Error in err's chain, or Other.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Other
}

// errorf returns an *Error of kind k with a formatted cause that says it
// all, so Error does not repeat the kind.
func errorf(op string, k Kind, format string, args ...any) error {
	return &Error{Op: op, Kind: k, Err: described{fmt.Errorf(format, args...)}}
}

// described marks a cause written by kms itself.
type described struct{ err error }

func (d described) Error() string { return d.err.Error() }
func (d described) Unwrap() error { return d.err }

// vaultError renders a Vault API error on one line; the client's own
// rendering spans several.
type vaultError struct{ re *vault.ResponseError }

func (v vaultError) Error() string {
	path := v.re.URL
	if u, err := url.Parse(v.re.URL); err == nil {
		path = u.Path
	}
	msgs := make([]string, 0, len(v.re.Errors))
	for _, m := range v.re.Errors {
		msgs = append(msgs, strings.Join(strings.Fields(m), " "))
	}
	return fmt.Sprintf("Vault answered %d to %s %s: %s", v.re.StatusCode, v.re.HTTPMethod, path, strings.Join(msgs, "; "))
}
func (v vaultError) Unwrap() error { return v.re }

// wrap classifies an error from the Vault client. An *Error passes through
// with op prefixed; context cancellation stays recognisable via errors.Is.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		if e.Op == op {
			return err
		}
		return &Error{Op: op, Kind: e.Kind, Err: err}
	}
	k := classify(err)
	var re *vault.ResponseError
	if errors.As(err, &re) {
		err = vaultError{re}
	}
	return &Error{Op: op, Kind: k, Err: err}
}

func classify(err error) Kind {
	var re *vault.ResponseError
	if errors.As(err, &re) {
		switch re.StatusCode {
		case 403:
			return Denied
		case 404:
			return NotFound
		case 503:
			// Vault answers 503 both when sealed and when a standby cannot
			// reach the active node; only the first is "sealed".
			if containsFold(re.Errors, "sealed") {
				return Sealed
			}
			return Unavailable
		case 400:
			if containsFold(re.Errors, "check-and-set") {
				return Conflict
			}
			// Logins refuse bad credentials with 400.
			if containsFold(re.Errors, "permission denied") || containsFold(re.Errors, "invalid username or password") ||
				containsFold(re.Errors, "invalid credentials") {
				return Denied
			}
			return Other
		case 502, 504:
			return Unavailable
		}
		return Other
	}
	if errors.Is(err, context.Canceled) {
		return Other
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Unavailable
	}
	var ne net.Error
	var ue *url.Error
	var oe *net.OpError
	if errors.As(err, &oe) || errors.As(err, &ne) || errors.As(err, &ue) {
		return Unavailable
	}
	// The Vault client reports exhausted retries without a typed error.
	if strings.Contains(err.Error(), "giving up after") || strings.Contains(err.Error(), "connection refused") {
		return Unavailable
	}
	return Other
}

func containsFold(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(strings.ToLower(s), sub) {
			return true
		}
	}
	return false
}
