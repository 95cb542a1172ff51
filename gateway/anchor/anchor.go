// Package anchor keeps copies of the audit log's signed checkpoints outside
// the gateway's database, where whoever holds the database cannot remove
// them:
//
//   - S3: every checkpoint as an object under Object Lock in compliance
//     mode (retention from the config, e.g. 7 years), named by its record
//     and hash: <prefix><seq, 20 digits>-<hash>.json. Until the retention
//     date no one can delete or overwrite it, not even the bucket's root
//     user; a new version or a delete marker leaves it listed.
//   - Vault: the newest checkpoint (the head) in the KV v2 store, written
//     with check-and-set by a gateway whose Vault policy may only read and
//     write that one path (docs/EVIDENCE.md).
//
// Both are audit.Witness: `audit verify` compares the database with every
// copy (audit.Verify). The gateway writes each checkpoint it signs to both
// and, when it starts, checks that its database is not behind them.
package anchor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/blob"
)

// Encode is the JSON form of a checkpoint copy (what S3 and Vault hold).
func Encode(c audit.Checkpoint) ([]byte, error) { return json.Marshal(c) }

// Decode reads a checkpoint copy.
func Decode(b []byte) (audit.Checkpoint, error) {
	var c audit.Checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("anchor: not a checkpoint: %w", err)
	}
	return c, nil
}

// Objects is an Object Lock bucket as the S3 anchors use it (blob.Store).
type Objects interface {
	CreateRetained(ctx context.Context, key string, body []byte, until time.Time) error
	Versions(ctx context.Context, prefix, startAfter string, fn func(blob.ObjectVersion) error) error
	ReadVersion(ctx context.Context, key, versionID string, limit int64) ([]byte, error)
	ObjectLockEnabled(ctx context.Context) (bool, error)
}

// maxCopy bounds a copy's size when read back (a checkpoint is ~400 bytes).
const maxCopy = 64 << 10

// S3 keeps a copy of every checkpoint in an Object Lock bucket.
type S3 struct {
	objs      Objects
	bucket    string
	prefix    string
	retention time.Duration

	mu       sync.Mutex // guards warnings
	warnings []string   // of the last listing
}

// NewS3 keeps copies under prefix (e.g. "audit/checkpoints/") in bucket,
// each retained in compliance mode for retention after its checkpoint's
// time.
func NewS3(objs Objects, bucket, prefix string, retention time.Duration) *S3 {
	return &S3{objs: objs, bucket: bucket, prefix: prefix, retention: retention}
}

// Key is the object key of the copy of the checkpoint of record seq with
// hash h: keys sort by record.
func Key(prefix string, seq int64, h audit.Hash) string {
	return fmt.Sprintf("%s%020d-%s.json", prefix, seq, h)
}

// parseKey is the inverse of Key.
func parseKey(prefix, key string) (int64, audit.Hash, bool) {
	var h audit.Hash
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return 0, h, false
	}
	rest, ok = strings.CutSuffix(rest, ".json")
	num, hex, ok2 := strings.Cut(rest, "-")
	if !ok || !ok2 || len(num) != 20 {
		return 0, h, false
	}
	seq, err := strconv.ParseInt(num, 10, 64)
	if err != nil || seq < 1 || h.UnmarshalText([]byte(hex)) != nil {
		return 0, h, false
	}
	return seq, h, true
}

// Name implements audit.Witness.
func (a *S3) Name() string { return "s3://" + a.bucket + "/" + a.prefix }

// Check reports an error unless the bucket has Object Lock enabled: without
// it the copies could be deleted by whoever holds the S3 credentials.
func (a *S3) Check(ctx context.Context) error {
	ok, err := a.objs.ObjectLockEnabled(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("anchor: bucket %s does not have Object Lock enabled: create it with Object Lock (mc mb --with-lock, or aws s3api create-bucket --object-lock-enabled-for-bucket)", a.bucket)
	}
	return nil
}

// Put stores a copy of c, retained until c's time plus the retention. A
// copy already there is fine if it is the same checkpoint.
func (a *S3) Put(ctx context.Context, c audit.Checkpoint) error {
	body, err := Encode(c)
	if err != nil {
		return err
	}
	key := Key(a.prefix, c.Seq, c.Hash)
	// From now: a copy written late (or of an old checkpoint) must still
	// be kept the whole retention, and S3 refuses a date in the past.
	from := c.Time
	if now := time.Now(); from.Before(now) {
		from = now
	}
	err = a.objs.CreateRetained(ctx, key, body, from.Add(a.retention))
	if errors.Is(err, blob.ErrExists) {
		old, rerr := a.objs.ReadVersion(ctx, key, "", maxCopy)
		if rerr != nil {
			return fmt.Errorf("anchor: %s exists and cannot be read: %w", key, rerr)
		}
		if o, derr := Decode(old); derr != nil || o.Digest() != c.Digest() {
			return fmt.Errorf("anchor: s3://%s/%s already holds another checkpoint of record %d", a.bucket, key, c.Seq)
		}
		return nil
	}
	return err
}

// Witnessed implements audit.Witness: every version of every copy, in
// record order. Delete markers and objects that are not copies are noted
// in Warnings.
func (a *S3) Witnessed(ctx context.Context, fn func(*audit.Witnessed) error) error {
	return a.list(ctx, "", fn)
}

// Since calls fn for the copies of records from seq on.
func (a *S3) Since(ctx context.Context, seq int64, fn func(*audit.Witnessed) error) error {
	return a.list(ctx, fmt.Sprintf("%s%020d", a.prefix, seq), fn)
}

func (a *S3) list(ctx context.Context, startAfter string, fn func(*audit.Witnessed) error) error {
	var warn []string
	markers := 0
	err := a.objs.Versions(ctx, a.prefix, startAfter, func(v blob.ObjectVersion) error {
		if v.DeleteMarker {
			markers++
			if markers <= 10 {
				warn = append(warn, fmt.Sprintf("someone tried to delete s3://%s/%s at %s (a delete marker; the locked copy remains)", a.bucket, v.Key, v.Modified.UTC().Format(time.RFC3339)))
			}
			return nil
		}
		seq, h, ok := parseKey(a.prefix, v.Key)
		if !ok {
			if len(warn) < 20 {
				warn = append(warn, fmt.Sprintf("s3://%s/%s is not a checkpoint copy (ignored)", a.bucket, v.Key))
			}
			return nil
		}
		key, ver := v.Key, v.VersionID
		where := "s3://" + a.bucket + "/" + key
		if ver != "" && ver != "null" {
			where += "?versionId=" + ver
		}
		return fn(&audit.Witnessed{Seq: seq, Hash: h, Where: where, Stored: v.Modified,
			Open: func(ctx context.Context) (audit.Checkpoint, error) {
				b, err := a.objs.ReadVersion(ctx, key, ver, maxCopy)
				if err != nil {
					return audit.Checkpoint{}, err
				}
				return Decode(b)
			}})
	})
	if markers > 10 {
		warn = append(warn, fmt.Sprintf("%d delete markers in all under s3://%s/%s", markers, a.bucket, a.prefix))
	}
	a.mu.Lock()
	a.warnings = warn
	a.mu.Unlock()
	return err
}

// Warnings are what the last listing found besides copies.
func (a *S3) Warnings() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.warnings...)
}

// HeadStore keeps one value in Vault's KV v2 store with check-and-set
// (kms.AuditHead).
type HeadStore interface {
	// ReadHead returns the value and its KV version (nil and 0 if none).
	ReadHead(ctx context.Context) ([]byte, int, error)
	// WriteHead writes data if the current version is cas (0: none
	// yet); otherwise an error of kind fault.Conflict.
	WriteHead(ctx context.Context, data []byte, cas int) error
	// Where names the path, e.g. vault:mattersync/audit/head.
	Where() string
}

// BehindError is a checkpoint older than the head Vault holds. Unless
// another replica just signed that head, the database is behind its
// anchors (restored from an older copy, or its tail deleted).
type BehindError struct {
	Where string
	Head  audit.Checkpoint
	Seq   int64
}

func (e *BehindError) Error() string {
	return fmt.Sprintf("anchor: %s holds the checkpoint of record %d (hash %s), newer than the one of record %d written now",
		e.Where, e.Head.Seq, e.Head.Hash, e.Seq)
}

// Head keeps the newest checkpoint in Vault.
type Head struct {
	hs HeadStore
	// conflict reports whether an error is a lost check-and-set.
	conflict func(error) bool
}

// NewHead keeps the head in hs; conflict tells a lost check-and-set from
// other errors.
func NewHead(hs HeadStore, conflict func(error) bool) *Head {
	return &Head{hs: hs, conflict: conflict}
}

// Name implements audit.Witness.
func (h *Head) Name() string { return h.hs.Where() }

// Get returns the head (nil if none yet) and its KV version.
func (h *Head) Get(ctx context.Context) (*audit.Checkpoint, int, error) {
	b, ver, err := h.hs.ReadHead(ctx)
	if err != nil || b == nil {
		return nil, ver, err
	}
	c, err := Decode(b)
	if err != nil {
		return nil, ver, fmt.Errorf("anchor: %s: %w", h.hs.Where(), err)
	}
	return &c, ver, nil
}

// Put moves the head to c if c is newer than the head, else returns a
// *BehindError (or nil if the head is c). Replicas racing are ordered by
// check-and-set.
func (h *Head) Put(ctx context.Context, c audit.Checkpoint) error {
	body, err := Encode(c)
	if err != nil {
		return err
	}
	for range 5 {
		cur, ver, err := h.Get(ctx)
		if err != nil {
			return err
		}
		if cur != nil && cur.Seq >= c.Seq {
			if cur.Seq == c.Seq && cur.Digest() == c.Digest() {
				return nil
			}
			return &BehindError{Where: h.hs.Where(), Head: *cur, Seq: c.Seq}
		}
		err = h.hs.WriteHead(ctx, body, ver)
		if err == nil || !h.conflict(err) {
			return err
		}
	}
	return fmt.Errorf("anchor: %s: other writers kept moving the head", h.hs.Where())
}

// Witnessed implements audit.Witness: the head, if any.
func (h *Head) Witnessed(ctx context.Context, fn func(*audit.Witnessed) error) error {
	c, ver, err := h.Get(ctx)
	if err != nil || c == nil {
		return err
	}
	return fn(&audit.Witnessed{Seq: c.Seq, Hash: c.Hash, Where: fmt.Sprintf("%s (version %d)", h.hs.Where(), ver), Checkpoint: c})
}

// Since calls fn with the head if it is of record seq or later.
func (h *Head) Since(ctx context.Context, seq int64, fn func(*audit.Witnessed) error) error {
	return h.Witnessed(ctx, func(w *audit.Witnessed) error {
		if w.Seq < seq {
			return nil
		}
		return fn(w)
	})
}
