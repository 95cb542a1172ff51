// Package gatewaytest makes real sealed chunks and manifests (format) for
// tests and benchmarks of the gateway, which checks their headers.
package gatewaytest

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mattersync/mattersync/format"
)

// Sealer seals objects for any matter under one random epoch-1 key.
type Sealer struct {
	key   []byte
	codec *format.Codec

	mu    sync.Mutex // guards keys and paths
	keys  map[string]*format.Keys
	paths map[format.ID]string
}

// NewSealer returns a Sealer, closed when t ends.
func NewSealer(t testing.TB) *Sealer {
	t.Helper()
	c, err := format.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	key := make([]byte, 32)
	rand.Read(key)
	return &Sealer{key: key, codec: c, keys: map[string]*format.Keys{}, paths: map[format.ID]string{}}
}

// Keys returns the matter's keys.
func (s *Sealer) Keys(t testing.TB, matter string) *format.Keys {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.keys[matter]; k != nil {
		return k
	}
	fk, err := format.DeriveFileIDKey(matter, s.key)
	if err != nil {
		t.Fatal(err)
	}
	k, err := format.DeriveKeys(fk, 1, s.key)
	if err != nil {
		t.Fatal(err)
	}
	s.keys[matter] = k
	return k
}

// Chunk seals size random (incompressible) bytes as a chunk of matter.
func (s *Sealer) Chunk(t testing.TB, matter string, size int) (format.ID, []byte) {
	t.Helper()
	plain := make([]byte, size)
	rand.Read(plain)
	return s.ChunkOf(t, matter, plain)
}

// ChunkOf seals plain as a chunk of matter.
func (s *Sealer) ChunkOf(t testing.TB, matter string, plain []byte) (format.ID, []byte) {
	t.Helper()
	k := s.Keys(t, matter)
	id := k.ChunkID(plain)
	sealed, err := s.codec.SealChunk(nil, k, id, plain)
	if err != nil {
		t.Fatal(err)
	}
	return id, sealed
}

// FileID returns the file ID of path in matter.
func (s *Sealer) FileID(t testing.TB, matter, path string) format.ID {
	t.Helper()
	id, err := s.Keys(t, matter).FileIDs().FileID(path)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// NewFile invents a path in matter and returns its file ID; ManifestOf
// seals manifests for it.
func (s *Sealer) NewFile(t testing.TB, matter string) format.ID {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	p := fmt.Sprintf("Briefs/%x.docx", b)
	id := s.FileID(t, matter, p)
	s.mu.Lock()
	s.paths[id] = p
	s.mu.Unlock()
	return id
}

// Path returns the path of a file made by NewFile.
func (s *Sealer) Path(t testing.TB, file format.ID) string {
	t.Helper()
	s.mu.Lock()
	p, ok := s.paths[file]
	s.mu.Unlock()
	if !ok {
		t.Fatalf("gatewaytest: file %s was not made by NewFile", file)
	}
	return p
}

// ManifestOf seals a manifest for version of a file made by NewFile.
func (s *Sealer) ManifestOf(t testing.TB, matter string, file format.ID, version uint64, chunks ...format.ID) []byte {
	t.Helper()
	return s.Manifest(t, matter, s.Path(t, file), version, chunks...)
}

// Manifest seals a manifest for version of the file at path, listing
// chunks (each given a nominal size).
func (s *Sealer) Manifest(t testing.TB, matter, path string, version uint64, chunks ...format.ID) []byte {
	t.Helper()
	m := &format.Manifest{Path: path, Version: version, ModTime: time.Now(), Mode: 0o644,
		ContentHash: sha256.Sum256([]byte(path)), Author: "test", Device: "TEST", Created: time.Now()}
	for _, c := range chunks {
		m.Chunks = append(m.Chunks, format.ChunkRef{ID: c, Size: 1000})
		m.Size += 1000
	}
	sealed, _, err := s.Keys(t, matter).SealManifest(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}

// Tombstone seals a deletion manifest (which the gateway refuses: deletes
// go through DELETE).
func (s *Sealer) Tombstone(t testing.TB, matter, path string, version uint64) []byte {
	t.Helper()
	m := &format.Manifest{Path: path, Version: version, Deleted: true, ModTime: time.Now(), Author: "test", Device: "TEST", Created: time.Now()}
	sealed, _, err := s.Keys(t, matter).SealManifest(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}
