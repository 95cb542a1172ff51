package api

import "time"

// RequestCreate is the body of POST /v1/matters/{m}/requests: a member
// asks for a file-request link (docs/SHARING.md, "Request files").
type RequestCreate struct {
	To string `json:"to"` // the client: one bare address
	// Expires is the request's lifetime in seconds (0: the gateway's
	// sharing.default_expiry); MaxFiles how many files it takes (0: the
	// gateway's sharing.requests.default_max_files).
	Expires  int64 `json:"expires,omitempty"`
	MaxFiles int64 `json:"max_files,omitempty"`
	// PublicKey is the request's X25519 public key and WrappedKey its
	// private key wrapped under the matter's current epoch key
	// (format.WrapRequestKey), both base64url without padding. The
	// gateway stores them for members' agents; the link carries the
	// public key in its fragment, and the page seals to that one.
	PublicKey  string `json:"public_key"`
	WrappedKey string `json:"wrapped_key"`
}

// RequestState is whether a request still takes uploads.
type RequestState string

// States of a request.
const (
	RequestOK      RequestState = "ok"
	RequestExpired RequestState = "expired"
	RequestRevoked RequestState = "revoked"
	RequestFull    RequestState = "full" // its files are used up
)

// Request is a file request as the gateway answers it: to its maker (201)
// and in the admin listing.
type Request struct {
	ID           string       `json:"id"`
	URL          string       `json:"url"` // public_url + "/r/" + ID; the agent adds "#" + the public key
	Recipient    string       `json:"recipient"`
	Matter       string       `json:"matter"`
	Expires      time.Time    `json:"expires"`
	MaxFiles     int64        `json:"max_files"`
	MaxFileBytes int64        `json:"max_file_bytes"`
	MaxBytes     int64        `json:"max_bytes"`
	Files        int64        `json:"files"`
	Bytes        int64        `json:"bytes"`
	CreatorID    string       `json:"creator_id,omitempty"`
	Creator      string       `json:"creator,omitempty"`
	Created      time.Time    `json:"created"`
	State        RequestState `json:"state"`
	Revoked      *time.Time   `json:"revoked,omitempty"`
	RevokedBy    string       `json:"revoked_by,omitempty"`
	RevokeReason string       `json:"revoke_reason,omitempty"`
}

// RequestList answers GET /v1/admin/requests.
type RequestList struct {
	Requests []Request `json:"requests"`
}

// RequestRevocation answers a request's revocation: the requests it
// revoked (none if it was revoked, or expired, already).
type RequestRevocation struct {
	Revoked []Request `json:"revoked"`
}

// RequestInfo answers the client's page (GET /r/{id}/info): who asked,
// whose address the code goes to (a hint), and the limits.
type RequestInfo struct {
	Requester     string       `json:"requester"` // the member's user name
	RecipientHint string       `json:"recipient_hint"`
	Expires       time.Time    `json:"expires"`
	State         RequestState `json:"state"`
	MaxFiles      int64        `json:"max_files"`
	Files         int64        `json:"files"`
	MaxFileBytes  int64        `json:"max_file_bytes"`
	MaxBytes      int64        `json:"max_bytes"`
	Bytes         int64        `json:"bytes"`
}

// RequestGrant answers a verified code on a request page: uploads (POST
// /r/{id}/drops with "Authorization: Grant <grant>") until Expires.
type RequestGrant struct {
	Grant   string    `json:"grant"`
	Expires time.Time `json:"expires"`
}

// DropUploaded answers an upload (201): the drop's ID and what the
// request has taken so far.
type DropUploaded struct {
	ID       string `json:"id"`
	Files    int64  `json:"files"`
	MaxFiles int64  `json:"max_files"`
	Bytes    int64  `json:"bytes"`
	MaxBytes int64  `json:"max_bytes"`
}

// Drop is a client's upload as members' agents see it (GET
// /v1/matters/{m}/drops, a claim): with the request's public key and
// wrapped private key, to open it.
type Drop struct {
	ID         string     `json:"id"`
	Matter     string     `json:"matter,omitempty"` // in the admin listing
	Request    string     `json:"request"`
	Sender     string     `json:"sender"` // the request's verified address
	Size       int64      `json:"size"`
	Uploaded   time.Time  `json:"uploaded"`
	PublicKey  string     `json:"public_key,omitempty"`  // base64url (not in the admin listing)
	WrappedKey string     `json:"wrapped_key,omitempty"` // base64url (not in the admin listing)
	ClaimUntil *time.Time `json:"claim_until,omitempty"`
	Done       *time.Time `json:"done,omitempty"`
	File       string     `json:"file,omitempty"` // the file ID delivered
	Problem    string     `json:"problem,omitempty"`
}

// DropList answers GET /v1/matters/{m}/drops: the pending drops, oldest
// first (at most 100); and GET /v1/admin/drops: the drops not delivered,
// pending or left with a problem.
type DropList struct {
	Drops []Drop `json:"drops"`
}

// DropDone is the body of POST /v1/matters/{m}/drops/{id}/done: the file
// ID the agent committed the drop's file as, or the problem that left it
// undelivered (for an administrator).
type DropDone struct {
	File    string `json:"file,omitempty"`
	Problem string `json:"problem,omitempty"`
}
