package format

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/mattersync/mattersync/format/internal/wire"
)

// Manifest limits (FORMAT.md, "Manifests").
const (
	// MaxManifestSize bounds the encoded manifest (the sealed payload).
	// With 36 bytes per chunk it holds ~466,000 chunks: a file of at
	// least 228 GiB even if every chunk had the minimum size.
	MaxManifestSize = 16 << 20
	// MaxNameLen bounds Author and Device.
	MaxNameLen = 255
	// MaxFileVersion keeps versions in a signed 64-bit database column.
	MaxFileVersion = math.MaxInt64
	// manifestPad: the encoding is zero-padded to a multiple of this, so
	// that sealed sizes reveal path lengths only to within 256 bytes.
	manifestPad = 256
	// PermMask is the set of mode bits a manifest may carry.
	PermMask = 0o777
)

// Manifest is one version of one file.
type Manifest struct {
	// Path is the matter-relative path, NFC, '/'-separated (NormalizePath).
	// It determines the file ID: FileIDKey.FileID(Path).
	Path string
	// Version is this version's number, ≥ 1. Its parent is Version-1 (0:
	// none, the file is new). The manifest is sealed for this version and
	// the gateway stores it only as the version after the current head.
	Version uint64
	// Deleted marks a tombstone: no chunks, Size 0.
	Deleted bool
	// Size is the file size in bytes, the sum of the chunk sizes.
	Size uint64
	// ModTime is the file's modification time.
	ModTime time.Time
	// Mode holds permission bits (PermMask); writers should honour at most
	// the owner's executable bit.
	Mode uint32
	// ContentHash is SHA-256 of the whole file content. It is independent
	// of chunking and epoch, so "same content" is decidable across
	// rotations (identical content is never a conflict).
	ContentHash [32]byte
	// Chunks lists the file's chunks in order.
	Chunks []ChunkRef
	// Author is the Vault entity ID of the writer; Device its device name.
	// At most MaxNameLen bytes of UTF-8 each.
	Author, Device string
	// Created is when the version was made.
	Created time.Time
}

// ChunkRef is one chunk of a file.
type ChunkRef struct {
	ID   ID
	Size uint32 // plaintext bytes, 1 to MaxChunkSize
}

// SealManifest seals m under the matter and epoch of k, bound to the file
// ID of m.Path and to m.Version, and appends it to dst. It returns the
// file ID too, for the commit request.
func (k *Keys) SealManifest(dst []byte, m *Manifest) ([]byte, ID, error) {
	if err := m.validate(); err != nil {
		return dst, ID{}, fmt.Errorf("format: seal manifest: %w", err)
	}
	fileID := k.fileIDs.mac.sum([]byte(m.Path))
	payload := m.appendEncoding(make([]byte, 0, m.encodedSize()))
	out, err := sealObject(dst, k.manifestSeal, Header{Kind: KindManifest, FileVersion: m.Version, Tombstone: m.Deleted}, k.fileIDs.binding(), k.epoch, fileID, payload)
	if err != nil {
		return dst, ID{}, fmt.Errorf("format: seal manifest: %w", err)
	}
	return out, fileID, nil
}

// OpenManifest verifies and decrypts a sealed manifest that must belong to
// k's matter and epoch, to file ID fileID and to file version version. It
// also checks that the manifest's path hashes to fileID, so a member cannot
// slip one file's content in under another file's name.
func (k *Keys) OpenManifest(sealed []byte, fileID ID, version uint64) (*Manifest, error) {
	m, err := k.openManifest(sealed, fileID, version)
	if err != nil {
		return nil, fmt.Errorf("format: open manifest %s v%d: %w", fileID, version, err)
	}
	return m, nil
}

func (k *Keys) openManifest(sealed []byte, fileID ID, version uint64) (*Manifest, error) {
	payload, h, err := openObject(nil, sealed, k.manifestSeal, KindManifest, k.fileIDs.binding(), k.epoch, fileID, version)
	if err != nil {
		return nil, err
	}
	m, err := decodeManifest(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if m.Deleted != h.Tombstone {
		return nil, fmt.Errorf("deleted is %v, the header's tombstone flag %v: %w", m.Deleted, h.Tombstone, ErrMalformed)
	}
	m.Version = version
	if k.fileIDs.mac.sum([]byte(m.Path)) != fileID {
		return nil, fmt.Errorf("path does not hash to the file ID: %w", ErrMalformed)
	}
	return m, nil
}

// validate checks the invariants shared by encoding and decoding.
func (m *Manifest) validate() error {
	if err := validatePath(m.Path); err != nil {
		return err
	}
	if m.Version == 0 || m.Version > MaxFileVersion {
		return fmt.Errorf("version %d out of range 1 to %d", m.Version, uint64(MaxFileVersion))
	}
	if m.Mode&^PermMask != 0 {
		return fmt.Errorf("mode %#o has bits outside %#o", m.Mode, PermMask)
	}
	for _, s := range []string{m.Author, m.Device} {
		if len(s) > MaxNameLen || !utf8.ValidString(s) {
			return fmt.Errorf("author or device name %q is not UTF-8 of at most %d bytes", s, MaxNameLen)
		}
	}
	if m.Deleted && (m.Size != 0 || len(m.Chunks) != 0) {
		return fmt.Errorf("tombstone with size %d and %d chunks", m.Size, len(m.Chunks))
	}
	var sum uint64
	for i, c := range m.Chunks {
		if c.Size == 0 || c.Size > MaxChunkSize {
			return fmt.Errorf("chunk %d has size %d, want 1 to %d", i, c.Size, MaxChunkSize)
		}
		sum += uint64(c.Size)
	}
	if sum != m.Size {
		return fmt.Errorf("size %d is not the sum of the chunk sizes, %d", m.Size, sum)
	}
	if m.encodedSize() > MaxManifestSize {
		return fmt.Errorf("%d chunks: encoding exceeds %d bytes: %w", len(m.Chunks), MaxManifestSize, ErrTooLarge)
	}
	return nil
}

// Encoding (FORMAT.md, "Manifest encoding"), big-endian:
//
//	u8 flags (bit 0: deleted) | u16 len, path | u64 size
//	i64 mtime seconds | u32 mtime nanoseconds | u32 mode | [32] content hash
//	u8 len, author | u8 len, device | i64 created seconds | u32 created ns
//	u32 n | n × ([32] chunk ID | u32 size) | zero padding to a multiple of 256
const manifestFixed = 1 + 2 + 8 + 12 + 4 + 32 + 1 + 1 + 12 + 4

func (m *Manifest) encodedSize() int {
	n := manifestFixed + len(m.Path) + len(m.Author) + len(m.Device) + len(m.Chunks)*(IDSize+4)
	return n + pad(n)
}

func pad(n int) int { return (manifestPad - n%manifestPad) % manifestPad }

func (m *Manifest) appendEncoding(b []byte) []byte {
	start := len(b)
	var flags byte
	if m.Deleted {
		flags |= 1
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Path)))
	b = append(b, m.Path...)
	b = binary.BigEndian.AppendUint64(b, m.Size)
	b = appendTime(b, m.ModTime)
	b = binary.BigEndian.AppendUint32(b, m.Mode)
	b = append(b, m.ContentHash[:]...)
	b = append(b, byte(len(m.Author)))
	b = append(b, m.Author...)
	b = append(b, byte(len(m.Device)))
	b = append(b, m.Device...)
	b = appendTime(b, m.Created)
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Chunks)))
	for _, c := range m.Chunks {
		b = append(b, c.ID[:]...)
		b = binary.BigEndian.AppendUint32(b, c.Size)
	}
	return append(b, make([]byte, pad(len(b)-start))...)
}

// appendTime writes seconds and nanoseconds since the Unix epoch, which
// covers every time.Time (including the zero time) exactly, in UTC.
func appendTime(b []byte, t time.Time) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(t.Unix()))
	return binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
}

func readTime(r *wire.Reader) (time.Time, error) {
	s, ns := int64(r.U64()), r.U32()
	if ns >= 1e9 {
		return time.Time{}, fmt.Errorf("nanoseconds %d out of range", ns)
	}
	return time.Unix(s, int64(ns)).UTC(), nil
}

// decodeManifest accepts exactly the encodings appendEncoding produces, so
// that every manifest has one encoding (fuzzed by FuzzOpenManifest).
func decodeManifest(b []byte) (*Manifest, error) {
	if len(b) > MaxManifestSize {
		return nil, fmt.Errorf("%d bytes: %w", len(b), ErrTooLarge)
	}
	r := wire.NewReader(b)
	m := new(Manifest)
	flags := r.U8()
	if flags&^1 != 0 {
		return nil, fmt.Errorf("unknown flags %#x", flags)
	}
	m.Deleted = flags&1 != 0
	m.Path = string(r.Bytes(int(r.U16())))
	m.Size = r.U64()
	var err error
	if m.ModTime, err = readTime(r); err != nil {
		return nil, err
	}
	m.Mode = r.U32()
	copy(m.ContentHash[:], r.Bytes(32))
	m.Author = string(r.Bytes(int(r.U8())))
	m.Device = string(r.Bytes(int(r.U8())))
	if m.Created, err = readTime(r); err != nil {
		return nil, err
	}
	n := r.U32()
	if r.Err() != nil {
		return nil, r.Err()
	}
	if uint64(n)*(IDSize+4) > uint64(r.Len()) {
		return nil, fmt.Errorf("%d chunks do not fit in %d bytes", n, r.Len())
	}
	if n > 0 {
		m.Chunks = make([]ChunkRef, n)
	}
	for i := range m.Chunks {
		copy(m.Chunks[i].ID[:], r.Bytes(IDSize))
		m.Chunks[i].Size = r.U32()
	}
	rest := r.Rest()
	if r.Err() != nil {
		return nil, r.Err()
	}
	if len(rest) != pad(len(b)-len(rest)) || !allZero(rest) {
		return nil, fmt.Errorf("padding of %d bytes is not the %d zero bytes expected", len(rest), pad(len(b)-len(rest)))
	}
	m.Version = 1 // placeholder so validate passes; the caller sets the bound version
	if err := m.validate(); err != nil {
		return nil, err
	}
	return m, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
