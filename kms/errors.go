package kms

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	vault "github.com/hashicorp/vault/api"
)

// Kind classifies an Error so callers (the admin CLI's exit codes, the
// agent's retry logic) can react without parsing messages.
type Kind int

// The kinds of Error. Other is anything not listed, e.g. a malformed reply.
const (
	Other       Kind = iota
	Unreachable      // Vault did not answer: network, DNS, TLS, timeout
	Sealed           // Vault answered but is sealed
	Denied           // Vault refused: no permission, invalid/revoked token, disabled entity
	NotFound         // the matter, user, epoch or mount does not exist
	Exists           // the thing to create already exists
	Invalid          // the caller's input is invalid (matter ID, user name, role, config)
)

func (k Kind) String() string {
	switch k {
	case Unreachable:
		return "vault unreachable"
	case Sealed:
		return "vault sealed"
	case Denied:
		return "permission denied"
	case NotFound:
		return "not found"
	case Exists:
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
	b.WriteString(e.Kind.String())
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of the first *Error in err's chain, or Other.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Other
}

// errorf returns an *Error of kind k with a formatted cause.
func errorf(op string, k Kind, format string, args ...any) error {
	return &Error{Op: op, Kind: k, Err: fmt.Errorf(format, args...)}
}

// wrap classifies an error from the Vault client. An *Error passes through
// with op prefixed; context cancellation stays recognisable via errors.Is.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return &Error{Op: op, Kind: e.Kind, Err: err}
	}
	return &Error{Op: op, Kind: classify(err), Err: err}
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
			return Unreachable
		case 400:
			if containsFold(re.Errors, "check-and-set") {
				return Exists
			}
			if containsFold(re.Errors, "permission denied") {
				return Denied
			}
			return Other
		case 502, 504:
			return Unreachable
		}
		return Other
	}
	if errors.Is(err, context.Canceled) {
		return Other
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Unreachable
	}
	var ne net.Error
	var ue *url.Error
	var oe *net.OpError
	if errors.As(err, &oe) || errors.As(err, &ne) || errors.As(err, &ue) {
		return Unreachable
	}
	// The Vault client reports exhausted retries without a typed error.
	if strings.Contains(err.Error(), "giving up after") || strings.Contains(err.Error(), "connection refused") {
		return Unreachable
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
