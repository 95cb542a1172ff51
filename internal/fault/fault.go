// Package fault is mattersync's one vocabulary of failure kinds. kms
// (Vault), the gateway, its wire codes and client, and the admin logic
// each keep their own error type with their own details, and each says
// which Kind it is, so a caller such as mattersync-admin maps any error to
// one message and exit code without knowing where it came from.
package fault

import (
	"errors"
	"fmt"
)

// Kind classifies a failure by what the caller can do about it.
type Kind int

// The kinds, shared by kms, gateway, gateway/api, gateway/client and admin.
const (
	Other           Kind = iota // anything not listed: internal errors, malformed answers
	Invalid                     // the caller's input is invalid: an argument, a config, a request
	Unauthenticated             // no valid credential: missing, expired or superseded token
	Denied                      // not allowed: no permission, revoked, wrong password
	NotFound                    // the matter, user, entity, epoch or mount does not exist
	Conflict                    // the current state forbids it: already exists, changed meanwhile
	Refused                     // a rule forbids it whoever asks: a legal hold, an epoch going down
	Unavailable                 // the service did not answer or cannot now: network, timeout, overload
	Sealed                      // Vault answered but is sealed until an operator unseals it
	Incomplete                  // a multi-step operation did only some steps; the message names the repair
)

func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case Unauthenticated:
		return "unauthenticated"
	case Denied:
		return "permission denied"
	case NotFound:
		return "not found"
	case Conflict:
		return "conflict"
	case Refused:
		return "refused"
	case Unavailable:
		return "unavailable"
	case Sealed:
		return "sealed"
	case Incomplete:
		return "incomplete"
	}
	return "error"
}

// kinded is implemented by every error type that names its Kind.
type kinded interface{ Fault() Kind }

// Of returns the Kind named by the first error in err's chain that names
// one, or Other. The outermost wins: an Incomplete wrapping a gateway
// refusal is Incomplete.
func Of(err error) Kind {
	var k kinded
	if errors.As(err, &k) {
		return k.Fault()
	}
	return Other
}

// Error is an error of a given Kind, for code with no error type of its
// own (the admin logic, the CLIs).
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Fault returns e.Kind.
func (e *Error) Fault() Kind { return e.Kind }

// Errorf returns an *Error of kind k; %w wraps as in fmt.Errorf, but the
// Kind is k whatever the wrapped error's.
func Errorf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Err: fmt.Errorf(format, args...)}
}

// Wrap returns err as an *Error of kind k, or nil if err is nil.
func Wrap(k Kind, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: k, Err: err}
}
