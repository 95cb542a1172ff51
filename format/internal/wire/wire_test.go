package wire

import (
	"errors"
	"testing"
)

func TestReader(t *testing.T) {
	r := NewReader([]byte{1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4, 'a', 'b'})
	if r.U8() != 1 || r.U16() != 2 || r.U32() != 3 || r.U64() != 4 || string(r.Bytes(2)) != "ab" || r.Err() != nil || r.Len() != 0 {
		t.Fatal("fields misread")
	}
	// Reading past the end sets a sticky error and returns zero values.
	if r.U8() != 0 || !errors.Is(r.Err(), ErrShort) {
		t.Fatal("no error past the end")
	}
	r = NewReader([]byte{1, 2, 3})
	if r.U32() != 0 || r.U8() != 0 || !errors.Is(r.Err(), ErrShort) {
		t.Fatal("error not sticky")
	}
	if NewReader([]byte{1}).Bytes(-1) != nil {
		t.Fatal("negative length accepted")
	}
}
