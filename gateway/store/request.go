package store

import (
	"errors"
	"time"

	"github.com/mattersync/mattersync/format"
)

// Request is a file request (docs/SHARING.md, "Request files"): a link
// through which someone outside the firm, once they proved control of
// Recipient with a one-time code, uploads files to a matter. The request's
// X25519 public key travels in the link's fragment and is stored here only
// so members' agents can check what they unwrap; its private half is
// stored wrapped under a matter epoch key the gateway never holds.
type Request struct {
	ID        string // random, chosen by the gateway; the link's /r/<id>
	Matter    string
	Recipient string // the address that must prove control (lower case)
	Entity    string // the member who asked
	User      string
	Created   time.Time
	Expires   time.Time
	// MaxFiles, MaxFileBytes and MaxBytes bound the uploads: files, the
	// size of one drop object, and the drop objects' total. Files and
	// Bytes count what was uploaded.
	MaxFiles     int64
	MaxFileBytes int64
	MaxBytes     int64
	Files        int64
	Bytes        int64
	PublicKey    []byte // X25519, 32 bytes
	WrappedKey   []byte // format.WrapRequestKey's output
	// Revoked is when the request was revoked (zero: never), by whom and
	// why; an expired request is marked with reason "expired" and no one.
	Revoked      time.Time
	RevokedBy    string
	RevokeReason string
}

// Usable says why r can take no code or upload at now, or nil.
func (r Request) Usable(now time.Time) error {
	switch {
	case !r.Revoked.IsZero():
		return ErrRequestRevoked
	case !now.Before(r.Expires):
		return ErrRequestExpired
	case r.Files >= r.MaxFiles:
		return ErrRequestFull
	}
	return nil
}

// RequestFilter selects requests to list or revoke, like ShareFilter.
type RequestFilter struct {
	ID     string
	Matter string
	Entity string // the member who asked
}

// Drop is one file a client uploaded through a request: a drop object in
// the bucket (format.SealDrop's output), opaque to the gateway. A member's
// agent claims it, writes the file into the matter's Incoming folder and
// marks it done with the file ID it committed; a drop no member can open
// is marked with a problem and left for an administrator.
type Drop struct {
	ID        string // random, chosen by the gateway
	Request   string
	Matter    string
	Sender    string // the request's verified address
	Size      int64
	ObjectKey string
	Uploaded  time.Time
	// ClaimEntity and ClaimDevice hold the drop until ClaimUntil.
	ClaimEntity string
	ClaimDevice string
	ClaimUntil  time.Time
	// Done is when an agent committed the file (zero: not yet); File is
	// its file ID, DoneBy the agent's user.
	Done    time.Time
	File    format.ID
	DoneBy  string
	Problem string // why no agent could deliver it ("" none)
}

// Pending says whether d still waits for an agent: neither done nor left
// with a problem.
func (d Drop) Pending() bool { return d.Done.IsZero() && d.Problem == "" }

// DropClaim is an agent's claim on a drop.
type DropClaim struct {
	Drop   string
	Entity string
	Device string
	User   string
	Until  time.Time
}

// Errors refusing a request's use or a drop's claim.
var (
	ErrRequestRevoked = errors.New("store: the request was revoked")
	ErrRequestExpired = errors.New("store: the request has expired")
	ErrRequestFull    = errors.New("store: the request's files are used up")
	// ErrRequestTooLarge: the upload would pass the request's byte limits.
	ErrRequestTooLarge = errors.New("store: the upload passes the request's size limits")
	// ErrDropClaimed: another agent holds a live claim on the drop, or it
	// is done (or left with a problem) already.
	ErrDropClaimed = errors.New("store: the drop is claimed by another agent or finished")
)

// ReasonEpochRotated is the *ShareBlocked reason of a request whose
// private key is wrapped under an epoch older than the matter's: a member
// removed since may hold that epoch's key, so the request is revoked and
// its maker makes a new one (the words the request list shows them).
const ReasonEpochRotated = "the matter's key was rotated: make a new request"
