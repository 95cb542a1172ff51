// Package api is the wire contract of the gateway's HTTP API: header names,
// error codes and the JSON bodies, shared by the gateway and its client so
// the two cannot drift apart. docs/API.md describes the routes.
package api

import (
	"crypto/sha256"
	"strconv"
	"strings"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/internal/fault"
)

// Headers the gateway reads or sets besides the standard ones.
const (
	// HeaderDevice names the caller's device (e.g. "LAPTOP-7"): 1 to
	// MaxDeviceLen printable ASCII characters. Optional; recorded in the
	// audit log.
	HeaderDevice = "X-Mattersync-Device"
	// HeaderChecksum carries the SHA-256 of a chunk body as 64 lowercase hex
	// characters. Required on chunk PUT; the storage verifies it before the
	// object becomes visible.
	HeaderChecksum = "X-Mattersync-Checksum-Sha256"
	// HeaderReplaces, on a chunk PUT, asks to replace the stored chunk,
	// which failed verification, with the body: it carries the SHA-256 of
	// the stored object found bad (64 lowercase hex characters), and the
	// gateway replaces only that object (docs/API.md).
	HeaderReplaces = "X-Mattersync-Replaces"
	// HeaderRequestID is set on every response; the same ID is in the
	// request's audit record and log line.
	HeaderRequestID = "X-Request-Id"
)

// MaxDeviceLen bounds the device header.
const MaxDeviceLen = 64

// ValidDevice reports whether s is acceptable as a device header value.
func ValidDevice(s string) bool {
	if len(s) == 0 || len(s) > MaxDeviceLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// ETag returns the entity tag of a file version: the decimal version in
// double quotes.
func ETag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ParseETag parses an entity tag written by ETag. A bare decimal is
// accepted too; weak tags, lists and "*" are not.
func ParseETag(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if s == "" || len(s) > 18 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 1 {
		return 0, false
	}
	return v, true
}

// Code is the stable, machine-readable reason in an error body.
type Code string

// Error codes. Each maps to exactly one HTTP status (see docs/API.md).
const (
	CodeInvalidRequest       Code = "invalid_request"       // 400
	CodeChecksumMismatch     Code = "checksum_mismatch"     // 400
	CodeIncompleteBody       Code = "incomplete_body"       // 400
	CodeUnauthenticated      Code = "unauthenticated"       // 401
	CodeForbidden            Code = "forbidden"             // 403
	CodeRevoked              Code = "revoked"               // 403: entity is on the deny list
	CodeNotFound             Code = "not_found"             // 404
	CodeMethodNotAllowed     Code = "method_not_allowed"    // 405
	CodeMissingChunks        Code = "missing_chunks"        // 409
	CodeChunksPresent        Code = "chunks_present"        // 409: a batch sent chunks stored already: open them, then commit
	CodeLegalHold            Code = "legal_hold"            // 409
	CodeAlreadyDeleted       Code = "already_deleted"       // 409
	CodeStaleEpoch           Code = "stale_epoch"           // 409: sealed under an epoch below the matter's current one
	CodeMatterClosed         Code = "matter_closed"         // 410: the matter is closed: no writes, no sync
	CodeLengthRequired       Code = "length_required"       // 411
	CodeVersionMismatch      Code = "version_mismatch"      // 412
	CodeTooLarge             Code = "too_large"             // 413
	CodeFileTooLarge         Code = "file_too_large"        // 413: the commit describes a file over the gateway's max_file_size
	CodePreconditionRequired Code = "precondition_required" // 428
	CodeRateLimited          Code = "rate_limited"          // 429
	CodeInternal             Code = "internal"              // 500
	CodeUnavailable          Code = "unavailable"           // 503

	// Sharing (docs/SHARING.md): what the recipient's page shows.
	CodeSharingOff   Code = "sharing_off"   // 403: the gateway or the matter does not share
	CodeShareExpired Code = "share_expired" // 410
	CodeShareRevoked Code = "share_revoked" // 410
	CodeShareUsedUp  Code = "share_used_up" // 410: its downloads are used up
	CodeCodeWrong    Code = "code_wrong"    // 403: wrong, used or expired one-time code
	CodeCodeLimit    Code = "code_limit"    // 429: too many codes sent or tried this hour (Retry-After)
	CodeGrantInvalid Code = "grant_invalid" // 403: the download capability is unknown, used or expired

	// File requests (docs/SHARING.md, "Request files").
	CodeRequestExpired Code = "request_expired" // 410
	CodeRequestRevoked Code = "request_revoked" // 410
	CodeRequestFull    Code = "request_full"    // 410: its files are used up
	CodeDropClaimed    Code = "drop_claimed"    // 409: another agent holds the drop, or it is finished
)

// Fault is the kind of failure c stands for, in the vocabulary kms shares
// (internal/fault): a caller maps refusals of the gateway and of Vault the
// same way. Codes not listed (internal) are fault.Other.
func (c Code) Fault() fault.Kind {
	switch c {
	case CodeInvalidRequest, CodeChecksumMismatch, CodeIncompleteBody, CodeMethodNotAllowed,
		CodeLengthRequired, CodeTooLarge, CodeFileTooLarge, CodePreconditionRequired:
		return fault.Invalid
	case CodeUnauthenticated:
		return fault.Unauthenticated
	case CodeForbidden, CodeRevoked, CodeSharingOff, CodeCodeWrong, CodeGrantInvalid:
		return fault.Denied
	case CodeNotFound:
		return fault.NotFound
	case CodeMissingChunks, CodeChunksPresent, CodeAlreadyDeleted, CodeVersionMismatch, CodeDropClaimed:
		return fault.Conflict
	case CodeLegalHold, CodeStaleEpoch, CodeMatterClosed, CodeShareExpired, CodeShareRevoked, CodeShareUsedUp,
		CodeRequestExpired, CodeRequestRevoked, CodeRequestFull:
		return fault.Refused
	case CodeRateLimited, CodeUnavailable, CodeCodeLimit:
		return fault.Unavailable
	}
	return fault.Other
}

// Error is the body of every non-2xx response.
type Error struct {
	Code      Code   `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
	// CurrentVersion is set with version_mismatch: the file's head version,
	// 0 when the file does not exist. CurrentDeleted says the head is a
	// tombstone.
	CurrentVersion *int64 `json:"current_version,omitempty"`
	CurrentDeleted bool   `json:"current_deleted,omitempty"`
	// Missing is set with missing_chunks: the first (at most 1000)
	// referenced chunk IDs the gateway does not have.
	Missing []string `json:"missing,omitempty"`
	// Present is set with chunks_present: the chunks a batch sent that
	// the matter had already (at most 1000).
	Present []string `json:"present,omitempty"`
	// CurrentEpoch is set with stale_epoch: the matter's current epoch.
	// An agent fetches that epoch's key and seals again.
	CurrentEpoch uint32 `json:"current_epoch,omitempty"`
	// Revocation is set with revoked when the request carried
	// HeaderRevocationNonce: the gateway's signed statement.
	Revocation *Revocation `json:"revocation,omitempty"`
}

// Role is a caller's access to one matter.
type Role string

// Roles. A screened caller has no role at all on that matter.
const (
	RoleRead  Role = "ro"
	RoleWrite Role = "rw"
)

// Matter is one matter the caller may access.
type Matter struct {
	ID   string `json:"id"`
	Role Role   `json:"role"`
}

// WhoAmI answers GET /v1/matters.
type WhoAmI struct {
	Entity  string   `json:"entity"`
	User    string   `json:"user"`
	Admin   bool     `json:"admin"`
	Matters []Matter `json:"matters"`
	// Closed are the closed matters among the caller's, and those it was
	// a member of: agents stop syncing them (on_matter_closed).
	Closed []ClosedMatter `json:"closed,omitempty"`
}

// ClosedMatter is a closed matter as the gateway tells its agents and
// administrators (POST/GET /v1/admin/matters/{m}/close).
type ClosedMatter struct {
	ID     string    `json:"id"`
	Closed time.Time `json:"closed"`
	By     string    `json:"by,omitempty"`
	Reason string    `json:"reason,omitempty"`
}

// CloseRequest is the body of POST /v1/admin/matters/{m}/close.
type CloseRequest struct {
	Reason string `json:"reason"`
}

// MissingRequest is the body of POST /v1/matters/{m}/chunks/missing.
type MissingRequest struct {
	IDs []string `json:"ids"`
}

// MissingResponse lists the requested chunk IDs the gateway does not have,
// in request order.
type MissingResponse struct {
	Missing []string `json:"missing"`
}

// ChunkPut answers a chunk PUT: Created is false when the chunk was
// already stored (the body was not read).
type ChunkPut struct {
	ID      string `json:"id"`
	Size    int64  `json:"size"`
	Created bool   `json:"created"`
	// Replaced is set when the body replaced a stored chunk
	// (HeaderReplaces).
	Replaced bool `json:"replaced,omitempty"`
}

// CommitRequest is the body of PUT /v1/matters/{m}/files/{fileID}, and of
// DELETE on the same path (a sealed tombstone manifest and no chunks).
// Manifest is the sealed manifest (base64 in JSON), opaque to the gateway.
// Chunks lists, in clear, every chunk ID the manifest references: the
// gateway refuses the commit if one is missing and keeps the references for
// garbage collection.
type CommitRequest struct {
	Manifest []byte   `json:"manifest"`
	Chunks   []string `json:"chunks"`
}

// Commit answers a commit or a delete.
type Commit struct {
	FileID  string `json:"file_id"`
	Version int64  `json:"version"`
	Seq     int64  `json:"seq"`
	Deleted bool   `json:"deleted"`
}

// BatchRequest is the body of POST /v1/matters/{m}/batch: chunks to store
// (each sealed, as a chunk PUT's body) and commits of distinct files, each
// as a commit PUT would make it (Base 0: a new file, If-None-Match: *).
type BatchRequest struct {
	Chunks  []BatchChunk  `json:"chunks"`
	Commits []BatchCommit `json:"commits"`
}

// BatchChunk is a sealed chunk of a batch.
type BatchChunk struct {
	ID     string `json:"id"`
	Sealed []byte `json:"sealed"`
}

// BatchCommit is one commit of a batch.
type BatchCommit struct {
	FileID   string   `json:"file_id"`
	Base     int64    `json:"base"`
	Manifest []byte   `json:"manifest"`
	Chunks   []string `json:"chunks"`
}

// BatchResponse answers a batch: each chunk (Created false: the matter had
// it, the body was not kept) and each commit, in request order.
type BatchResponse struct {
	Chunks  []ChunkPut    `json:"chunks"`
	Commits []BatchResult `json:"commits"`
}

// BatchResult is one commit's outcome: Status 201 with Version and Seq, or
// the status and error body a single commit would have answered.
type BatchResult struct {
	FileID  string `json:"file_id"`
	Status  int    `json:"status"`
	Version int64  `json:"version,omitempty"`
	Seq     int64  `json:"seq,omitempty"`
	Error   *Error `json:"error,omitempty"`
}

// FileVersion is one version of a file. Manifest is set only by
// GET .../files/{fileID}: the sealed manifest, a tombstone's included
// (tombstones recorded before deletes carried one have none, and size 0).
// Epoch is the epoch in the manifest's header when it was committed (0 for
// those old tombstones): a reader can refuse a manifest sealed under
// another epoch than the one the gateway saw.
type FileVersion struct {
	FileID  string    `json:"file_id"`
	Version int64     `json:"version"`
	Seq     int64     `json:"seq"`
	Deleted bool      `json:"deleted"`
	Size    int64     `json:"size"`
	Epoch   uint32    `json:"epoch,omitempty"`
	Time    time.Time `json:"time"`
	// ChunkListSHA256 is ChunkListSum of the chunk list the version was
	// committed with, in hex; "" for versions committed before the gateway
	// recorded it. A reader checks that the manifest lists exactly these
	// chunks: the gateway's references, which garbage collection keeps,
	// are then the manifest's.
	ChunkListSHA256 string `json:"chunk_list_sha256,omitempty"`
	// AuthorEntity and AuthorName are who committed the version, from the
	// token the gateway verified (the name "" for versions committed before
	// it was recorded). The manifest's sealed author is the entity; a
	// reader shows the name only when the two agree.
	AuthorEntity string `json:"author_entity,omitempty"`
	AuthorName   string `json:"author_name,omitempty"`
	// Manifest comes last: the gateway streams it after the other fields.
	Manifest []byte `json:"manifest,omitempty"`
}

// ChunkListSum is the SHA-256 of a chunk list: the 32-byte IDs in order,
// duplicates included, concatenated.
func ChunkListSum(ids []format.ID) [32]byte {
	h := sha256.New()
	for _, id := range ids {
		h.Write(id[:])
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// Versions answers GET .../files/{fileID}/versions: newest first.
type Versions struct {
	FileID   string        `json:"file_id"`
	Versions []FileVersion `json:"versions"`
}

// Change is one entry of a matter's change feed.
type Change struct {
	Seq     int64  `json:"seq"`
	FileID  string `json:"file_id"`
	Version int64  `json:"version"`
	Deleted bool   `json:"deleted"`
}

// Changes answers GET /v1/matters/{m}/changes. Head is the matter's latest
// sequence number when the answer was made; More says another page is
// waiting (ask again with since = the last Seq).
type Changes struct {
	Changes []Change `json:"changes"`
	Head    int64    `json:"head"`
	More    bool     `json:"more"`
}

// FeedRequest is the body of POST /v1/feed: one cursor per matter the
// agent syncs, so one long poll covers them all.
type FeedRequest struct {
	Matters []FeedCursor `json:"matters"`
}

// FeedCursor asks for news of Matter past sequence number Since.
type FeedCursor struct {
	Matter string `json:"matter"`
	Since  int64  `json:"since"`
	// Drops, if set, is how many drops (file-request uploads) of the
	// matter the agent knows of: the feed answers the matter when the
	// gateway has more (an agent of an rw member delivers them).
	Drops *int64 `json:"drops,omitempty"`
}

// Feed answers POST /v1/feed: the matters of the request whose head is
// not their Since (past it: changes to fetch with GET …/changes; below
// it: the feed went back), and the closed ones. Empty when the wait
// passed with no news.
type Feed struct {
	Matters []FeedMatter `json:"matters"`
}

// FeedMatter is one matter's news: its head, or that it was closed.
type FeedMatter struct {
	Matter string `json:"matter"`
	Head   int64  `json:"head"`
	Closed bool   `json:"closed,omitempty"`
	// Drops is the matter's drop count, answered to a cursor that asked.
	Drops *int64 `json:"drops,omitempty"`
}

// DenyRequest is the body of POST /v1/admin/deny.
type DenyRequest struct {
	EntityID string `json:"entity_id"`
	Name     string `json:"name"`
	Reason   string `json:"reason"`
}

// DenyEntry is one entry of the deny list.
type DenyEntry struct {
	EntityID  string    `json:"entity_id"`
	Name      string    `json:"name"`
	Reason    string    `json:"reason"`
	CreatedBy string    `json:"created_by"`
	Time      time.Time `json:"time"`
}

// DenyList answers GET /v1/admin/deny: the denied entities, and the
// entities whose older identity tokens are refused (reissue stamps).
type DenyList struct {
	Entries []DenyEntry `json:"entries"`
	Reissue []Reissue   `json:"reissue"`
}

// ReissueRequest is the (optional) body of POST
// /v1/admin/deny/{entity}/reissue.
type ReissueRequest struct {
	Reason string `json:"reason"`
}

// Reissue is a reissue stamp: the entity's identity tokens issued before
// NotBefore are refused (401), so its devices fetch new ones, which carry
// its current groups.
type Reissue struct {
	EntityID  string    `json:"entity_id"`
	NotBefore time.Time `json:"not_before"`
	Reason    string    `json:"reason"`
	SetBy     string    `json:"set_by"`
	Time      time.Time `json:"time"`
}

// HoldRequest is the body of PUT /v1/admin/matters/{m}/hold.
// It is also the body of DELETE .../hold: releasing a hold needs a reason
// too.
type HoldRequest struct {
	Reason string `json:"reason"`
	// Case is the case or instruction reference (optional).
	Case string `json:"case,omitempty"`
}

// Hold is a matter's legal-hold state.
type Hold struct {
	Matter    string    `json:"matter"`
	On        bool      `json:"on"`
	Reason    string    `json:"reason,omitempty"`
	Case      string    `json:"case,omitempty"`
	ChangedBy string    `json:"changed_by,omitempty"`
	Time      time.Time `json:"time,omitzero"`
}

// Holds answers GET /v1/admin/holds: every matter on legal hold.
type Holds struct {
	Holds []Hold `json:"holds"`
}

// HoldHistory answers GET /v1/admin/matters/{m}/hold/history: every hold
// on and off, oldest first.
type HoldHistory struct {
	Matter  string `json:"matter"`
	History []Hold `json:"history"`
}

// EpochRequest is the body of PUT /v1/admin/matters/{m}/epoch.
type EpochRequest struct {
	Epoch uint32 `json:"epoch"`
}

// Epoch is a matter's current epoch at the gateway: uploads sealed under
// an older one are refused with stale_epoch. 0 means the gateway has seen
// none yet. Previous is set by PUT: the epoch before the call.
type Epoch struct {
	Matter   string `json:"matter"`
	Epoch    uint32 `json:"epoch"`
	Previous uint32 `json:"previous,omitempty"`
}

// Usage answers GET /v1/admin/matters/{m}/usage.
type Usage struct {
	Matter        string `json:"matter"`
	Chunks        int64  `json:"chunks"`
	ChunkBytes    int64  `json:"chunk_bytes"`
	Files         int64  `json:"files"`
	Versions      int64  `json:"versions"`
	ManifestBytes int64  `json:"manifest_bytes"`
	Seq           int64  `json:"seq"`
}

// Health answers /healthz and /readyz.
type Health struct {
	Status string            `json:"status"` // "ok" or "unavailable"
	Checks map[string]string `json:"checks,omitempty"`
}
