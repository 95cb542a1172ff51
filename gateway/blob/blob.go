// Package blob is the only code that talks to S3. It stores chunks and
// sealed manifests under keys it builds itself from validated IDs:
//
//	m/<matter>/c/<chunkID>
//	m/<matter>/v/<fileID>/<version>
//	m/<matter>/s/<shareID>
//	m/<matter>/d/<dropID>
//
// Every PUT is one single-part request whose body S3 checks against the
// SHA-256 the caller states (x-amz-checksum-sha256) before the object becomes
// visible: a body that is cut short, longer, or different is refused as a
// whole, and nothing half-written is ever readable. Single-part PUTs cap an
// object at 5 GiB, far above the largest chunk.
package blob

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/mattersync/mattersync/format"
)

// Config locates the bucket.
type Config struct {
	Endpoint  string // host:port
	Bucket    string
	Region    string
	AccessKey string
	SecretKey string
	Secure    bool // HTTPS to S3
	// Transport overrides the HTTP transport (tests, custom CAs).
	Transport http.RoundTripper
}

// Store is an S3 bucket holding mattersync blobs.
type Store struct {
	c      *minio.Client
	bucket string
}

// Errors Put, Create and Get return.
var (
	ErrNotFound = errors.New("blob: not found")
	ErrChecksum = errors.New("blob: body does not match its checksum")
	ErrExists   = errors.New("blob: object exists")
)

// New returns a Store for cfg. It does not contact S3; see Ready.
func New(cfg Config) (*Store, error) {
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    cfg.Secure,
		Region:    cfg.Region,
		Transport: cfg.Transport,
		// Lets a PUT carry a caller-supplied x-amz-checksum-* header.
		TrailingHeaders: true,
	})
	if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	return &Store{c: c, bucket: cfg.Bucket}, nil
}

// ChunkKey is the object key of a chunk.
func ChunkKey(matter string, id format.ID) (string, error) {
	if err := format.ValidateMatterID(matter); err != nil {
		return "", fmt.Errorf("blob: %w", err)
	}
	return "m/" + matter + "/c/" + id.String(), nil
}

// ManifestKey is the object key of a file version's sealed manifest.
func ManifestKey(matter string, file format.ID, version int64) (string, error) {
	if err := format.ValidateMatterID(matter); err != nil {
		return "", fmt.Errorf("blob: %w", err)
	}
	if version < 1 {
		return "", fmt.Errorf("blob: version %d is not positive", version)
	}
	return "m/" + matter + "/v/" + file.String() + "/" + strconv.FormatInt(version, 10), nil
}

// ManifestAttemptKey is the key of one commit attempt's manifest for a
// version: m/<matter>/v/<file>/<version>.<attempt>, attempt being 1 to 64
// of a-z and 0-9 (random per attempt), so an attempt that lost its commit
// never overwrites the manifest of the one that won.
func ManifestAttemptKey(matter string, file format.ID, version int64, attempt string) (string, error) {
	key, err := ManifestKey(matter, file, version)
	if err != nil {
		return "", err
	}
	if attempt == "" || len(attempt) > 64 || strings.Trim(attempt, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		return "", fmt.Errorf("blob: attempt %q is not 1 to 64 of a-z, 0-9", attempt)
	}
	return key + "." + attempt, nil
}

// ShareKey is the object key of a share object (docs/SHARING.md): id is
// the share's ID, 32 lowercase hex characters.
func ShareKey(matter, id string) (string, error) {
	if err := format.ValidateMatterID(matter); err != nil {
		return "", fmt.Errorf("blob: %w", err)
	}
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		return "", fmt.Errorf("blob: share ID %q is not 32 lowercase hex characters", id)
	}
	return "m/" + matter + "/s/" + id, nil
}

// DropKey is where a client's upload through a file request (a drop
// object) is kept: m/<matter>/d/<id>, id a drop's 32 lowercase hex.
func DropKey(matter, id string) (string, error) {
	k, err := ShareKey(matter, id)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(k, "/s/"+id) + "/d/" + id, nil
}

// Put stores exactly size bytes from r under key, if and only if their
// SHA-256 is sum. On any error nothing is stored (an existing object under
// key is left as it was).
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, sum [32]byte) error {
	return s.put(ctx, key, r, size, sum, false, false)
}

// Create is Put that never replaces an object: if key exists it returns
// ErrExists (S3 conditional write, If-None-Match: *), so immutable objects
// stay as first written even when two uploads race.
func (s *Store) Create(ctx context.Context, key string, r io.Reader, size int64, sum [32]byte) error {
	return s.put(ctx, key, r, size, sum, true, false)
}

func (s *Store) put(ctx context.Context, key string, r io.Reader, size int64, sum [32]byte, create, held bool) error {
	opts := minio.PutObjectOptions{
		ContentType: "application/octet-stream",
		UserMetadata: map[string]string{
			"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(sum[:]),
		},
		// One request, no multipart: atomic visibility.
		DisableMultipart: true,
		// S3 verifies the stated SHA-256; hashing again for the
		// signature would double the CPU cost for nothing.
		DisableContentSha256: true,
	}
	if create {
		opts.SetMatchETagExcept("*")
	}
	if held {
		opts.LegalHold = minio.LegalHoldEnabled
	}
	_, err := s.c.PutObject(ctx, s.bucket, key, r, size, opts)
	if err != nil {
		switch minio.ToErrorResponse(err).Code {
		case "BadDigest", "XAmzContentChecksumMismatch", "XAmzContentSHA256Mismatch", "InvalidDigest":
			return fmt.Errorf("%w: %s", ErrChecksum, key)
		case "PreconditionFailed":
			if create {
				return fmt.Errorf("%w: %s", ErrExists, key)
			}
		}
		return fmt.Errorf("blob: put %s: %w", key, err)
	}
	return nil
}

// Get opens the object under key. The caller closes it.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	obj, err := s.c.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, fmt.Errorf("blob: get %s: %w", key, err)
	}
	// Stat issues the request, so a missing object fails here rather than
	// on the first Read, after the response headers went out.
	info, err := obj.Stat()
	if err != nil {
		obj.Close()
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil, 0, fmt.Errorf("%w: %s", ErrNotFound, key)
		}
		return nil, 0, fmt.Errorf("blob: get %s: %w", key, err)
	}
	return obj, info.Size, nil
}

// Size returns the size of the object under key, or ErrNotFound.
func (s *Store) Size(ctx context.Context, key string) (int64, error) {
	info, err := s.c.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err == nil {
		return info.Size, nil
	}
	if minio.ToErrorResponse(err).Code == "NoSuchKey" {
		return 0, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return 0, fmt.Errorf("blob: stat %s: %w", key, err)
}

// Ready checks that the bucket exists and the credentials work.
func (s *Store) Ready(ctx context.Context) error {
	ok, err := s.c.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	if !ok {
		return fmt.Errorf("blob: bucket %q does not exist", s.bucket)
	}
	return nil
}
