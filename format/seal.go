package format

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
)

// newAEAD returns AES-256-GCM under the object key of (kind, id, version).
// NewGCMWithRandomNonce draws the nonce inside the FIPS module, the
// approved way to use GCM in Go's FIPS 140-3 mode, and lays it out as
// nonce || ciphertext || tag, which is our layout after the header.
func newAEAD(sealKey []byte, kind Kind, id ID, version uint64) (cipher.AEAD, error) {
	key, err := objectKey(sealKey, kind, id, version)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, err
	}
	return aead, nil
}

// aadBuf holds associated data: header || len(matter) || matter || id.
type aadBuf [HeaderSize + 1 + MaxMatterIDLen + IDSize]byte

// binding is a matter ID with its precomputed header tag.
type binding struct {
	matter string
	tag    [4]byte
}

func newBinding(matter string) binding { return binding{matter, matterTag(matter)} }

func (b *aadBuf) build(header []byte, matter string, id ID) []byte {
	a := append(b[:0], header[:HeaderSize]...)
	a = append(a, byte(len(matter)))
	a = append(a, matter...)
	return append(a, id[:]...)
}

// sealObject appends header || nonce || ciphertext || tag to dst. h.Kind,
// h.Compressed and h.FileVersion must be set; the rest is filled in here.
func sealObject(dst []byte, sealKey []byte, h Header, m binding, epoch uint32, id ID, payload []byte) ([]byte, error) {
	h.Version = FormatVersion
	h.Epoch = epoch
	h.PayloadLen = uint32(len(payload))
	h.MatterTag = m.tag
	h.IDTag = [4]byte(id[:4])
	aead, err := newAEAD(sealKey, h.Kind, id, h.FileVersion)
	if err != nil {
		return nil, err
	}
	start := len(dst)
	dst = appendHeader(dst, h)
	var ab aadBuf
	return aead.Seal(dst, nil, payload, ab.build(dst[start:], m.matter, id)), nil
}

// openObject checks everything checkable in the clear, then authenticates
// and decrypts the payload, appending it to dst. Nothing is appended unless
// authentication succeeds.
func openObject(dst, sealed []byte, sealKey []byte, kind Kind, m binding, epoch uint32, id ID, version uint64) ([]byte, Header, error) {
	h, err := parseHeader(sealed)
	if err != nil {
		return dst, h, err
	}
	switch size := h.SealedSize(); {
	case int64(len(sealed)) < size:
		return dst, h, fmt.Errorf("%d bytes, header says %d: %w", len(sealed), size, ErrTruncated)
	case int64(len(sealed)) > size:
		return dst, h, fmt.Errorf("%d bytes after the declared end: %w", int64(len(sealed))-size, ErrBadHeader)
	}
	if err := h.check(kind, m, id, version); err != nil {
		return dst, h, err
	}
	if h.Epoch != epoch {
		return dst, h, fmt.Errorf("sealed under epoch %d, key is for epoch %d: %w", h.Epoch, epoch, ErrWrongEpoch)
	}
	aead, err := newAEAD(sealKey, kind, id, version)
	if err != nil {
		return dst, h, err
	}
	var ab aadBuf
	out, err := aead.Open(dst, nil, sealed[HeaderSize:], ab.build(sealed, m.matter, id))
	if err != nil {
		return dst, h, ErrAuth
	}
	return out, h, nil
}
