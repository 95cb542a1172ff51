package api

import "time"

// ShareRequest is a member's request for a share link to one file version
// (POST /v1/matters/{m}/shares, sent as query parameters; the body is the
// sealed share object, format.SealShare's output, which the gateway stores
// unread).
type ShareRequest struct {
	File    string // file ID (64 hex)
	Version int64  // the file version shared (≥ 1)
	To      string // the recipient: one bare address, e.g. client@example.com
	// Expires is the share's lifetime (whole seconds are sent); 0: the
	// gateway's sharing.default_expiry.
	Expires time.Duration
	// MaxDownloads is how many downloads the share allows; 0: the
	// gateway's sharing.default_max_downloads.
	MaxDownloads int64
	// SHA256 is the share object's SHA-256, sent in HeaderChecksum; zero:
	// the client computes it, reading the body once and seeking back (the
	// body must then be an io.Seeker, e.g. an *os.File).
	SHA256 [32]byte
}

// Share is a share as the gateway answers it: to its creator (201, the
// first five fields) and in the admin listing (all of them).
type Share struct {
	ID           string    `json:"id"`
	URL          string    `json:"url"` // public_url + "/s/" + ID; the agent adds "#" + the key
	Recipient    string    `json:"recipient"`
	Expires      time.Time `json:"expires"`
	MaxDownloads int64     `json:"max_downloads"`

	Matter       string     `json:"matter,omitempty"`
	File         string     `json:"file,omitempty"`
	Version      int64      `json:"version,omitempty"`
	Size         int64      `json:"size,omitempty"`
	Downloads    int64      `json:"downloads"`
	CreatorID    string     `json:"creator_id,omitempty"` // entity
	Creator      string     `json:"creator,omitempty"`    // user name
	Created      time.Time  `json:"created"`
	State        ShareState `json:"state"`
	Revoked      *time.Time `json:"revoked,omitempty"`
	RevokedBy    string     `json:"revoked_by,omitempty"`
	RevokeReason string     `json:"revoke_reason,omitempty"`
}

// ShareState is whether a share can still release its object.
type ShareState string

// States of a share.
const (
	ShareOK      ShareState = "ok"
	ShareExpired ShareState = "expired"
	ShareRevoked ShareState = "revoked"
	ShareUsedUp  ShareState = "used_up"
)

// ShareList answers GET /v1/admin/shares.
type ShareList struct {
	Shares []Share `json:"shares"`
}

// ShareInfo answers the recipient's page (GET /s/{id}/info): enough to
// say whose address the code goes to, never the address itself, and
// nothing of the file.
type ShareInfo struct {
	RecipientHint string     `json:"recipient_hint"` // e.g. "c•••@example.com"
	Expires       time.Time  `json:"expires"`
	State         ShareState `json:"state"`
}

// ShareCodeSent answers POST /s/{id}/code: the code is on its way to the
// recipient, good until Expires.
type ShareCodeSent struct {
	RecipientHint string    `json:"recipient_hint"`
	Expires       time.Time `json:"expires"`
}

// ShareVerify is the body of POST /s/{id}/verify.
type ShareVerify struct {
	Code string `json:"code"` // the 6 digits mailed
}

// ShareGrant answers a verified code: one download of the share object
// (GET /s/{id}/object with "Authorization: Grant <grant>") until Expires.
type ShareGrant struct {
	Grant   string    `json:"grant"`
	Expires time.Time `json:"expires"`
}

// ShareRevokeRequest is the optional body of the share revocations.
type ShareRevokeRequest struct {
	Reason string `json:"reason,omitempty"`
}

// ShareRevocation answers a revocation: the shares it revoked (none if
// the share was revoked, or expired, already).
type ShareRevocation struct {
	Revoked []Share `json:"revoked"`
}

// Sharing policies of a matter.
const (
	SharingOn      = "on"
	SharingOff     = "off"
	SharingDefault = "default" // never set: the gateway's sharing.default
)

// SharingRequest is the body of PUT /v1/admin/matters/{m}/sharing.
type SharingRequest struct {
	Sharing string `json:"sharing"` // on or off
}

// Sharing is a matter's sharing policy: as set (on, off or default) and
// in effect (on or off: off whenever the gateway has no sharing: section).
type Sharing struct {
	Matter    string `json:"matter"`
	Sharing   string `json:"sharing"`
	Effective string `json:"effective"`
}

// GrantScheme is the Authorization scheme of a share download.
const GrantScheme = "Grant"
