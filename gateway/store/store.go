// Package store defines the gateway's metadata store: chunks, file versions,
// per-matter sequence numbers, epochs and change feed, legal holds, the deny
// list and the audit chain. Two implementations live in subfolders: sqlite (one
// gateway, embedded) and postgres (several replicas); storetest is the
// contract suite both pass.
//
// Every mutating method takes the audit record of the request that causes it
// and appends it in the same transaction, so a change is never made without
// its record, and a record is never written for a change that did not happen.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/audit"
)

// Store is the gateway's metadata store. Implementations are safe for
// concurrent use.
type Store interface {
	// MissingChunks returns the IDs in ids that matter has no chunk for,
	// in the order given.
	MissingChunks(ctx context.Context, matter string, ids []format.ID) ([]format.ID, error)
	// Chunk returns a stored chunk, or ErrNotFound.
	Chunk(ctx context.Context, matter string, id format.ID) (Chunk, error)
	// PutChunk records a chunk whose blob is stored. created is false if
	// it was already recorded (the first size is kept).
	PutChunk(ctx context.Context, c Chunk, rec *audit.Record) (created bool, err error)

	// Commit creates version c.Base+1 of a file (see Commit) and raises
	// the matter's epoch to c.Epoch if that is higher. It returns
	// *VersionMismatchError, ErrAlreadyDeleted, *StaleEpochError,
	// ErrLegalHold or *MissingChunksError (checked in that order) when the
	// commit is refused.
	Commit(ctx context.Context, c Commit, write WriteFunc, rec *audit.Record) (Version, error)
	// Version returns one version of a file, the head when version is 0,
	// or ErrNotFound.
	Version(ctx context.Context, matter string, file format.ID, version int64) (Version, error)
	// Versions returns up to limit versions of a file older than before
	// (all when before is 0), newest first; ErrNotFound if the file has
	// none.
	Versions(ctx context.Context, matter string, file format.ID, before int64, limit int) ([]Version, error)
	// Changes returns up to limit versions of matter with Seq > since in
	// Seq order, and the matter's latest sequence number.
	Changes(ctx context.Context, matter string, since int64, limit int) ([]Version, int64, error)

	// Hold returns a matter's legal hold (Off if never set).
	Hold(ctx context.Context, matter string) (Hold, error)
	// SetHold sets or clears a matter's legal hold.
	SetHold(ctx context.Context, h Hold, rec *audit.Record) error
	// Usage counts what a matter stores.
	Usage(ctx context.Context, matter string) (Usage, error)

	// Epoch returns a matter's current epoch: the highest set by SetEpoch
	// or seen in a commit, 0 if none yet.
	Epoch(ctx context.Context, matter string) (uint32, error)
	// SetEpoch raises a matter's epoch to epoch and returns the one it
	// replaces. Epochs never go down: an epoch below the current one is
	// refused with *StaleEpochError; the current one again is a no-op
	// (still audited).
	SetEpoch(ctx context.Context, matter string, epoch uint32, rec *audit.Record) (previous uint32, err error)

	// DenyList returns every deny-list entry, oldest first, and the
	// generation it reflects.
	DenyList(ctx context.Context) ([]DenyEntry, int64, error)
	// AddDeny adds an entry and returns the deny generation after it.
	// created is false if the entity was already denied: the entry is left
	// as it was and rec is not written (nothing changed; the caller audits
	// the request with its own status).
	AddDeny(ctx context.Context, e DenyEntry, rec *audit.Record) (created bool, gen int64, err error)
	// RemoveDeny removes an entity's entry and returns the deny generation
	// after it; removed is false (and rec not written) if there was none.
	RemoveDeny(ctx context.Context, entity string, rec *audit.Record) (removed bool, gen int64, err error)
	// TokenFloors returns every entity's reissue stamp and the deny-list
	// generation it reflects.
	TokenFloors(ctx context.Context) ([]TokenFloor, int64, error)
	// SetTokenFloor makes the gateway refuse f.Entity's identity tokens
	// issued before f.NotBefore; a later stamp already set stays. It bumps
	// the deny-list generation (replicas reload both) and returns the stamp
	// in force and the generation after the change.
	SetTokenFloor(ctx context.Context, f TokenFloor, rec *audit.Record) (TokenFloor, int64, error)
	// Counters returns the change-feed and deny-list generations: they
	// grow with every commit and every deny-list change, so a replica that
	// polls them learns of other replicas' writes.
	Counters(ctx context.Context) (Counters, error)

	// AppendAudit links rec to the chain head and stores it.
	AppendAudit(ctx context.Context, rec *audit.Record) error
	// AuditHead returns the last record's sequence number and hash (0 and
	// zero hash for an empty chain).
	AuditHead(ctx context.Context) (int64, audit.Hash, error)
	// AuditRecords calls fn for each record matching q, in Seq order.
	AuditRecords(ctx context.Context, q audit.Query, fn func(*audit.Record) error) error
	// AddCheckpoint stores a signed checkpoint if the latest stored one is
	// the one it follows (c.PrevSeq; 0: none stored), atomically, so the
	// checkpoints of all replicas form one chain. Otherwise it stores
	// nothing and returns ErrCheckpointConflict (another replica signed
	// first: read the latest and sign again).
	AddCheckpoint(ctx context.Context, c audit.Checkpoint) error
	// LastCheckpoint returns the checkpoint with the highest Seq, or
	// ErrNotFound.
	LastCheckpoint(ctx context.Context) (audit.Checkpoint, error)
	// Checkpoints returns every checkpoint in Seq order.
	Checkpoints(ctx context.Context) ([]audit.Checkpoint, error)

	// Ping checks the store is reachable.
	Ping(ctx context.Context) error
	// Close releases the store.
	Close() error
}

// WriteFunc stores the blob of a new version before the commit is made
// durable, and returns the object key it wrote, which is recorded with the
// version (Version.ManifestKey). It runs while the store holds the file's
// commit lock, after every check passed, so a refused commit never writes a
// blob. The key must be new for every attempt: on PostgreSQL a commit whose
// session is lost mid-write releases the lock while its write may still
// land, after another replica committed the same version. It may amend the
// audit record (e.g. its Object). An error aborts the commit.
type WriteFunc func(ctx context.Context, version int64) (key string, err error)

// Chunk is a stored chunk.
type Chunk struct {
	Matter string
	ID     format.ID
	Size   int64
	Time   time.Time
}

// Commit asks for a new version of a file.
type Commit struct {
	Matter string
	File   format.ID
	// Base is the version the change started from (If-Match); 0 means the
	// file must not exist yet (If-None-Match: *). The new version is
	// Base+1.
	Base int64
	// Deleted makes the new version a tombstone: its manifest says so,
	// it references no chunks (Chunks is ignored), and it is refused under
	// legal hold or when the head is already a tombstone.
	Deleted bool
	// Size is the sealed manifest's size in bytes.
	Size int64
	// Epoch is the epoch in the sealed manifest's header. A commit below
	// the matter's epoch is refused (*StaleEpochError); a higher one
	// raises it. It is recorded with the version.
	Epoch uint32
	// Chunks are the chunk IDs the manifest references; each must be
	// stored. Duplicates are allowed.
	Chunks []format.ID
	Entity string
	Device string
	Time   time.Time
}

// Version is one version of a file.
type Version struct {
	Matter  string
	File    format.ID
	Version int64
	Seq     int64
	Deleted bool
	Size    int64
	Epoch   uint32 // 0 for tombstones recorded without a manifest (schema 1)
	// ManifestKey is the object key of the sealed manifest; "" for
	// versions written before keys were per attempt (the plain key).
	ManifestKey string
	Entity      string
	Device      string
	Time        time.Time
}

// Hold is a matter's legal hold.
type Hold struct {
	Matter    string
	On        bool
	Reason    string
	ChangedBy string
	Time      time.Time
}

// Usage counts what a matter stores.
type Usage struct {
	Chunks        int64
	ChunkBytes    int64
	Files         int64
	Versions      int64
	ManifestBytes int64
	Seq           int64
}

// DenyEntry keeps an entity out of the gateway.
type DenyEntry struct {
	Entity    string
	Name      string
	Reason    string
	CreatedBy string
	Time      time.Time
}

// TokenFloor is a reissue stamp: Entity's identity tokens issued before
// NotBefore are refused, so a caller whose groups changed must fetch a new
// token (which carries the new groups).
type TokenFloor struct {
	Entity    string
	NotBefore time.Time
	Reason    string
	SetBy     string
	Time      time.Time
}

// Counters are generation numbers that grow with writes.
type Counters struct {
	Changes int64
	Deny    int64
}

// Errors a store returns when a request is refused.
var (
	ErrNotFound       = errors.New("store: not found")
	ErrLegalHold      = errors.New("store: matter is under legal hold")
	ErrAlreadyDeleted = errors.New("store: file is already deleted")
	// ErrCheckpointConflict: the checkpoint does not follow the latest
	// stored one.
	ErrCheckpointConflict = errors.New("store: another checkpoint was stored first")
)

// VersionMismatchError refuses a commit whose base is not the head.
type VersionMismatchError struct {
	Current int64 // head version, 0 if the file does not exist
	Deleted bool  // the head is a tombstone
}

func (e *VersionMismatchError) Error() string {
	return fmt.Sprintf("store: version mismatch: current version is %d", e.Current)
}

// StaleEpochError refuses a commit or SetEpoch whose epoch is below the
// matter's current epoch.
type StaleEpochError struct {
	Current uint32 // the matter's epoch
	Got     uint32 // the refused epoch
}

func (e *StaleEpochError) Error() string {
	return fmt.Sprintf("store: epoch %d is below the matter's current epoch %d", e.Got, e.Current)
}

// MissingChunksError refuses a commit that references chunks the matter
// does not have.
type MissingChunksError struct {
	IDs []format.ID
}

func (e *MissingChunksError) Error() string {
	return fmt.Sprintf("store: %d referenced chunks are missing", len(e.IDs))
}

// Dedup returns ids without repeats, in first-seen order.
func Dedup(ids []format.ID) []format.ID {
	seen := make(map[format.ID]struct{}, len(ids))
	out := make([]format.ID, 0, len(ids))
	for _, id := range ids {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}

// Micros converts t to what the stores keep: Unix microseconds.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// FromMicros converts stored Unix microseconds back to UTC time.
func FromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
