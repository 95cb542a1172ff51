package agent

import (
	"context"
	"errors"

	"github.com/mattersync/mattersync/internal/fault"
)

// explain turns the error that stopped a pass (or the listing of matters)
// into a sentence a lawyer understands and can act on, for status. The raw
// error (a status code, a URL, "context canceled") says nothing to them; it
// goes to the agent's log, where IT reads it. "" means there is nothing to
// tell: the pass was stopped on purpose (the agent stopping, a matter
// whose role or folder changed).
func explain(err error) string {
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return ""
	case errors.As(err, new(*HaltedError)):
		return "The firm's server went back in time for this matter (restored from a backup, or tampered with): syncing of this matter stopped and every file here is kept as it is. IT has been told; syncing starts again after IT runs `mattersync-admin matter resync`."
	case errors.Is(err, ErrRevoked):
		return "Your access was revoked by the firm: syncing stopped. Contact IT."
	case errors.Is(err, context.DeadlineExceeded):
		return "The firm's server did not answer in time: your changes are kept on this computer and sync when it answers again (retried automatically)."
	case integrity(err):
		return "The firm's server sent something that does not check out (possible tampering or corruption): nothing was changed here. Tell IT; the details are in the agent log."
	case errors.Is(err, errLocalWrite):
		return "The matter folder on this computer cannot be read or written (permissions, a full disk, a file in use): see the agent log, or tell IT."
	}
	switch fault.Of(err) {
	case fault.Unavailable:
		return "The firm's server cannot be reached right now (no network, or the server is busy or down): your changes are kept on this computer and sync when it is back (retried automatically)."
	case fault.Unauthenticated:
		return "Your login has expired: run `mattersync login` (syncing resumes by itself)."
	case fault.Denied:
		return "The firm's server refuses this matter: your access may have been changed by the firm. Syncing is paused; ask IT if this lasts."
	case fault.NotFound:
		return "The firm's server does not know this matter (it may have been closed or removed): ask IT."
	case fault.Sealed:
		return "The firm's key server is locked (sealed) until IT unlocks it: syncing resumes by itself then."
	case fault.Refused:
		return "The firm's server refused a change to this matter (a legal hold or a key change): it is retried automatically; ask IT if this lasts."
	}
	return "Syncing this matter failed and is retried automatically: if this lasts, tell IT (the details are in the agent log)."
}
