package store

// Values of a matter's lifecycle: retention policies, purge and garbage
// collection batches, the queue of objects to delete from the bucket, and
// the runs of the lifecycle runner (docs/LIFECYCLE.md).

import (
	"errors"
	"fmt"
	"time"

	"github.com/mattersync/mattersync/format"
)

// Bounds of a retention policy: beyond them a policy is a typo.
const (
	MaxRetentionDays = 36500 // 100 years
	MaxMinVersions   = 10000
)

// Retention says how long a matter keeps what its files no longer show.
type Retention struct {
	// VersionsDays: a superseded version is kept this many days after
	// the version that superseded it was committed (0: purged at the
	// next run).
	VersionsDays int `json:"versions_days" yaml:"versions_days"`
	// MinVersions: the newest this many versions with content of every
	// file (the head included) are kept whatever their age, so a deleted
	// file keeps the version it can be restored to. At least 1.
	MinVersions int `json:"min_versions" yaml:"min_versions"`
	// DeletedDays: a deleted file (its head a tombstone) is kept, all its
	// versions, this many days after its deletion; then it is purged
	// whole.
	DeletedDays int `json:"deleted_days" yaml:"deleted_days"`
}

// Validate refuses a policy that makes no sense, naming the problem.
func (r Retention) Validate() error {
	var errs []error
	days := func(name string, v int) {
		if v < 0 || v > MaxRetentionDays {
			errs = append(errs, fmt.Errorf("%s must be from 0 to %d days, not %d", name, MaxRetentionDays, v))
		}
	}
	days("versions_days", r.VersionsDays)
	days("deleted_days", r.DeletedDays)
	if r.MinVersions < 1 || r.MinVersions > MaxMinVersions {
		errs = append(errs, fmt.Errorf("min_versions must be from 1 to %d, not %d: at least the current version of every file is kept", MaxMinVersions, r.MinVersions))
	}
	return errors.Join(errs...)
}

// MatterRetention is a matter's own retention policy, which replaces the
// firm's default for that matter.
type MatterRetention struct {
	Matter string
	Retention
	Reason string // why it was set (required)
	SetBy  string
	Time   time.Time
}

// Purge asks for one batch of a matter's purge: the files after After
// (by ID), at most Files of them, are looked at under Policy as of Now.
type Purge struct {
	Matter string
	Policy Retention
	Now    time.Time
	After  format.ID
	Files  int
	// DryRun counts what would be purged and changes nothing.
	DryRun bool
}

// PurgeResult is what one purge batch removed (or, dry, would remove).
type PurgeResult struct {
	Versions   int64 // superseded versions removed (tombstones included)
	Tombstones int64 // of which tombstones
	Files      int64 // deleted files removed whole (their versions counted above)
	// Objects and Bytes are the manifests queued for deletion from the
	// bucket (DoomedObject).
	Objects int64
	Bytes   int64
	// Next is the cursor of the next batch; Done says there is none.
	Next format.ID
	Done bool
	// Gone are, in a dry run, the versions the batch would purge: what
	// their chunks would free is counted with FreedBy.
	Gone []VersionRef
}

// VersionRef names one version of a file.
type VersionRef struct {
	File    format.ID
	Version int64
}

// Add adds b's counts to r.
func (r *PurgeResult) Add(b PurgeResult) {
	r.Versions += b.Versions
	r.Tombstones += b.Tombstones
	r.Files += b.Files
	r.Objects += b.Objects
	r.Bytes += b.Bytes
	r.Gone = append(r.Gone, b.Gone...)
}

// Collect asks for one batch of a matter's garbage collection: chunks
// after After (by ID) that no version references and that were stored
// before Before (the grace period), at most Limit of them.
type Collect struct {
	Matter string
	Before time.Time
	After  format.ID
	Limit  int
	DryRun bool
}

// CollectResult is what one batch collected (or, dry, would collect).
type CollectResult struct {
	Chunks  int64 // chunk records removed
	Objects int64 // objects queued for deletion (a replaced chunk has several)
	Bytes   int64
	Next    format.ID
	Done    bool
}

// Add adds b's counts to r.
func (r *CollectResult) Add(b CollectResult) {
	r.Chunks += b.Chunks
	r.Objects += b.Objects
	r.Bytes += b.Bytes
}

// KeyKind is what an object key names (blob.ParseKey).
type KeyKind int

// Kinds of object keys.
const (
	KeyOther    KeyKind = iota // not one the gateway builds: never deleted
	KeyChunk                   // m/<matter>/c/<chunk>[.<attempt>]
	KeyManifest                // m/<matter>/v/<file>/<version>[.<attempt>]
	KeyShare                   // m/<matter>/s/<share>: named by its share until it ended before the grace
	KeyDrop                    // m/<matter>/d/<drop>: named by its drop until it was delivered before the grace
)

// ObjectKey is an object in the bucket, as the gateway names it.
type ObjectKey struct {
	Key    string
	Matter string
	Kind   KeyKind
	ID     format.ID // the chunk or the file
	// Version is the file version of a manifest.
	Version int64
	// Plain is the key without an attempt suffix: the only keys written
	// again (a chunk uploaded again after it was collected).
	Plain bool
	Size  int64
	Time  time.Time // when it was stored
}

// Why an object is queued for deletion.
const (
	DoomPurge  = "purge"  // a purged version's manifest
	DoomGC     = "gc"     // a collected chunk
	DoomOrphan = "orphan" // an object no record names (a crash left it)
	DoomShred  = "shred"  // an object of a shredded matter
)

// DoomedObject is an object whose records are gone, queued for deletion
// from the bucket. The queue is what makes a purge or a collection
// complete when the bucket is unavailable: the records go in one
// transaction with the queue entries, the objects when the bucket answers.
type DoomedObject struct {
	ObjectKey
	Why  string
	Time time.Time // when it was queued
}

// ErrObjectGone refuses to record a chunk whose object is being deleted
// from the bucket (it was collected): the upload is to be sent again, and
// then stores a new object.
var ErrObjectGone = errors.New("store: the chunk's object is being deleted (collected as garbage): upload it again")

// WormState is how far a matter's objects carry the storage's legal hold
// (S3 Object Lock) that its hold asks for.
type WormState string

// States of a matter's storage legal hold.
const (
	WormNone     WormState = ""         // no hold, no legal hold on any object
	WormApplying WormState = "applying" // hold on: setting the legal hold on every object
	WormApplied  WormState = "applied"  // hold on: every object carries it
	WormClearing WormState = "clearing" // hold off: clearing it from every object
	WormFailed   WormState = "failed"   // the last pass failed (Worm.Error): the runner tries again
)

// Worm is the progress of the pass that sets (or clears) the storage's
// legal hold on a matter's objects: resumable from Cursor, the last key
// done.
type Worm struct {
	Matter string
	On     bool // the matter's hold: the pass sets legal holds, else clears them
	State  WormState
	// Gen counts the hold's changes: a pass started under another one
	// stops (WormProgress refuses it).
	Gen     int64
	Cursor  string
	Objects int64 // objects done so far in this pass
	Error   string
	Time    time.Time // when the state last changed
}

// MatterState is what the lifecycle runner needs of a matter.
type MatterState struct {
	Matter    string
	Hold      bool
	Retention *MatterRetention // nil: the firm's default
	Shredded  time.Time        // zero unless its storage was shredded
}

// Run kinds and states of the lifecycle runner's runs.
const (
	RunRequested = "requested"
	RunRunning   = "running"
	RunDone      = "done"
	RunFailed    = "failed"
)

// LifecycleRun is one run of purge and garbage collection, scheduled or
// asked for by an administrator, with its progress and result.
type LifecycleRun struct {
	ID          int64
	Matter      string // "" for every matter
	DryRun      bool
	RequestedBy string // "" for a scheduled run
	State       string
	Replica     string // the replica running it
	Progress    string // one line: what it is doing
	Summary     string // JSON of the result (lifecycle.Summary)
	Error       string
	Requested   time.Time
	Started     time.Time
	Updated     time.Time
}

// LifecycleUsage is what a matter's bytes are kept for.
type LifecycleUsage struct {
	LiveChunks, LiveChunkBytes int64 // chunks the current versions reference
	OldChunks, OldChunkBytes   int64 // chunks only superseded versions and deleted files reference
	Garbage, GarbageBytes      int64 // chunks no version references
	LiveManifests, LiveBytes   int64 // manifests of current versions (live files)
	OldManifests, OldBytes     int64 // manifests of the others
	Doomed, DoomedBytes        int64 // objects queued for deletion
}

// Shred is what shredding a matter's storage removed from the records.
type Shred struct {
	Matter   string
	Files    int64
	Versions int64
	Chunks   int64
	// Objects and Bytes are those the records named (the bucket may hold
	// more: orphans, and the deletion queue's).
	Objects int64
	Bytes   int64
	By      string
	Reason  string
	Time    time.Time
}

// ShredState is how far a shredded matter's storage is gone.
type ShredState struct {
	Matter  string
	By      string
	Reason  string
	Time    time.Time // when it was shredded (zero: it was not)
	Objects int64     // objects deleted from the bucket so far
	Bytes   int64
}

// Destruction is the signed record that a matter's storage is gone.
type Destruction struct {
	Matter string
	// Record is the JSON that was signed (lifecycle.DestructionRecord).
	Record    []byte
	KeyID     string
	Signature []byte
	Time      time.Time
}

// ErrShredded refuses a change to a matter whose storage was shredded.
var ErrShredded = errors.New("store: the matter was shredded")

// Closed is a matter's close (Time zero: open).
type Closed struct {
	Matter string
	Time   time.Time
	By     string
	Reason string
}
