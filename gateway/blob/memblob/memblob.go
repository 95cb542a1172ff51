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
	"time"

	"github.com/mattersync/mattersync/gateway/blob"
)

// Store holds objects in memory. The zero value is not usable; use New.
// It keeps one version of each key (a Put replaces it, with a new version
// ID), which is all the gateway writes.
type Store struct {
	// Now is the clock objects are stamped with (tests move it).
	Now func() time.Time

	mu      sync.Mutex // guards objects, next, locked, deletes
	objects map[string]*object
	next    int
	locked  bool // the bucket has Object Lock
	deletes int  // versions deleted, ever
}

type object struct {
	body    []byte // never written to again: Put replaces the object
	version string
	held    bool
	time    time.Time
}

// New returns an empty Store whose bucket has Object Lock, as the gateway
// expects (NewWithoutLock for one that has not).
func New() *Store { return &Store{objects: map[string]*object{}, locked: true, Now: time.Now} }

// NewWithoutLock returns an empty Store whose bucket has no Object Lock:
// legal holds fail with blob.ErrNoObjectLock.
func NewWithoutLock() *Store {
	s := New()
	s.locked = false
	return s
}

// Put stores exactly size bytes from r under key, if and only if their
// SHA-256 is sum; on any error an existing object is left as it was.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, sum [32]byte) error {
	return s.put(ctx, key, r, size, sum, false, false)
}

// Create is Put that never replaces an object: blob.ErrExists.
func (s *Store) Create(ctx context.Context, key string, r io.Reader, size int64, sum [32]byte) error {
	return s.put(ctx, key, r, size, sum, true, false)
}

func (s *Store) put(ctx context.Context, key string, r io.Reader, size int64, sum [32]byte, create, held bool) error {
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
	old, ok := s.objects[key]
	if ok && create {
		return fmt.Errorf("%w: %s", blob.ErrExists, key)
	}
	if ok && old.held {
		return fmt.Errorf("%w: %s", blob.ErrHeld, key)
	}
	if held && !s.locked {
		return fmt.Errorf("memblob: put %s: %w", key, blob.ErrNoObjectLock)
	}
	s.next++
	s.objects[key] = &object{body: body, version: fmt.Sprintf("v%d", s.next), held: held, time: s.Now().UTC()}
	return nil
}

// Get opens the object under key. The caller closes it.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("memblob: get %s: %w", key, err)
	}
	s.mu.Lock()
	o, ok := s.objects[key]
	s.mu.Unlock()
	if !ok {
		return nil, 0, fmt.Errorf("%w: %s", blob.ErrNotFound, key)
	}
	b := o.body
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
	o, ok := s.objects[key]
	if !ok {
		return 0, fmt.Errorf("%w: %s", blob.ErrNotFound, key)
	}
	return int64(len(o.body)), nil
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

// List calls fn for each object under prefix after startAfter, in key
// order (blob.Store.List).
func (s *Store) Versions(ctx context.Context, prefix, startAfter string, fn func(blob.ObjectVersion) error) error {
	s.mu.Lock()
	var vs []blob.ObjectVersion
	for k, o := range s.objects {
		if strings.HasPrefix(k, prefix) && k > startAfter {
			vs = append(vs, blob.ObjectVersion{Key: k, VersionID: o.version, Size: int64(len(o.body)), Modified: o.time})
		}
	}
	s.mu.Unlock()
	slices.SortFunc(vs, func(a, b blob.ObjectVersion) int { return strings.Compare(a.Key, b.Key) })
	for _, v := range vs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

// Versions returns the version of the object under key, if any.
func (s *Store) KeyVersions(ctx context.Context, key string) ([]blob.ObjectVersion, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	if !ok {
		return nil, nil
	}
	return []blob.ObjectVersion{{Key: key, VersionID: o.version, Size: int64(len(o.body)), Modified: o.time}}, nil
}

// Delete deletes the versions vs (blob.Store.Delete).
func (s *Store) Delete(ctx context.Context, vs []blob.ObjectVersion) []error {
	errs := make([]error, len(vs))
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, v := range vs {
		if err := ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		o, ok := s.objects[v.Key]
		switch {
		case !ok || o.version != v.VersionID:
		case o.held:
			errs[i] = fmt.Errorf("%w: %s", blob.ErrHeld, v.Key)
		default:
			delete(s.objects, v.Key)
			s.deletes++
		}
	}
	return errs
}

// CreateHeld is Create with a legal hold on the new object.
func (s *Store) CreateHeld(ctx context.Context, key string, r io.Reader, size int64, sum [32]byte) error {
	return s.put(ctx, key, r, size, sum, true, true)
}

// SetLegalHold sets or clears the legal hold of the object under key
// (versionID "" for the latest).
func (s *Store) SetLegalHold(ctx context.Context, key, versionID string, on bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.locked {
		return fmt.Errorf("memblob: %w", blob.ErrNoObjectLock)
	}
	o, ok := s.objects[key]
	if !ok || versionID != "" && o.version != versionID {
		return fmt.Errorf("%w: %s", blob.ErrNotFound, key)
	}
	o.held = on
	return nil
}

// LegalHold reports whether the object under key carries a legal hold.
func (s *Store) LegalHold(ctx context.Context, key, versionID string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	if !ok || versionID != "" && o.version != versionID {
		return false, fmt.Errorf("%w: %s", blob.ErrNotFound, key)
	}
	return o.held, nil
}

// ObjectLockEnabled reports whether the bucket has Object Lock (New: yes).
func (s *Store) ObjectLockEnabled(context.Context) (bool, error) { return s.locked, nil }

// Deletes counts the versions deleted so far: tests check that nothing was
// deleted.
func (s *Store) Deletes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deletes
}
