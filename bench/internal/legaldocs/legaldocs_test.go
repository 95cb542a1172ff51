package legaldocs

import (
	"archive/zip"
	"bytes"
	"math/rand/v2"
	"testing"
)

// Each generator gives the size asked for (a Docx at least that), the
// same bytes for the same seed, and a Docx that opens as a zip.
func TestGenerators(t *testing.T) {
	for _, size := range []int64{1, 1000, 200 << 10} {
		a, b := Text(rand.New(rand.NewPCG(1, 2)), size), Text(rand.New(rand.NewPCG(1, 2)), size)
		if int64(len(a)) != size || !bytes.Equal(a, b) {
			t.Fatalf("Text(%d): %d bytes, repeatable %v", size, len(a), bytes.Equal(a, b))
		}
		if p := PDF(rand.New(rand.NewPCG(3, 4)), size); int64(len(p)) != size || !bytes.HasPrefix([]byte("%PDF-1.7\n"), p[:min(len(p), 9)]) {
			t.Fatalf("PDF(%d): %d bytes, starts %q", size, len(p), p[:min(len(p), 9)])
		}
		d := Docx(rand.New(rand.NewPCG(5, 6)), size)
		if int64(len(d)) < size {
			t.Fatalf("Docx(%d): %d bytes", size, len(d))
		}
		if _, err := zip.NewReader(bytes.NewReader(d), int64(len(d))); err != nil {
			t.Fatalf("Docx(%d) is not a zip: %v", size, err)
		}
	}
}
