package format

import (
	"bytes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/binary"
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
	ephPub := obj[shareHeaderSize:dropPrefixSize]
	pub, err := ecdh.X25519().NewPublicKey(ephPub)
	if err != nil {
		return ShareMeta{}, nil, fmt.Errorf("format: open drop: %w", ErrBadHeader)
	}
	shared, err := priv.ECDH(pub)
	if err != nil {
		// A low-order ephemeral key gives an all-zero secret: refused.
		return ShareMeta{}, nil, fmt.Errorf("format: open drop: %w", ErrAuth)
	}
	maead, daead, err := dropAEADs(shared, ephPub, priv.PublicKey().Bytes())
	if err != nil {
		return ShareMeta{}, nil, err
	}
	meta, out, err := openSegments(obj, dropPrefixSize, maead, daead, seg)
	if err != nil {
		return ShareMeta{}, nil, fmt.Errorf("format: open drop: %w", err)
	}
	return meta, out, nil
}
