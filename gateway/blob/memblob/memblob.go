// Package memblob is an in-memory blob store with blob.Store's contract
// (gateway/blob/blobtest checks both against the same suite): for fast tests
// of the gateway and the agent that need no MinIO. Nothing is persisted.
package memblob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/mattersync/mattersync/gateway/blob"
)

// Store holds objects in memory. The zero value is not usable; use New.
type Store struct {
	mu      sync.Mutex // guards objects
	objects map[string][]byte
}

// New returns an empty Store.
func New() *Store { return &Store{objects: map[string][]byte{}} }

// Put stores exactly size bytes from r under key, if and only if their
// SHA-256 is sum; on any error an existing object is left as it was.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, sum [32]byte) error {
	return s.put(ctx, key, r, size, sum, false)
}

// Create is Put that never replaces an object: blob.ErrExists.
func (s *Store) Create(ctx context.Context, key string, r io.Reader, size int64, sum [32]byte) error {
	return s.put(ctx, key, r, size, sum, true)
}

func (s *Store) put(ctx context.Context, key string, r io.Reader, size int64, sum [32]byte, create bool) error {
	if size < 0 {
		return fmt.Errorf("memblob: put %s: size %d is negative", key, size)
	}
	// The whole body is read and checked before anything becomes visible,
	// as S3 does with a single-part PUT.
	body := make([]byte, size)
	if _, err := io.ReadFull(r, body); err != nil {
		return fmt.Errorf("memblob: put %s: body: %w", key, err)
	}
	if sha256.Sum256(body) != sum {
		return fmt.Errorf("%w: %s", blob.ErrChecksum, key)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memblob: put %s: %w", key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objects[key]; ok && create {
		return fmt.Errorf("%w: %s", blob.ErrExists, key)
	}
	s.objects[key] = body
	return nil
}

// Get opens the object under key. The caller closes it.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("memblob: get %s: %w", key, err)
	}
	s.mu.Lock()
	b, ok := s.objects[key]
	s.mu.Unlock()
	if !ok {
		return nil, 0, fmt.Errorf("%w: %s", blob.ErrNotFound, key)
	}
	// Stored slices are never written to again (Put replaces the slice),
	// so readers need no copy.
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}

// Size returns the size of the object under key, or blob.ErrNotFound.
func (s *Store) Size(ctx context.Context, key string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memblob: stat %s: %w", key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objects[key]
	if !ok {
		return 0, fmt.Errorf("%w: %s", blob.ErrNotFound, key)
	}
	return int64(len(b)), nil
}

// Ready always succeeds: memory is always there.
func (s *Store) Ready(context.Context) error { return nil }

// Keys lists the keys that start with prefix, sorted: tests look at what
// reached the storage (e.g. that no name or content is in clear).
func (s *Store) Keys(prefix string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k := range s.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
