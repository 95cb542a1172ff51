package format

import (
	"encoding/binary"
	"fmt"
)

// FormatVersion is the format version this package writes and reads.
const FormatVersion = 1

// Sizes of the sealed object layout (FORMAT.md, "Sealed objects").
const (
	HeaderSize = 32 // clear header, authenticated as associated data
	NonceSize  = 12 // AES-GCM nonce, random, after the header
	TagSize    = 16 // AES-GCM tag, at the end
	// Overhead is the size of a sealed object minus its payload.
	Overhead = HeaderSize + NonceSize + TagSize
)

// magic starts every sealed object.
var magic = [4]byte{'m', 's', 'y', 'n'}

// Kind says what a sealed object holds.
type Kind uint8

const (
	KindChunk    Kind = 1
	KindManifest Kind = 2
)

func (k Kind) String() string {
	switch k {
	case KindChunk:
		return "chunk"
	case KindManifest:
		return "manifest"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Header flags.
const (
	flagZstd      = 1 // chunks only: the payload is zstd
	flagTombstone = 2 // manifests only: the manifest is a deletion
	knownFlags    = flagZstd | flagTombstone
)

// Header is the clear header of a sealed object. Everything in it is
// authenticated (it is the start of the AES-GCM associated data), but it is
// readable without a key: the reader learns which epoch key to fetch, and
// the gateway checks kind, binding and version before storing an upload.
type Header struct {
	Version    uint8 // format version, FormatVersion
	Kind       Kind  // chunk or manifest
	Compressed bool  // payload is zstd (chunks only)
	// Tombstone marks a manifest that deletes the file (manifests only).
	// In the clear so that the gateway can refuse deletes under legal hold;
	// OpenManifest checks it against the sealed Deleted field.
	Tombstone  bool
	Epoch      uint32 // matter epoch whose key sealed the object, ≥ 1
	PayloadLen uint32 // bytes of encrypted payload between nonce and tag
	// FileVersion is the manifest's file version (≥ 1); 0 for chunks.
	FileVersion uint64
	MatterTag   [4]byte // first 4 bytes of SHA-256("mattersync/v1 matter\x00" || matter)
	IDTag       [4]byte // first 4 bytes of the chunk ID or file ID
}

// SealedSize returns the total size of the object the header describes.
func (h Header) SealedSize() int64 { return Overhead + int64(h.PayloadLen) }

// ParseHeader parses and checks the clear header at the start of a sealed
// object. It reads only the first HeaderSize bytes, so the gateway can call
// it on the start of an upload and stream the rest; Open* re-check the
// total length against PayloadLen.
func ParseHeader(b []byte) (Header, error) {
	h, err := parseHeader(b)
	if err != nil {
		return h, fmt.Errorf("format: %w", err)
	}
	return h, nil
}

func parseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderSize {
		return h, fmt.Errorf("%d bytes, shorter than the %d-byte header: %w", len(b), HeaderSize, ErrTruncated)
	}
	if [4]byte(b[0:4]) != magic {
		return h, fmt.Errorf("not a mattersync object (magic %q): %w", b[0:4], ErrBadHeader)
	}
	h.Version = b[4]
	if h.Version != FormatVersion {
		return h, fmt.Errorf("format version %d, this build reads %d: %w", h.Version, FormatVersion, ErrUnsupportedVersion)
	}
	h.Kind = Kind(b[5])
	flags := b[6]
	h.Compressed = flags&flagZstd != 0
	h.Tombstone = flags&flagTombstone != 0
	h.Epoch = binary.BigEndian.Uint32(b[8:12])
	h.PayloadLen = binary.BigEndian.Uint32(b[12:16])
	h.FileVersion = binary.BigEndian.Uint64(b[16:24])
	h.MatterTag = [4]byte(b[24:28])
	h.IDTag = [4]byte(b[28:32])
	switch {
	case h.Kind != KindChunk && h.Kind != KindManifest:
		return h, fmt.Errorf("unknown object kind %d: %w", b[5], ErrBadHeader)
	case flags&^knownFlags != 0 || b[7] != 0:
		return h, fmt.Errorf("reserved header bits set: %w", ErrBadHeader)
	case h.Kind == KindManifest && h.Compressed:
		return h, fmt.Errorf("compressed manifest: %w", ErrBadHeader)
	case h.Kind == KindChunk && h.Tombstone:
		return h, fmt.Errorf("chunk flagged as tombstone: %w", ErrBadHeader)
	case h.Epoch == 0:
		return h, fmt.Errorf("epoch 0: %w", ErrBadHeader)
	case h.Kind == KindChunk && h.FileVersion != 0:
		return h, fmt.Errorf("chunk with file version %d: %w", h.FileVersion, ErrBadHeader)
	case h.Kind == KindManifest && (h.FileVersion == 0 || h.FileVersion > MaxFileVersion):
		return h, fmt.Errorf("manifest with file version %d: %w", h.FileVersion, ErrBadHeader)
	case h.Kind == KindChunk && (h.PayloadLen == 0 || h.PayloadLen > MaxChunkSize):
		return h, fmt.Errorf("chunk payload of %d bytes (limit %d): %w", h.PayloadLen, MaxChunkSize, sizeErr(h.PayloadLen))
	case h.Kind == KindManifest && h.PayloadLen > MaxManifestSize:
		return h, fmt.Errorf("manifest payload of %d bytes (limit %d): %w", h.PayloadLen, MaxManifestSize, sizeErr(h.PayloadLen))
	}
	return h, nil
}

// sizeErr classifies an out-of-range payload length: too large, or an
// impossible empty chunk.
func sizeErr(n uint32) error {
	if n == 0 {
		return ErrBadHeader
	}
	return ErrTooLarge
}

// Check verifies that the header binds the object to the given kind,
// matter, chunk or file ID and file version (0 for chunks). The gateway
// calls it on every upload; the Open functions call it before decrypting.
func (h Header) Check(kind Kind, matter string, id ID, fileVersion uint64) error {
	if err := h.check(kind, newBinding(matter), id, fileVersion); err != nil {
		return fmt.Errorf("format: %w", err)
	}
	return nil
}

func (h Header) check(kind Kind, m binding, id ID, fileVersion uint64) error {
	switch {
	case h.Kind != kind:
		return fmt.Errorf("object is a %v, want a %v: %w", h.Kind, kind, ErrBadHeader)
	case h.MatterTag != m.tag:
		return fmt.Errorf("matter tag %x does not match matter %q: %w", h.MatterTag, m.matter, ErrWrongMatter)
	case h.IDTag != [4]byte(id[:4]):
		return fmt.Errorf("ID tag %x does not match %v %s: %w", h.IDTag, kind, id, ErrWrongID)
	case h.FileVersion != fileVersion:
		return fmt.Errorf("file version %d, want %d: %w", h.FileVersion, fileVersion, ErrWrongVersion)
	}
	return nil
}

// appendHeader appends the encoded header.
func appendHeader(dst []byte, h Header) []byte {
	dst = append(dst, magic[:]...)
	var flags byte
	if h.Compressed {
		flags |= flagZstd
	}
	if h.Tombstone {
		flags |= flagTombstone
	}
	dst = append(dst, h.Version, byte(h.Kind), flags, 0)
	dst = binary.BigEndian.AppendUint32(dst, h.Epoch)
	dst = binary.BigEndian.AppendUint32(dst, h.PayloadLen)
	dst = binary.BigEndian.AppendUint64(dst, h.FileVersion)
	dst = append(dst, h.MatterTag[:]...)
	return append(dst, h.IDTag[:]...)
}
