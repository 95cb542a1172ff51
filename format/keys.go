package format

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sync"
)

// EpochKeySize is the size of a matter epoch key (from Vault transit datakey).
const EpochKeySize = 32

// kdfSalt is the HKDF-Extract salt of format version 1.
const kdfSalt = "mattersync/format/v1"

// Labels of the subkeys (FORMAT.md, "Key derivation").
const (
	labelChunkID      = "chunk-id"
	labelChunkSeal    = "chunk-seal"
	labelManifestSeal = "manifest-seal"
	labelFileID       = "file-id"
)

// FileIDKey computes file IDs for one matter. It is derived from the
// matter's epoch 1 key only, so file IDs never change when the epoch key
// rotates: every member, in every epoch, names a path with the same ID.
// Safe for concurrent use.
type FileIDKey struct {
	matter binding
	key    []byte // only to compare in DeriveKeys for epoch 1
	mac    macPool
}

// DeriveFileIDKey derives the file-ID key of matter from its epoch 1 key.
func DeriveFileIDKey(matter string, epoch1Key []byte) (*FileIDKey, error) {
	if err := ValidateMatterID(matter); err != nil {
		return nil, err
	}
	key, err := deriveSubkey(epoch1Key, matter, 1, labelFileID)
	if err != nil {
		return nil, err
	}
	return &FileIDKey{matter: newBinding(matter), key: key, mac: newMACPool(key)}, nil
}

// Matter returns the matter ID the key was derived for.
func (k *FileIDKey) Matter() string { return k.matter.matter }

func (k *FileIDKey) binding() binding { return k.matter }

// FileID returns the file ID of path: HMAC-SHA256(file-ID key, normalized
// path). The path is normalized first (see NormalizePath), so equivalent
// spellings get the same ID; an invalid path is an ErrUnsafePath error.
func (k *FileIDKey) FileID(path string) (ID, error) {
	n, err := NormalizePath(path)
	if err != nil {
		return ID{}, err
	}
	return k.mac.sum([]byte(n)), nil
}

// Keys holds the subkeys of one matter epoch. Safe for concurrent use.
// Dropping the last reference is the only way to forget them; Go cannot
// promise to wipe copies.
type Keys struct {
	fileIDs      *FileIDKey
	epoch        uint32
	chunkID      macPool
	chunkSeal    []byte
	manifestSeal []byte
}

// DeriveKeys derives the subkeys of one epoch of the matter of fileIDs.
// epoch starts at 1 and grows by one on each rotation. For epoch 1,
// epochKey must be the key fileIDs was derived from.
func DeriveKeys(fileIDs *FileIDKey, epoch uint32, epochKey []byte) (*Keys, error) {
	if fileIDs == nil {
		return nil, errors.New("format: DeriveKeys: nil FileIDKey")
	}
	if epoch == 0 {
		return nil, errors.New("format: epoch 0 is invalid, epochs start at 1")
	}
	m := fileIDs.Matter()
	k := &Keys{fileIDs: fileIDs, epoch: epoch}
	if epoch == 1 {
		fk, err := deriveSubkey(epochKey, m, 1, labelFileID)
		if err != nil {
			return nil, err
		}
		if subtle.ConstantTimeCompare(fk, fileIDs.key) != 1 {
			return nil, errors.New("format: DeriveKeys: the epoch 1 key is not the key of the FileIDKey")
		}
	}
	idKey, err := deriveSubkey(epochKey, m, epoch, labelChunkID)
	if err != nil {
		return nil, err
	}
	k.chunkID = newMACPool(idKey)
	if k.chunkSeal, err = deriveSubkey(epochKey, m, epoch, labelChunkSeal); err != nil {
		return nil, err
	}
	if k.manifestSeal, err = deriveSubkey(epochKey, m, epoch, labelManifestSeal); err != nil {
		return nil, err
	}
	return k, nil
}

// Matter returns the matter ID.
func (k *Keys) Matter() string { return k.fileIDs.Matter() }

// Epoch returns the epoch number.
func (k *Keys) Epoch() uint32 { return k.epoch }

// FileIDs returns the matter's file-ID key.
func (k *Keys) FileIDs() *FileIDKey { return k.fileIDs }

// ChunkID returns HMAC-SHA256(chunk-ID key, plain). Keyed, so storage
// cannot confirm a guessed plaintext; per epoch, so a removed member's old
// keys say nothing about chunks written after the rotation.
func (k *Keys) ChunkID(plain []byte) ID { return k.chunkID.sum(plain) }

// deriveSubkey implements FORMAT.md "Key derivation":
//
//	prk = HKDF-Extract(SHA-256, salt="mattersync/format/v1", ikm=epochKey)
//	key = HKDF-Expand(SHA-256, prk, info, 32)
//	info = "mattersync/v1 " || label || 0x00 || len(matter) || matter || be32(epoch)
func deriveSubkey(epochKey []byte, matter string, epoch uint32, label string) ([]byte, error) {
	if len(epochKey) != EpochKeySize {
		return nil, fmt.Errorf("format: epoch key is %d bytes, want %d", len(epochKey), EpochKeySize)
	}
	prk, err := hkdf.Extract(sha256.New, epochKey, []byte(kdfSalt))
	if err != nil {
		return nil, fmt.Errorf("format: HKDF-Extract: %w", err)
	}
	info := make([]byte, 0, 64)
	info = append(info, "mattersync/v1 "...)
	info = append(info, label...)
	info = append(info, 0, byte(len(matter)))
	info = append(info, matter...)
	info = binary.BigEndian.AppendUint32(info, epoch)
	key, err := hkdf.Expand(sha256.New, prk, string(info), 32)
	if err != nil {
		return nil, fmt.Errorf("format: HKDF-Expand: %w", err)
	}
	return key, nil
}

// objectKey derives the AES-256 key of one sealed object from the chunk or
// manifest sealing key: a key per object means random 96-bit nonces are
// only ever drawn a handful of times under the same key (re-uploads of the
// same chunk), far from the 2^32 limit of AES-GCM with random nonces.
//
//	info = "mattersync/v1 object" || 0x00 || kind || id || be64(version)
func objectKey(sealKey []byte, kind Kind, id ID, version uint64) ([]byte, error) {
	var info [21 + 1 + IDSize + 8]byte
	n := copy(info[:], "mattersync/v1 object\x00")
	info[n] = byte(kind)
	n++
	n += copy(info[n:], id[:])
	binary.BigEndian.PutUint64(info[n:], version)
	key, err := hkdf.Expand(sha256.New, sealKey, string(info[:]), 32)
	if err != nil {
		return nil, fmt.Errorf("HKDF-Expand: %w", err)
	}
	return key, nil
}

// matterTag is the 4-byte matter tag of the clear header: it lets a reader
// and the gateway tell a misplaced object from a forged one without a key.
// It reveals nothing new, since object keys already name the matter.
func matterTag(matter string) [4]byte {
	h := sha256.New()
	h.Write([]byte("mattersync/v1 matter\x00"))
	h.Write([]byte(matter))
	var t [4]byte
	copy(t[:], h.Sum(nil))
	return t
}

// macPool reuses keyed HMAC-SHA256 states: hmac.New costs allocations and
// two compression-function calls per key.
type macPool struct{ pool *sync.Pool }

func newMACPool(key []byte) macPool {
	return macPool{&sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

func (p macPool) sum(data []byte) ID {
	h := p.pool.Get().(hash.Hash)
	h.Reset()
	h.Write(data)
	var id ID
	h.Sum(id[:0])
	p.pool.Put(h)
	return id
}
