package format

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Share objects (docs/FORMAT.md, appendix B): a file's plaintext re-sealed
// under a share key that lives only in a share link's URL fragment, in
// segments a browser can decrypt as they arrive.

// ShareKeySize is the size of a share key.
const ShareKeySize = 32

// ShareSegmentSize is the plaintext size of every data segment but the
// last.
const ShareSegmentSize = 1 << 20

const (
	shareHeaderSize = 16
	shareMetaSize   = 512 // padded metadata plaintext: the name's length does not show
	shareMaxName    = 400
	shareSalt       = "mattersync/share/v1"
)

var shareMagic = [4]byte{'m', 's', 'h', 'r'}

// ShareMeta is the encrypted metadata of a share object: what the
// recipient's browser saves the file as.
type ShareMeta struct {
	Name string `json:"name"` // a base name, no folders
	Size int64  `json:"size"` // plaintext bytes
}

// NewShareKey returns a fresh random share key.
func NewShareKey() [ShareKeySize]byte {
	var k [ShareKeySize]byte
	if _, err := rand.Read(k[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return k
}

// shareAEADs derives the metadata and data keys from a share key.
func shareAEADs(key [ShareKeySize]byte) (meta, data cipher.AEAD, err error) {
	return segAEADs(key[:], shareSalt)
}

// segAEADs derives the metadata and data keys of a share or drop object
// from its input key material and salt (which names the object kind).
func segAEADs(ikm []byte, salt string) (meta, data cipher.AEAD, err error) {
	prk, err := hkdf.Extract(sha256.New, ikm, []byte(salt))
	if err != nil {
		return nil, nil, err
	}
	mk := func(label string) (cipher.AEAD, error) {
		k, err := hkdf.Expand(sha256.New, prk, salt+" "+label, 32)
		if err != nil {
			return nil, err
		}
		return newGCM(k, false)
	}
	if meta, err = mk("meta"); err != nil {
		return nil, nil, err
	}
	data, err = mk("data")
	return meta, data, err
}

// newGCM returns AES-256-GCM under key: with nonces drawn inside the
// FIPS module and stored before the ciphertext (random), or given by the
// caller (counter nonces under keys used once).
func newGCM(key []byte, random bool) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if random {
		return cipher.NewGCMWithRandomNonce(b)
	}
	return cipher.NewGCM(b)
}

// shareNonce is segment i's nonce: 3 zero bytes, be64(i), and 1 for the
// last segment (0 otherwise), so segments cannot be reordered, dropped or
// cut off at a segment boundary unnoticed.
func shareNonce(i uint64, last bool) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n[3:], i)
	if last {
		n[11] = 1
	}
	return n
}

func shareHeader(seg uint32) []byte { return segHeader(shareMagic, seg) }

func segHeader(magic [4]byte, seg uint32) []byte {
	h := make([]byte, shareHeaderSize)
	copy(h, magic[:])
	h[4] = 1
	binary.BigEndian.PutUint32(h[8:], seg)
	binary.BigEndian.PutUint32(h[12:], shareMetaSize+16)
	return h
}

func (m ShareMeta) check() error {
	if m.Name == "" || len(m.Name) > shareMaxName || !utf8.ValidString(m.Name) || bytes.ContainsAny([]byte(m.Name), "/\\\x00") || m.Name == "." || m.Name == ".." {
		return fmt.Errorf("format: share name %q: want a base name of 1 to %d bytes of UTF-8", m.Name, shareMaxName)
	}
	if m.Size < 0 {
		return errors.New("format: share size is negative")
	}
	return nil
}

// SealShare writes the share object of meta.Size bytes read from r, under
// key, to w. It fails if r holds fewer or more bytes than meta.Size.
func SealShare(w io.Writer, key [ShareKeySize]byte, meta ShareMeta, r io.Reader) error {
	return sealShare(w, key, meta, r, ShareSegmentSize)
}

func sealShare(w io.Writer, key [ShareKeySize]byte, meta ShareMeta, r io.Reader, seg int) error {
	maead, daead, err := shareAEADs(key)
	if err != nil {
		return err
	}
	return sealSegments(w, shareHeader(uint32(seg)), maead, daead, meta, r, seg)
}

// sealSegments writes prefix (the clear header, authenticated as every
// sealed part's AAD), the padded metadata and the data segments: the
// layout share objects and drop objects (appendix C) have in common.
func sealSegments(w io.Writer, prefix []byte, maead, daead cipher.AEAD, meta ShareMeta, r io.Reader, seg int) error {
	if err := meta.check(); err != nil {
		return err
	}
	js, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	mp := make([]byte, shareMetaSize)
	binary.BigEndian.PutUint16(mp, uint16(len(js)))
	copy(mp[2:], js)
	out := append(bytes.Clone(prefix), maead.Seal(nil, make([]byte, 12), mp, prefix)...)
	if _, err := w.Write(out); err != nil {
		return err
	}
	buf := make([]byte, seg)
	var done int64
	for i := uint64(0); ; i++ {
		n := int(min(int64(seg), meta.Size-done))
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			return fmt.Errorf("format: seal: reading the file: %w", err)
		}
		done += int64(n)
		last := done == meta.Size
		if last {
			var one [1]byte
			if k, _ := r.Read(one[:]); k > 0 {
				return errors.New("format: seal: the file is larger than its size")
			}
		}
		if _, err := w.Write(daead.Seal(nil, shareNonce(i, last), buf[:n], prefix)); err != nil {
			return err
		}
		if last {
			return nil
		}
	}
}

// OpenShare opens a whole share object under key: its metadata and the
// file's bytes, or ErrTruncated, ErrBadHeader, ErrUnsupportedVersion,
// ErrAuth (the key or any byte is wrong) or ErrMalformed. Nothing is
// returned unless every segment authenticated.
func OpenShare(obj []byte, key [ShareKeySize]byte) (ShareMeta, []byte, error) {
	meta, b, err := openShare(obj, key)
	if err != nil {
		return ShareMeta{}, nil, err
	}
	return meta, b, nil
}

func openShare(obj []byte, key [ShareKeySize]byte) (ShareMeta, []byte, error) {
	seg, err := checkSegHeader(obj, shareMagic)
	if err != nil {
		return ShareMeta{}, nil, fmt.Errorf("format: open share: %w", err)
	}
	maead, daead, err := shareAEADs(key)
	if err != nil {
		return ShareMeta{}, nil, err
	}
	meta, out, err := openSegments(obj, shareHeaderSize, maead, daead, seg)
	if err != nil {
		return ShareMeta{}, nil, fmt.Errorf("format: open share: %w", err)
	}
	return meta, out, nil
}

// checkSegHeader checks the clear header of a share or drop object and
// returns its segment size.
func checkSegHeader(obj []byte, magic [4]byte) (int64, error) {
	if len(obj) < shareHeaderSize {
		return 0, ErrTruncated
	}
	hdr := obj[:shareHeaderSize]
	if !bytes.Equal(hdr[:4], magic[:]) {
		return 0, ErrBadHeader
	}
	if hdr[4] != 1 {
		return 0, ErrUnsupportedVersion
	}
	seg := int64(binary.BigEndian.Uint32(hdr[8:]))
	if hdr[5]|hdr[6]|hdr[7] != 0 || seg == 0 || seg > 16<<20 || binary.BigEndian.Uint32(hdr[12:]) != shareMetaSize+16 {
		return 0, ErrBadHeader
	}
	return seg, nil
}

// openSegments opens the metadata and data segments that follow the
// first prefix bytes of obj (authenticated as AAD), all or nothing.
func openSegments(obj []byte, prefix int, maead, daead cipher.AEAD, seg int64) (ShareMeta, []byte, error) {
	if len(obj) < prefix+shareMetaSize+16 {
		return ShareMeta{}, nil, ErrTruncated
	}
	aad, rest := obj[:prefix], obj[prefix:]
	meta, err := openShareMeta(maead, rest[:shareMetaSize+16], aad)
	if err != nil {
		return ShareMeta{}, nil, err
	}
	rest = rest[shareMetaSize+16:]
	// The segments the size implies: at least one (an empty file has an
	// empty last segment).
	segs := max((meta.Size+seg-1)/seg, 1)
	want := meta.Size + segs*16
	switch {
	case int64(len(rest)) < want:
		return ShareMeta{}, nil, ErrTruncated
	case int64(len(rest)) > want:
		return ShareMeta{}, nil, ErrBadHeader
	}
	out := make([]byte, 0, meta.Size)
	for i := int64(0); i < segs; i++ {
		n := min(seg, meta.Size-i*seg) + 16
		p, err := daead.Open(out[len(out):], shareNonce(uint64(i), i == segs-1), rest[:n], aad)
		if err != nil {
			return ShareMeta{}, nil, fmt.Errorf("segment %d: %w", i, ErrAuth)
		}
		out = out[:len(out)+len(p)]
		rest = rest[n:]
	}
	return meta, out, nil
}

// openShareMeta opens the sealed, padded metadata of a share or drop
// object (shareMetaSize+16 bytes) with the object's prefix as AAD.
func openShareMeta(maead cipher.AEAD, sealed, aad []byte) (ShareMeta, error) {
	var meta ShareMeta
	mp, err := maead.Open(nil, make([]byte, 12), sealed, aad)
	if err != nil {
		return ShareMeta{}, ErrAuth
	}
	n := int(binary.BigEndian.Uint16(mp))
	if n > shareMetaSize-2 || json.Unmarshal(mp[2:2+n], &meta) != nil || meta.check() != nil {
		return ShareMeta{}, fmt.Errorf("metadata: %w", ErrMalformed)
	}
	return meta, nil
}
