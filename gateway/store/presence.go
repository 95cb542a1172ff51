package store

import (
	"errors"
	"time"

	"github.com/mattersync/mattersync/format"
)

// Presence is a document open on a device: the file's ID, never its name
// (docs/API.md, "Presence"). It lasts until Expires unless refreshed.
type Presence struct {
	Matter  string
	File    format.ID
	Entity  string
	User    string
	Device  string
	Since   time.Time
	Expires time.Time
}

// Bounds on one user's presences (SetPresence refuses a new one beyond
// them with ErrPresenceLimit): every replica holds every presence and
// every list answer may carry them, so a user (or a stolen token) under
// made-up device names must not grow them without bound. A lawyer has a
// handful of documents open; these are far above that.
const (
	MaxPresencesPerEntity       = 50
	MaxPresencesPerEntityMatter = 20
)

// ErrPresenceLimit: the user holds MaxPresencesPerEntity presences, or
// MaxPresencesPerEntityMatter in the matter, already.
var ErrPresenceLimit = errors.New("store: too many documents open by this user")
