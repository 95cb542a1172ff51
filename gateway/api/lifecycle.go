package api

// Wire types of a matter's lifecycle: retention policies, what a matter's
// storage is kept for, and the runs of purge and garbage collection
// (docs/LIFECYCLE.md).

import (
	"encoding/json"
	"time"
)

// RetentionRequest is the body of PUT /v1/admin/matters/{m}/retention
// (the policy and why) and of DELETE .../retention (why the matter goes
// back to the firm's default: the policy fields are left out).
type RetentionRequest struct {
	VersionsDays *int   `json:"versions_days,omitempty"`
	MinVersions  *int   `json:"min_versions,omitempty"`
	DeletedDays  *int   `json:"deleted_days,omitempty"`
	Reason       string `json:"reason"`
}

// Retention is a matter's retention policy as the gateway applies it.
type Retention struct {
	Matter string `json:"matter"`
	// VersionsDays: superseded versions are kept this many days after
	// they were superseded; MinVersions: the newest this many versions
	// with content of every file are kept whatever their age;
	// DeletedDays: a deleted file is kept (restorable) this many days.
	VersionsDays int `json:"versions_days"`
	MinVersions  int `json:"min_versions"`
	DeletedDays  int `json:"deleted_days"`
	// Source is "matter" (set for this matter) or "firm" (the gateway
	// config's default).
	Source string    `json:"source"`
	Reason string    `json:"reason,omitempty"`
	SetBy  string    `json:"set_by,omitempty"`
	Time   time.Time `json:"time,omitzero"`
	// Hold: the matter is on legal hold, and nothing is purged whatever
	// the policy says.
	Hold bool `json:"hold"`
}

// Retention sources.
const (
	RetentionMatter = "matter"
	RetentionFirm   = "firm"
)

// Storage answers GET /v1/admin/matters/{m}/storage: what a matter's bytes
// in the bucket are kept for.
type Storage struct {
	Matter string `json:"matter"`
	// Live: the current versions of the files that are not deleted.
	LiveObjects int64 `json:"live_objects"`
	LiveBytes   int64 `json:"live_bytes"`
	// Old: superseded versions and deleted files, kept by retention.
	OldObjects int64 `json:"old_objects"`
	OldBytes   int64 `json:"old_bytes"`
	// Garbage: chunks no version references, collected after the grace
	// period (GraceHours).
	GarbageObjects int64 `json:"garbage_objects"`
	GarbageBytes   int64 `json:"garbage_bytes"`
	// Queued: objects whose records are gone, to delete from the bucket.
	QueuedObjects int64 `json:"queued_objects"`
	QueuedBytes   int64 `json:"queued_bytes"`
	// HeldObjects: objects under the legal hold (every object, while the
	// matter is on hold).
	HeldObjects int64 `json:"held_objects"`
	Hold        bool  `json:"hold"`
	GraceHours  int64 `json:"grace_hours"`
}

// RunRequest is the body of POST /v1/admin/storage/runs: a run of purge
// and garbage collection, over every matter or one.
type RunRequest struct {
	Matter string `json:"matter,omitempty"`
	// DryRun counts what the run would remove and changes nothing.
	DryRun bool `json:"dry_run"`
}

// Run is a run of purge and garbage collection, as POST and GET
// /v1/admin/storage/runs[/{id}] answer it.
type Run struct {
	ID          int64     `json:"id"`
	Matter      string    `json:"matter,omitempty"`
	DryRun      bool      `json:"dry_run"`
	RequestedBy string    `json:"requested_by,omitempty"` // "" for a scheduled run
	State       string    `json:"state"`                  // requested, running, done, failed
	Replica     string    `json:"replica,omitempty"`
	Progress    string    `json:"progress,omitempty"`
	Error       string    `json:"error,omitempty"`
	Requested   time.Time `json:"requested"`
	Started     time.Time `json:"started,omitzero"`
	Updated     time.Time `json:"updated,omitzero"`
	// Summary is the run's result once done.
	Summary *RunSummary `json:"summary,omitempty"`
}

// RunSummary is what a run did (or, dry, would do).
type RunSummary struct {
	Matters int `json:"matters"`
	// Held are the matters skipped: on legal hold.
	Held []string `json:"held,omitempty"`
	// Purged: superseded versions (tombstones among them) and deleted
	// files removed whole; their manifests' bytes.
	PurgedVersions   int64 `json:"purged_versions"`
	PurgedTombstones int64 `json:"purged_tombstones"`
	PurgedFiles      int64 `json:"purged_files"`
	PurgedBytes      int64 `json:"purged_bytes"`
	// Collected: chunks no kept version references, their objects and
	// bytes.
	CollectedChunks  int64 `json:"collected_chunks"`
	CollectedObjects int64 `json:"collected_objects"`
	CollectedBytes   int64 `json:"collected_bytes"`
	// Orphans: objects no record named (left by crashes).
	Orphans     int64 `json:"orphans"`
	OrphanBytes int64 `json:"orphan_bytes"`
	// Deleted: objects deleted from the bucket (bytes reclaimed).
	Deleted      int64 `json:"deleted"`
	DeletedBytes int64 `json:"deleted_bytes"`
	// Refused: deletions the legal hold stopped (the storage's, or a hold
	// set during the run); Failed: deletions that failed otherwise, tried
	// again by the next run.
	Refused int64 `json:"refused"`
	Failed  int64 `json:"failed"`
	// Queued: objects still to delete after the run.
	Queued      int64    `json:"queued"`
	QueuedBytes int64    `json:"queued_bytes"`
	Errors      []string `json:"errors,omitempty"`
	// Seconds the run took.
	Seconds float64 `json:"seconds"`
}

// Run states.
const (
	RunRequested = "requested"
	RunRunning   = "running"
	RunDone      = "done"
	RunFailed    = "failed"
)

// Runs answers GET /v1/admin/storage/runs: the latest runs, newest first.
type Runs struct {
	Runs []Run `json:"runs"`
}

// HoldStorage answers GET /v1/admin/matters/{m}/hold/storage: how far the
// matter's objects carry the storage's legal hold (S3 Object Lock) that
// its hold asks for.
type HoldStorage struct {
	Matter string `json:"matter"`
	On     bool   `json:"on"` // the matter's hold
	// State: "" (no object held), applying, applied, clearing, failed
	// (Error says why; the gateway tries again).
	State   string    `json:"state"`
	Objects int64     `json:"objects"` // objects done in the current pass
	Error   string    `json:"error,omitempty"`
	Updated time.Time `json:"updated,omitzero"`
}

// Storage legal hold states.
const (
	HoldStorageNone     = ""
	HoldStorageApplying = "applying"
	HoldStorageApplied  = "applied"
	HoldStorageClearing = "clearing"
	HoldStorageFailed   = "failed"
)

// ShredRequest is the body of POST /v1/admin/matters/{m}/shred.
type ShredRequest struct {
	Reason string `json:"reason"`
}

// Shred answers POST and GET /v1/admin/matters/{m}/shred: a matter's
// shredded storage, and how far it is gone.
type Shred struct {
	Matter   string    `json:"matter"`
	Shredded time.Time `json:"shredded,omitzero"` // zero: not shredded
	By       string    `json:"by,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	// Removed from the records (POST only).
	Files    int64 `json:"files,omitempty"`
	Versions int64 `json:"versions,omitempty"`
	Chunks   int64 `json:"chunks,omitempty"`
	// Deleted from the bucket so far.
	DeletedObjects int64 `json:"deleted_objects"`
	DeletedBytes   int64 `json:"deleted_bytes"`
	// Run is the run that deletes its objects (POST only).
	Run int64 `json:"run,omitempty"`
	// Destruction is the signed destruction record, once no object of
	// the matter is left.
	Destruction *Destruction `json:"destruction,omitempty"`
}

// Destruction is a signed destruction record: Record (JSON, as signed:
// matter, shredded_at, shredded_by, reason, objects_destroyed,
// bytes_destroyed, completed_at, gateway) signed with the gateway's audit
// key (KeyID, as in checkpoints) over "mattersync destruction record v1\n"
// followed by Record.
type Destruction struct {
	Record    json.RawMessage `json:"record"`
	KeyID     string          `json:"key_id"`
	Signature []byte          `json:"signature"`
}
