// Package wire reads the big-endian, length-prefixed fields of the
// manifest encoding with one sticky error, so that decoders read like the
// specification and cannot index out of bounds.
package wire

import (
	"encoding/binary"
	"errors"
)

// ErrShort is the sticky error of a Reader that ran out of input.
var ErrShort = errors.New("input too short")

// Reader consumes a byte slice field by field. After the first failure
// every method returns zero values and Err reports ErrShort.
type Reader struct {
	b   []byte
	err error
}

// NewReader returns a Reader over b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err returns ErrShort if a read ran past the end of the input.
func (r *Reader) Err() error { return r.err }

// Len returns the number of unread bytes.
func (r *Reader) Len() int { return len(r.b) }

// Bytes returns the next n bytes, aliasing the input.
func (r *Reader) Bytes(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.err = ErrShort
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

// Rest returns all unread bytes.
func (r *Reader) Rest() []byte { return r.Bytes(len(r.b)) }

// U8 reads one byte.
func (r *Reader) U8() uint8 {
	if p := r.Bytes(1); p != nil {
		return p[0]
	}
	return 0
}

// U16 reads a big-endian uint16.
func (r *Reader) U16() uint16 {
	if p := r.Bytes(2); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

// U32 reads a big-endian uint32.
func (r *Reader) U32() uint32 {
	if p := r.Bytes(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

// U64 reads a big-endian uint64.
func (r *Reader) U64() uint64 {
	if p := r.Bytes(8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}
