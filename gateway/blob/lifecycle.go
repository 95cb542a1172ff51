package blob

// What a matter's lifecycle asks of the bucket: reading back the keys the
// gateway built, listing and deleting object versions, and S3 Object Lock
// legal holds (docs/LIFECYCLE.md).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/mattersync/mattersync/format"
)

// KeyKind is what a key names.
type KeyKind int

// Kinds of keys.
const (
	KeyOther    KeyKind = iota // not a key the gateway builds
	KeyChunk                   // m/<matter>/c/<chunk>[.<attempt>]
	KeyManifest                // m/<matter>/v/<file>/<version>[.<attempt>]
	KeyShare                   // m/<matter>/s/<share> (ShareKey)
	KeyDrop                    // m/<matter>/d/<drop> (DropKey)
)

// Key is what a key the gateway built names.
type Key struct {
	Matter  string
	Kind    KeyKind
	ID      format.ID // the chunk, or the manifest's file
	Version int64     // the manifest's version
	Attempt string    // the suffix after the ID or version ("" for a plain key)
	Share   string    // the share's ID (KeyShare)
	Drop    string    // the drop's ID (KeyDrop)
}

// ParseKey reads a key ChunkKey, ManifestKey, ManifestAttemptKey,
// ShareKey or DropKey built, or a chunk's replacement key (the chunk key, '.', a
// request ID). Any other key is KeyOther, with only Matter set when it is
// under a matter.
func ParseKey(key string) Key {
	rest, ok := strings.CutPrefix(key, "m/")
	if !ok {
		return Key{}
	}
	matter, rest, ok := strings.Cut(rest, "/")
	if !ok || format.ValidateMatterID(matter) != nil {
		return Key{}
	}
	other := Key{Matter: matter}
	attempt := func(s string) (string, string, bool) {
		base, att, has := strings.Cut(s, ".")
		if has && (att == "" || len(att) > 64 || strings.Trim(att, "abcdefghijklmnopqrstuvwxyz0123456789") != "") {
			return "", "", false
		}
		return base, att, true
	}
	switch {
	case strings.HasPrefix(rest, "c/"):
		base, att, ok := attempt(rest[2:])
		id, err := format.ParseID(base)
		if !ok || err != nil {
			return other
		}
		return Key{Matter: matter, Kind: KeyChunk, ID: id, Attempt: att}
	case strings.HasPrefix(rest, "v/"):
		file, ver, ok := strings.Cut(rest[2:], "/")
		if !ok {
			return other
		}
		id, err := format.ParseID(file)
		base, att, ok := attempt(ver)
		if err != nil || !ok {
			return other
		}
		n, err := strconv.ParseInt(base, 10, 64)
		if err != nil || n < 1 || strconv.FormatInt(n, 10) != base {
			return other
		}
		return Key{Matter: matter, Kind: KeyManifest, ID: id, Version: n, Attempt: att}
	case strings.HasPrefix(rest, "s/"):
		id := rest[2:]
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			return other
		}
		return Key{Matter: matter, Kind: KeyShare, Share: id}
	case strings.HasPrefix(rest, "d/"):
		id := rest[2:]
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			return other
		}
		return Key{Matter: matter, Kind: KeyDrop, Drop: id}
	}
	return other
}

// MatterPrefix is the prefix of every key of matter.
func MatterPrefix(matter string) (string, error) {
	if err := format.ValidateMatterID(matter); err != nil {
		return "", fmt.Errorf("blob: %w", err)
	}
	return "m/" + matter + "/", nil
}

// ErrHeld is a deletion the storage refused: the object carries a legal
// hold (or a retention) of S3 Object Lock.
var ErrHeld = errors.New("blob: object is under legal hold (S3 Object Lock)")

// ErrNoObjectLock says the bucket was not created with S3 Object Lock, so
// the storage cannot enforce a legal hold.
var ErrNoObjectLock = errors.New("blob: the bucket has no S3 Object Lock: legal holds are not enforced by the storage")

// KeyVersions returns every version of the object under key (none if
// there is no such object), the newest first. ObjectVersion and Versions,
// the listing of a prefix, are in retained.go.
func (s *Store) KeyVersions(ctx context.Context, key string) ([]ObjectVersion, error) {
	var out []ObjectVersion
	err := s.Versions(ctx, key, "", func(v ObjectVersion) error {
		if v.Key == key {
			out = append(out, v)
		}
		return nil
	})
	return out, err
}

// Delete deletes the object versions vs, up to 1000 in one request, and
// returns one error per version, nil for a version deleted or already
// gone, wrapping ErrHeld for one the storage keeps under legal hold.
func (s *Store) Delete(ctx context.Context, vs []ObjectVersion) []error {
	errs := make([]error, len(vs))
	for start := 0; start < len(vs); start += 1000 {
		batch := vs[start:min(start+1000, len(vs))]
		idx := make(map[[2]string]int, len(batch))
		ch := make(chan minio.ObjectInfo, len(batch))
		for i, v := range batch {
			idx[[2]string{v.Key, v.VersionID}] = start + i
			ch <- minio.ObjectInfo{Key: v.Key, VersionID: v.VersionID}
		}
		close(ch)
		for e := range s.c.RemoveObjects(ctx, s.bucket, ch, minio.RemoveObjectsOptions{}) {
			err := deleteError(e.Err, e.ObjectName)
			i, ok := idx[[2]string{e.ObjectName, e.VersionID}]
			if !ok {
				// A failure not tied to one object: the whole batch.
				for j := range batch {
					if errs[start+j] == nil {
						errs[start+j] = err
					}
				}
				continue
			}
			errs[i] = err
		}
	}
	return errs
}

// deleteError classes a failed deletion of key.
func deleteError(err error, key string) error {
	if err == nil {
		return nil
	}
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.Code == "NoSuchKey" || resp.Code == "NoSuchVersion":
		return nil
	case resp.Code == "ObjectLocked", strings.Contains(strings.ToLower(resp.Message), "worm protected"),
		strings.Contains(strings.ToLower(resp.Message), "legal hold"):
		// MinIO answers AccessDenied "Object is WORM protected ...", AWS
		// AccessDenied or ObjectLocked naming the legal hold.
		return fmt.Errorf("%w: %s: %s", ErrHeld, key, resp.Message)
	}
	return fmt.Errorf("blob: delete %s (%s): %w", key, resp.Code, err)
}

// CreateHeld is Create, with an S3 legal hold on the new object: written
// while its matter is on hold.
func (s *Store) CreateHeld(ctx context.Context, key string, r io.Reader, size int64, sum [32]byte) error {
	return s.put(ctx, key, r, size, sum, true, true)
}

// SetLegalHold sets (on) or clears the S3 legal hold of one version of
// the object under key ("" for the latest). An object that is gone is
// ErrNotFound; a bucket without Object Lock is ErrNoObjectLock.
func (s *Store) SetLegalHold(ctx context.Context, key, versionID string, on bool) error {
	st := minio.LegalHoldDisabled
	if on {
		st = minio.LegalHoldEnabled
	}
	err := s.c.PutObjectLegalHold(ctx, s.bucket, key, minio.PutObjectLegalHoldOptions{VersionID: versionID, Status: &st})
	return legalHoldError(err, key)
}

// LegalHold reports whether one version of the object under key carries
// an S3 legal hold.
func (s *Store) LegalHold(ctx context.Context, key, versionID string) (bool, error) {
	st, err := s.c.GetObjectLegalHold(ctx, s.bucket, key, minio.GetObjectLegalHoldOptions{VersionID: versionID})
	if err != nil {
		if resp := minio.ToErrorResponse(err); resp.Code == "NoSuchObjectLockConfiguration" {
			return false, nil // never set on this object
		}
		return false, legalHoldError(err, key)
	}
	return st != nil && *st == minio.LegalHoldEnabled, nil
}

func legalHoldError(err error, key string) error {
	if err == nil {
		return nil
	}
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.Code == "NoSuchKey" || resp.Code == "NoSuchVersion":
		return fmt.Errorf("%w: %s", ErrNotFound, key)
	case resp.Code == "InvalidRequest" && strings.Contains(strings.ToLower(resp.Message), "object lock"),
		resp.Code == "ObjectLockConfigurationNotFoundError":
		return fmt.Errorf("%w (%s)", ErrNoObjectLock, resp.Message)
	}
	return fmt.Errorf("blob: legal hold %s: %w", key, err)
}
