package blob

// Objects kept under S3 Object Lock in compliance mode: the audit
// checkpoints' copies outside the database (package gateway/anchor). Until
// its retention date, no one can delete or overwrite such an object
// version, not even the bucket's root user.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"time"

	"github.com/minio/minio-go/v7"
)

// ObjectVersion is one version of an object, or a delete marker, as a
// listing shows it.
type ObjectVersion struct {
	Key          string
	VersionID    string
	Size         int64
	Modified     time.Time
	DeleteMarker bool
}

// CreateRetained stores body under key with compliance-mode retention
// until the given date, never replacing an existing object (ErrExists).
// The bucket must have Object Lock enabled.
func (s *Store) CreateRetained(ctx context.Context, key string, body []byte, until time.Time) error {
	sum := sha256.Sum256(body)
	opts := minio.PutObjectOptions{
		ContentType:          "application/json",
		UserMetadata:         map[string]string{"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(sum[:])},
		DisableMultipart:     true,
		DisableContentSha256: true,
		Mode:                 minio.Compliance,
		RetainUntilDate:      until.UTC(),
	}
	opts.SetMatchETagExcept("*")
	_, err := s.c.PutObject(ctx, s.bucket, key, bytes.NewReader(body), int64(len(body)), opts)
	if err != nil {
		if minio.ToErrorResponse(err).Code == "PreconditionFailed" {
			return fmt.Errorf("%w: %s", ErrExists, key)
		}
		return fmt.Errorf("blob: put retained %s: %w", key, err)
	}
	return nil
}

// Versions calls fn for every version of every object under prefix whose
// key sorts after startAfter ("" for all), delete markers included, in key
// order. It streams: a listing of millions holds one page at a time.
func (s *Store) Versions(ctx context.Context, prefix, startAfter string, fn func(ObjectVersion) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the listing if fn stops it
	for o := range s.c.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, StartAfter: startAfter, Recursive: true, WithVersions: true}) {
		if o.Err != nil {
			return fmt.Errorf("blob: list %s: %w", prefix, o.Err)
		}
		if err := fn(ObjectVersion{Key: o.Key, VersionID: o.VersionID, Size: o.Size, Modified: o.LastModified, DeleteMarker: o.IsDeleteMarker}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// ReadVersion reads one version of an object (versionID "" for the
// latest), at most limit bytes.
func (s *Store) ReadVersion(ctx context.Context, key, versionID string, limit int64) ([]byte, error) {
	obj, err := s.c.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{VersionID: versionID})
	if err != nil {
		return nil, fmt.Errorf("blob: get %s: %w", key, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(io.LimitReader(obj, limit+1))
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
		}
		return nil, fmt.Errorf("blob: get %s: %w", key, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("blob: %s is larger than %d bytes", key, limit)
	}
	return b, nil
}

// Retention returns an object version's Object Lock mode ("COMPLIANCE",
// "GOVERNANCE", or "" for none) and retention date.
func (s *Store) Retention(ctx context.Context, key, versionID string) (string, time.Time, error) {
	mode, until, err := s.c.GetObjectRetention(ctx, s.bucket, key, versionID)
	if err != nil {
		if c := minio.ToErrorResponse(err).Code; c == "NoSuchObjectLockConfiguration" || c == "ObjectLockConfigurationNotFoundError" {
			return "", time.Time{}, nil
		}
		return "", time.Time{}, fmt.Errorf("blob: retention of %s: %w", key, err)
	}
	var m string
	var u time.Time
	if mode != nil {
		m = string(*mode)
	}
	if until != nil {
		u = *until
	}
	return m, u, nil
}

// ObjectLockEnabled reports whether the bucket has Object Lock enabled
// (it can only be enabled when a bucket is created).
func (s *Store) ObjectLockEnabled(ctx context.Context) (bool, error) {
	enabled, _, _, _, err := s.c.GetObjectLockConfig(ctx, s.bucket)
	if err != nil {
		if c := minio.ToErrorResponse(err).Code; c == "ObjectLockConfigurationNotFoundError" || c == "NoSuchObjectLockConfiguration" {
			return false, nil
		}
		return false, fmt.Errorf("blob: object lock of bucket %s: %w", s.bucket, err)
	}
	return enabled == "Enabled", nil
}

// BucketName is the bucket's name.
func (s *Store) BucketName() string { return s.bucket }
