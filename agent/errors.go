package agent

import (
	"errors"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
)

// ErrRevoked is returned when the gateway or Vault says this user has been
// cut off: the agent stops syncing and drops its keys.
var ErrRevoked = errors.New("agent: access revoked by the firm's IT")

// ErrLoggedInAgain is returned by Run when Vault had refused the login (an
// expired token, say) and accepts it again (the user ran `mattersync
// login`): the caller opens a new agent, which resumes syncing.
var ErrLoggedInAgain = errors.New("agent: Vault accepts the login again")

// errFileChanging: a file changed while it was read; it is read again after
// the next quiet period.
var errFileChanging = errors.New("file changed while it was being read")

// errLocalChanged: a local file changed between the decision to overwrite
// it and the rename; the next pass treats it as a local edit.
var errLocalChanged = errors.New("local file changed during download")

// codeError is implemented by the gateway client's errors.
type codeError interface {
	error
	APIError() *api.Error
}

// remoteError returns the gateway's error body in err, or nil if err did not
// come from a gateway answer (network errors, for instance).
func remoteError(err error) *api.Error {
	var ce codeError
	if errors.As(err, &ce) {
		return ce.APIError()
	}
	return nil
}

// remoteCode returns the gateway's error code in err, or "".
func remoteCode(err error) api.Code {
	if e := remoteError(err); e != nil {
		return e.Code
	}
	return ""
}

// permanent reports whether retrying cannot fix err: the object is
// tampered with, malformed or unsafe. Such a change is reported and skipped;
// anything else (network, gateway down) is retried.
func permanent(err error) bool {
	if integrity(err) {
		return true
	}
	switch remoteCode(err) {
	case api.CodeNotFound, api.CodeInvalidRequest:
		return true
	}
	return false
}

// errTampered: downloaded content does not match its manifest.
var errTampered = errors.New("content does not match its manifest (tampered or corrupt)")

// errTooLarge: a manifest declares a file larger than max_file_size.
var errTooLarge = errors.New("larger than max_file_size")

// integrity reports whether err says a remote object itself is bad:
// forged, tampered, malformed, or declaring an absurd size. Such a change
// is an integrity event: recorded as the file's problem and shown in
// status, but not retried by every full pass (nothing local can fix it);
// the file's next version, or the next start of the agent, tries again.
func integrity(err error) bool {
	for _, e := range []error{format.ErrAuth, format.ErrMalformed, format.ErrBadHeader, format.ErrUnsafePath,
		format.ErrTooLarge, format.ErrUnsupportedVersion, format.ErrWrongMatter, format.ErrWrongEpoch,
		format.ErrWrongID, format.ErrWrongVersion, errTampered, errTooLarge} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// perFile reports whether err is a problem with one file (tampered, unsafe,
// not writable or readable here, changing under us) rather than with the
// matter or the connection: such a file is reported and skipped, and the
// rest of the matter keeps syncing.
func perFile(err error) bool {
	return permanent(err) || errors.Is(err, errLocalWrite) || errors.Is(err, errLocalChanged) || errors.Is(err, errFileChanging)
}
