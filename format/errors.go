package format

import "errors"

// Errors returned by the Open functions and by ParseHeader, always wrapped
// with context ("format: open chunk ...: %w"), hence no prefix of their own. Callers tell them apart with
// errors.Is: a truncated download is retried, an authentication failure is
// reported as tampering, a misplaced object as a gateway or agent bug.
var (
	// ErrTruncated: the object is shorter than its header says. A partial
	// download or upload; fetching again may help.
	ErrTruncated = errors.New("truncated object")

	// ErrBadHeader: not a mattersync object, wrong kind, reserved bits
	// set, or trailing bytes after the declared payload.
	ErrBadHeader = errors.New("bad header")

	// ErrUnsupportedVersion: a mattersync object of a format version this
	// build cannot read (written by a newer agent).
	ErrUnsupportedVersion = errors.New("unsupported format version")

	// ErrTooLarge: the declared or decompressed size exceeds the limits
	// of the specification (MaxChunkSize, MaxManifestSize).
	ErrTooLarge = errors.New("object too large")

	// ErrWrongMatter, ErrWrongEpoch, ErrWrongID and ErrWrongVersion: the
	// clear header names a different matter, epoch, chunk/file ID or
	// file version than the caller expected. The object was misplaced or
	// moved; nothing was decrypted.
	ErrWrongMatter  = errors.New("object belongs to another matter")
	ErrWrongEpoch   = errors.New("object sealed under another epoch")
	ErrWrongID      = errors.New("object has another chunk or file ID")
	ErrWrongVersion = errors.New("manifest has another version")

	// ErrAuth: AES-GCM authentication failed. The ciphertext or its header
	// was modified, or it was sealed under a different key or binding.
	ErrAuth = errors.New("authentication failed")

	// ErrMalformed: the payload authenticated, but its content is invalid:
	// a bad zstd stream or manifest encoding, an unsafe path, a chunk that
	// does not hash to its chunk ID, a manifest whose path does not hash to
	// its file ID. Only a holder of the matter key can produce this: a bug
	// or a malicious member.
	ErrMalformed = errors.New("malformed payload")
)

// ErrUnsafePath: a path breaks the portable path rules (see ValidatePath).
// A manifest carrying such a path is also ErrMalformed.
var ErrUnsafePath = errors.New("unsafe path")
