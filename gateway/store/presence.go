package store

import (
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
