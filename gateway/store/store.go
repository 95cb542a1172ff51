// Package store holds the values of the gateway's metadata store (chunks,
// file versions, legal holds, the deny list and reissue stamps) and the
// errors with which it refuses a change. The store's methods are not one
// interface here: package gateway defines each role it needs (ChunkStore,
// FileStore, HoldStore, EpochStore, UsageStore, DenyStore, AuditStore,
// Pinger) next to the handlers that use it, and gateway.Stores holds them
// all. Two implementations live in subfolders, sqlite (one gateway,
// embedded) and postgres (several replicas), sharing their queries in
// internal/sqlcore; storetest is the contract suite both pass.
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
	// Key is where the chunk's object is, when a replacement moved it
	// (ChunkReplacement); "" is the chunk's plain key.
	Key string
}

// ChunkReplacement records that a writer replaced a chunk's object, which
// failed verification on a reader, with a new one under a key of its own.
// The old object is kept. OldKey is the key the writer's check found (""
// for the plain key): the replacement happens only if it is still the
// chunk's.
type ChunkReplacement struct {
	Matter         string
	ID             format.ID
	OldKey, NewKey string
	OldSize        int64
	NewSize        int64
	OldSum, NewSum [32]byte
	Entity, Device string
	Time           time.Time
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
	// Epoch is the epoch in the sealed manifest's header, recorded with
	// the version. A commit below the matter's epoch is refused
	// (*StaleEpochError); a higher one is accepted and leaves the
	// matter's epoch as it is: only SetEpoch (the admin) raises it.
	Epoch uint32
	// Chunks are the chunk IDs the manifest references; each must be
	// stored. Duplicates are allowed.
	Chunks []format.ID
	Entity string
	// User is the committer's user name from the token: shown to
	// colleagues (versions, conflicts) where the entity ID means nothing.
	User   string
	Device string
	Time   time.Time
}

// Batch is what POST /v1/matters/{m}/batch asks of the store: chunks whose
// objects are stored, recorded first, then commits of distinct files of one
// matter, all in one transaction with one audit record per chunk and per
// commit (refused commits' records included). Each commit is checked as a
// single Commit is (Commit's path: head, matter, epoch, chunks) and is
// committed or refused on its own; only a failure of the store (or of a
// manifest write) fails the whole batch, and then nothing is committed.
type Batch struct {
	Matter  string
	Chunks  []BatchChunk
	Commits []BatchCommit
	// Refused amends the audit record of a commit the store refused (with
	// err), before it is appended with the others: its result and status.
	Refused func(err error, rec *audit.Record)
}

// BatchChunk is a chunk of a batch and what the request did with its
// object. Only a chunk the request stored (Stored) is recorded as the
// batch's own: commits may reference it without a presence check. A chunk
// whose object was in storage already though the matter had no record of
// it (Existed: blob.ErrExists, someone's upload whose record failed, or a
// planted object) is recorded as a chunk PUT records it, its Size the
// stored object's, and commits on it are refused with PresentChunksError
// (the writer opens it first). A chunk that is neither (the matter had it
// when the request looked: its body was dropped) is not recorded; commits
// on it are checked like commits on any stored chunk (it may have been
// collected since: MissingChunksError). Created is set by the store: true
// if this batch recorded the chunk.
type BatchChunk struct {
	Chunk   Chunk
	Rec     *audit.Record
	Stored  bool
	Existed bool
	Created bool
}

// BatchCommit is one commit of a batch. The store sets Version (committed)
// or Err (refused: the errors Commit returns, and *PresentChunksError).
type BatchCommit struct {
	Commit  Commit
	Write   WriteFunc
	Rec     *audit.Record
	Version Version
	Err     error
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
	// ChunkListSum is api.ChunkListSum of the chunks the version was
	// committed with; nil for versions committed before it was recorded.
	ChunkListSum []byte
	Entity       string
	User         string // "" for versions committed before it was recorded
	Device       string
	Time         time.Time
}

// Hold is a matter's legal hold.
type Hold struct {
	Matter    string
	On        bool
	Reason    string // why it was set or released (required for both)
	Case      string // the case or instruction reference, if given
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

// Push is a change another writer made, as a store that pushes them
// (PostgreSQL's LISTEN/NOTIFY) tells a replica, so it need not wait for
// its next poll of Counters.
type Push struct {
	Kind   PushKind
	Matter string // PushCommit's matter
}

// PushKind says what a Push is about.
type PushKind int

const (
	// PushDeny: the deny list or a reissue stamp changed.
	PushDeny PushKind = iota + 1
	// PushCommit: another replica committed to Matter.
	PushCommit
	// PushResync: the push connection was (re-)established; anything
	// may have changed unannounced before it.
	PushResync
)

// Errors a store returns when a request is refused.
var (
	ErrNotFound = errors.New("store: not found")
	// ErrChunkChanged refuses a chunk replacement whose chunk was
	// replaced meanwhile.
	ErrChunkChanged = errors.New("store: the chunk's object changed meanwhile")
	// ErrChunkReferenced refuses a chunk replacement when a committed
	// version references the chunk: the gateway cannot tell a good object
	// from a bad one, so history is never repointed.
	ErrChunkReferenced = errors.New("store: the chunk is referenced by committed versions")
	ErrLegalHold       = errors.New("store: matter is under legal hold")
	// ErrMatterClosed refuses a commit to a matter closed meanwhile (the
	// gateway checks before the request too; this is the check no
	// request in flight can slip past).
	ErrMatterClosed   = errors.New("store: matter is closed")
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

// PresentChunksError refuses a commit of a batch that references chunks
// whose bodies the batch carried but which the matter had already (stored
// by someone else): a writer must open such a chunk before committing on it
// (it may have been planted under the ID of this content), so the commit is
// left to a later request, after the writer checked them.
type PresentChunksError struct {
	IDs []format.ID
}

func (e *PresentChunksError) Error() string {
	return fmt.Sprintf("store: %d chunks sent with the commit were stored already; open them, then commit", len(e.IDs))
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
