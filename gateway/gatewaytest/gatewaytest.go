// Package gatewaytest is what tests and benchmarks need around a gateway:
// Start runs one in-process (on fakes by default, or on the real
// PostgreSQL, MinIO and Vault), and Sealer makes real sealed chunks and
// manifests (format), whose headers the gateway checks.
package gatewaytest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mattersync/mattersync/format"
)

// Sealer seals objects for any matter. Each matter is sealed under epoch 1
// until UseEpoch moves it on; epoch keys are random per Sealer.
type Sealer struct {
	key   []byte // epoch 1 key of every matter; later epochs derive from it
	codec *format.Codec

	mu     sync.Mutex // guards keys, epochs and paths
	keys   map[matterEpoch]*format.Keys
	epochs map[string]uint32 // matter -> epoch sealed under (absent: 1)
	paths  map[format.ID]string
}

type matterEpoch struct {
	matter string
	epoch  uint32
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
	return &Sealer{key: key, codec: c, keys: map[matterEpoch]*format.Keys{}, epochs: map[string]uint32{}, paths: map[format.ID]string{}}
}

// UseEpoch makes later objects of matter sealed under epoch (≥ 1), as an
// agent does once it has fetched the epoch key after a rotation.
func (s *Sealer) UseEpoch(matter string, epoch uint32) {
	s.mu.Lock()
	s.epochs[matter] = epoch
	s.mu.Unlock()
}

// Epoch returns the epoch matter is sealed under.
func (s *Sealer) Epoch(matter string) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.epochs[matter]; ok {
		return e
	}
	return 1
}

// Keys returns the matter's keys of the epoch it is sealed under.
func (s *Sealer) Keys(t testing.TB, matter string) *format.Keys {
	t.Helper()
	return s.KeysAt(t, matter, s.Epoch(matter))
}

// KeysAt returns the matter's keys of epoch.
func (s *Sealer) KeysAt(t testing.TB, matter string, epoch uint32) *format.Keys {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.keys[matterEpoch{matter, epoch}]; k != nil {
		return k
	}
	// File IDs come from the epoch 1 key in every epoch (FORMAT.md
	// section 3).
	fk, err := format.DeriveFileIDKey(matter, s.key)
	if err != nil {
		t.Fatal(err)
	}
	ek := s.key
	if epoch != 1 {
		h := sha256.New()
		h.Write(s.key)
		h.Write(binary.BigEndian.AppendUint32(nil, epoch))
		ek = h.Sum(nil)
	}
	k, err := format.DeriveKeys(fk, epoch, ek)
	if err != nil {
		t.Fatal(err)
	}
	s.keys[matterEpoch{matter, epoch}] = k
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
// and TombstoneOf seal manifests for it.
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

// TombstoneOf seals the deletion manifest that makes version of a file
// made by NewFile: the body of a DELETE on top of version-1.
func (s *Sealer) TombstoneOf(t testing.TB, matter string, file format.ID, version uint64) []byte {
	t.Helper()
	return s.Tombstone(t, matter, s.Path(t, file), version)
}

// Tombstone seals a deletion manifest for version of the file at path.
func (s *Sealer) Tombstone(t testing.TB, matter, path string, version uint64) []byte {
	t.Helper()
	m := &format.Manifest{Path: path, Version: version, Deleted: true, ModTime: time.Now(), Author: "test", Device: "TEST", Created: time.Now()}
	sealed, _, err := s.Keys(t, matter).SealManifest(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}
