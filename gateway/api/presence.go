package api

import "time"

// Presence: who has a document open (docs/API.md, "Presence"). The agent
// that sees an Office owner file or a LibreOffice lock file next to a
// synced document tells the gateway the document's file ID (never its
// name); colleagues' agents mark their copy read-only while it is open.

// PresenceRequest opens or refreshes a presence (PUT
// /v1/matters/{m}/presence/{file}).
type PresenceRequest struct {
	// TTLSeconds is how long the presence lasts without a refresh,
	// MinPresenceTTL to MaxPresenceTTL seconds; 0: DefaultPresenceTTL.
	TTLSeconds int `json:"ttl_seconds,omitempty"`
}

// Bounds of a presence's lifetime, in seconds.
const (
	MinPresenceTTL     = 1
	MaxPresenceTTL     = 600
	DefaultPresenceTTL = 90
)

// PresenceAnswer answers an open, refresh or close.
type PresenceAnswer struct {
	Matter string `json:"matter"`
	FileID string `json:"file_id"`
	// Open is whether the presence is in force after the request; Opened
	// that this request opened it (false: a refresh, or a close).
	Open    bool      `json:"open"`
	Opened  bool      `json:"opened,omitempty"`
	Since   time.Time `json:"since,omitzero"`
	Expires time.Time `json:"expires,omitzero"`
}

// OpenDocument is one presence: a document open by a user on a device.
type OpenDocument struct {
	Matter string `json:"matter"`
	FileID string `json:"file_id"`
	Entity string `json:"entity"`
	// User is the user name of the token that opened it.
	User   string    `json:"user"`
	Device string    `json:"device"`
	Since  time.Time `json:"since"`
}

// PresenceList answers GET /v1/presence: every document open on the
// caller's matters. Tag changes whenever the list does; sent back as
// since, it makes the gateway wait for a change.
type PresenceList struct {
	Tag  string         `json:"tag"`
	Open []OpenDocument `json:"open"`
}
