// Package admin is mattersync's administration logic: matters and their
// members, users and their revocation, legal holds, the epochs and deny
// list the gateway enforces, the audit log and its reports, and the Vault
// set-up. The mattersync-admin CLI and the web console both call it.
//
// It prints nothing. Multi-step operations report each step to
// Session.Progress as it completes; every operation returns a typed
// result. Errors name their kind in the shared vocabulary
// (internal/fault): kms's and the gateway client's pass through, and an
// operation that did only some of its steps fails with fault.Incomplete,
// naming the repair.
package admin

import (
	"context"
	"fmt"

	"github.com/mattersync/mattersync/internal/fault"
	"github.com/mattersync/mattersync/kms"
)

// Gateway is the gateway's admin API, by role; *client.Client implements
// it.
type Gateway interface {
	Holds
	Epochs
	DenyList
	AuditLog
	UsageCounter
	Retention
	StorageRuns
	Shredder
	Closer
}

// ErrNoGateway is what Session.Gateway returns, possibly wrapped, when no
// gateway is configured: the steps that tell the gateway are then skipped
// with a warning naming the repair, and gateway operations fail with it.
var ErrNoGateway = fault.Errorf(fault.Invalid, "gateway not configured")

// Session is what one administrator works with: their Vault session, the
// gateway's admin API, and where progress goes. Its fields are set once;
// a Session is used by one goroutine at a time.
type Session struct {
	// Vault is the administrator's Vault session; the matter, user and
	// Vault operations need it, the gateway operations do not.
	Vault *kms.Admin
	// Gateway returns the gateway's admin API, called before each use (so
	// a caller may open it lazily and keep it); nil, or an error wrapping
	// ErrNoGateway, means no gateway is configured.
	Gateway func(ctx context.Context) (Gateway, error)
	// GatewayURL names the gateway in step details and messages.
	GatewayURL string
	// Progress receives each step of a multi-step operation as it
	// completes; nil discards them.
	Progress func(Step)
	// Reason says why a membership change is made (grant, remove,
	// screen, unscreen): kept in the membership history (membership.go).
	Reason string
}

// Step is one step of a multi-step operation, or a note between steps.
type Step struct {
	// Name says what the step does, e.g. "gateway epoch 2026-0001"; it is
	// empty for a note, whose Detail is a whole line of narration.
	Name   string
	Detail string // what it did; for a Warning, what is left open and the repair
	Err    error  // set if the step failed
	// Warning marks a step that was not done because it could not be (no
	// gateway configured); the operation goes on.
	Warning bool
}

func (s *Session) report(st Step) {
	if s.Progress != nil {
		s.Progress(st)
	}
}

func (s *Session) note(format string, args ...any) {
	s.report(Step{Detail: fmt.Sprintf(format, args...)})
}

// kmsProgress forwards kms's steps to Progress.
func (s *Session) kmsProgress() kms.Progress {
	return func(k kms.Step) { s.report(Step{Name: k.Name, Detail: k.Detail, Err: k.Err}) }
}

// gateway returns the gateway's admin API or an error wrapping
// ErrNoGateway.
func (s *Session) gateway(ctx context.Context) (Gateway, error) {
	if s.Gateway == nil {
		return nil, ErrNoGateway
	}
	return s.Gateway(ctx)
}
