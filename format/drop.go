package format

import (
	"bytes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Drop objects and request keys (docs/FORMAT.md, appendix C): a client
// outside the firm uploads a file to a matter through a request link. The
// browser seals it to the request's X25519 public key, carried in the
// link's fragment; only a member holding one of the matter's epoch keys
// can unwrap the request's private key and open it.

// RequestKeySize is the size of an X25519 public or private key.
const RequestKeySize = 32

const (
	dropSalt       = "mattersync/drop/v1"
	dropPrefixSize = shareHeaderSize + RequestKeySize // header || ephemeral public key
	requestWrapAAD = "mattersync/request/v1"
	// wrapped request key = u8(1) || be32(epoch) || nonce || sealed key
	requestWrapSize = 1 + 4 + 12 + RequestKeySize + 16
)

var dropMagic = [4]byte{'m', 'd', 'r', 'p'}

// NewRequestKey returns a fresh X25519 key pair for a file request.
func NewRequestKey() *ecdh.PrivateKey {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return k
}

// requestWrapAEAD is the AEAD that wraps request keys in epoch e of a
// matter: subkey(K_e, "request-key", e) (section 3).
func requestWrapAEAD(matter string, epoch uint32, epochKey []byte) (cipher.AEAD, error) {
	k, err := deriveSubkey(epochKey, matter, epoch, "request-key")
	if err != nil {
		return nil, err
	}
	return newGCM(k, true)
}

func requestWrapAD(matter string, pub []byte) []byte {
	ad := make([]byte, 0, len(requestWrapAAD)+2+len(matter)+RequestKeySize)
	ad = append(ad, requestWrapAAD...)
	ad = append(ad, 0, byte(len(matter)))
	ad = append(ad, matter...)
	return append(ad, pub...)
}

// WrapRequestKey seals a request's private key under the matter's epoch
// key, bound to the matter and the public key: what the gateway stores
// with the request, opaque to it.
func WrapRequestKey(matter string, epoch uint32, epochKey []byte, priv *ecdh.PrivateKey) ([]byte, error) {
	if err := ValidateMatterID(matter); err != nil {
		return nil, err
	}
	aead, err := requestWrapAEAD(matter, epoch, epochKey)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 5, requestWrapSize)
	out[0] = 1
	binary.BigEndian.PutUint32(out[1:], epoch)
	// The nonce is drawn inside the FIPS module and stored first.
	return aead.Seal(out, nil, priv.Bytes(), requestWrapAD(matter, priv.PublicKey().Bytes())), nil
}

// RequestKeyEpoch returns the epoch whose key unwraps wrapped.
func RequestKeyEpoch(wrapped []byte) (uint32, error) {
	if len(wrapped) != requestWrapSize {
		return 0, fmt.Errorf("format: wrapped request key of %d bytes: %w", len(wrapped), ErrBadHeader)
	}
	if wrapped[0] != 1 {
		return 0, fmt.Errorf("format: wrapped request key: %w", ErrUnsupportedVersion)
	}
	return binary.BigEndian.Uint32(wrapped[1:]), nil
}

// UnwrapRequestKey opens a wrapped request key with the key of the epoch
// RequestKeyEpoch names, and checks it is the private half of pub (the
// public key the link carried). ErrAuth: another matter, epoch key or
// public key, or an altered blob.
func UnwrapRequestKey(matter string, epochKey, wrapped, pub []byte) (*ecdh.PrivateKey, error) {
	epoch, err := RequestKeyEpoch(wrapped)
	if err != nil {
		return nil, err
	}
	if len(pub) != RequestKeySize {
		return nil, fmt.Errorf("format: request public key of %d bytes, want %d", len(pub), RequestKeySize)
	}
	aead, err := requestWrapAEAD(matter, epoch, epochKey)
	if err != nil {
		return nil, err
	}
	raw, err := aead.Open(nil, nil, wrapped[5:], requestWrapAD(matter, pub))
	if err != nil {
		return nil, fmt.Errorf("format: unwrap request key: %w", ErrAuth)
	}
	priv, err := ecdh.X25519().NewPrivateKey(raw)
	if err != nil || !bytes.Equal(priv.PublicKey().Bytes(), pub) {
		return nil, fmt.Errorf("format: unwrap request key: %w", ErrMalformed)
	}
	return priv, nil
}

// dropAEADs derives a drop object's keys from the X25519 shared secret
// and both public keys (binding the object to this request).
func dropAEADs(shared, ephPub, reqPub []byte) (meta, data cipher.AEAD, err error) {
	ikm := make([]byte, 0, 3*RequestKeySize)
	ikm = append(append(append(ikm, shared...), ephPub...), reqPub...)
	return segAEADs(ikm, dropSalt)
}

// SealDrop writes the drop object of meta.Size bytes read from r, sealed
// to the request public key reqPub, to w. (Browsers seal drops; Go does in
// tests and tools.)
func SealDrop(w io.Writer, reqPub []byte, meta ShareMeta, r io.Reader) error {
	return sealDrop(w, NewRequestKey(), reqPub, meta, r, ShareSegmentSize)
}

func sealDrop(w io.Writer, eph *ecdh.PrivateKey, reqPub []byte, meta ShareMeta, r io.Reader, seg int) error {
	pub, err := ecdh.X25519().NewPublicKey(reqPub)
	if err != nil {
		return fmt.Errorf("format: seal drop: request public key: %w", err)
	}
	shared, err := eph.ECDH(pub)
	if err != nil {
		return fmt.Errorf("format: seal drop: %w", err)
	}
	ephPub := eph.PublicKey().Bytes()
	maead, daead, err := dropAEADs(shared, ephPub, reqPub)
	if err != nil {
		return err
	}
	prefix := append(segHeader(dropMagic, uint32(seg)), ephPub...)
	return sealSegments(w, prefix, maead, daead, meta, r, seg)
}

// OpenDrop opens a whole drop object with the request's private key: its
// metadata and the file's bytes, or ErrTruncated, ErrBadHeader,
// ErrUnsupportedVersion, ErrAuth or ErrMalformed. Nothing is returned
// unless every segment authenticated.
func OpenDrop(obj []byte, priv *ecdh.PrivateKey) (ShareMeta, []byte, error) {
	seg, err := checkSegHeader(obj, dropMagic)
	if err != nil {
		return ShareMeta{}, nil, fmt.Errorf("format: open drop: %w", err)
	}
	if len(obj) < dropPrefixSize {
		return ShareMeta{}, nil, fmt.Errorf("format: open drop: %w", ErrTruncated)
	}
	maead, daead, err := dropOpenAEADs(obj[shareHeaderSize:dropPrefixSize], priv)
	if err != nil {
		return ShareMeta{}, nil, fmt.Errorf("format: open drop: %w", err)
	}
	meta, out, err := openSegments(obj, dropPrefixSize, maead, daead, seg)
	if err != nil {
		return ShareMeta{}, nil, fmt.Errorf("format: open drop: %w", err)
	}
	return meta, out, nil
}

// dropOpenAEADs derives a drop object's keys on the opening side, from
// its ephemeral public key and the request's private key.
func dropOpenAEADs(ephPub []byte, priv *ecdh.PrivateKey) (meta, data cipher.AEAD, err error) {
	pub, err := ecdh.X25519().NewPublicKey(ephPub)
	if err != nil {
		return nil, nil, ErrBadHeader
	}
	shared, err := priv.ECDH(pub)
	if err != nil {
		// A low-order ephemeral key gives an all-zero secret: refused.
		return nil, nil, ErrAuth
	}
	return dropAEADs(shared, ephPub, priv.PublicKey().Bytes())
}

// OpenDropTo opens a drop object of size bytes read from r with the
// request's private key, segment by segment, and writes the file's bytes
// to w as each segment authenticates: it holds one segment (at most 16
// MiB, 1 MiB as browsers seal) whatever the object's size. It returns the
// metadata only once the last segment authenticated and r held exactly
// size bytes. On any error, what w received must be discarded: it is a
// prefix of the file, never an unauthenticated byte, but a later segment
// failed, or was cut, or the object was longer. The errors are OpenDrop's
// (ErrTruncated, ErrBadHeader, ErrUnsupportedVersion, ErrAuth,
// ErrMalformed; r ending before size bytes is ErrTruncated), or r's or
// w's own.
func OpenDropTo(w io.Writer, r io.Reader, size int64, priv *ecdh.PrivateKey) (ShareMeta, error) {
	meta, err := openDropTo(w, r, size, priv)
	if err != nil {
		return ShareMeta{}, fmt.Errorf("format: open drop: %w", err)
	}
	return meta, nil
}

func openDropTo(w io.Writer, r io.Reader, size int64, priv *ecdh.PrivateKey) (ShareMeta, error) {
	// read fills b from r; r ending early is a truncated object.
	read := func(b []byte) error {
		_, err := io.ReadFull(r, b)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return ErrTruncated
		}
		return err
	}
	// The clear header, the ephemeral key and the metadata, checked in
	// OpenDrop's order so both give the same error for the same bytes.
	if size < shareHeaderSize {
		return ShareMeta{}, ErrTruncated
	}
	head := make([]byte, dropPrefixSize+shareMetaSize+16)
	if err := read(head[:shareHeaderSize]); err != nil {
		return ShareMeta{}, err
	}
	seg, err := checkSegHeader(head[:shareHeaderSize], dropMagic)
	if err != nil {
		return ShareMeta{}, err
	}
	if size < dropPrefixSize {
		return ShareMeta{}, ErrTruncated
	}
	if err := read(head[shareHeaderSize:dropPrefixSize]); err != nil {
		return ShareMeta{}, err
	}
	maead, daead, err := dropOpenAEADs(head[shareHeaderSize:dropPrefixSize], priv)
	if err != nil {
		return ShareMeta{}, err
	}
	if size < int64(len(head)) {
		return ShareMeta{}, ErrTruncated
	}
	if err := read(head[dropPrefixSize:]); err != nil {
		return ShareMeta{}, err
	}
	aad := head[:dropPrefixSize]
	meta, err := openShareMeta(maead, head[dropPrefixSize:], aad)
	if err != nil {
		return ShareMeta{}, err
	}
	segs := max((meta.Size+seg-1)/seg, 1)
	switch want, rest := meta.Size+segs*16, size-int64(len(head)); {
	case rest < want:
		return ShareMeta{}, ErrTruncated
	case rest > want:
		return ShareMeta{}, ErrBadHeader
	}
	buf := make([]byte, seg+16)
	for i := int64(0); i < segs; i++ {
		n := min(seg, meta.Size-i*seg) + 16
		if err := read(buf[:n]); err != nil {
			return ShareMeta{}, err
		}
		p, err := daead.Open(buf[:0], shareNonce(uint64(i), i == segs-1), buf[:n], aad)
		if err != nil {
			return ShareMeta{}, fmt.Errorf("segment %d: %w", i, ErrAuth)
		}
		if _, err := w.Write(p); err != nil {
			return ShareMeta{}, err
		}
	}
	// r holds more than size says: not the object the size described.
	var one [1]byte
	if k, _ := io.ReadFull(r, one[:]); k > 0 {
		return ShareMeta{}, ErrBadHeader
	}
	return meta, nil
}
