// Package legaldocs makes the file contents the benchmarks sync: text that
// compresses like a lawyer's, Office documents (zip containers), PDFs,
// from a seeded generator so runs can be compared.
package legaldocs

import (
	"archive/zip"
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
)

var words = strings.Fields("the court held that plaintiff defendant motion to dismiss is granted denied pursuant rule evidence discovery deposition exhibit counsel agreement party shall indemnify hereunder whereas witness testimony objection sustained overruled settlement privileged confidential")

// Text is size bytes of legal-sounding prose (a mail, a memo).
func Text(rng *rand.Rand, size int64) []byte {
	var buf bytes.Buffer
	buf.Grow(int(size) + 16)
	for int64(buf.Len()) < size {
		buf.WriteString(words[rng.IntN(len(words))])
		if rng.IntN(12) == 0 {
			buf.WriteString(".\n")
		} else {
			buf.WriteByte(' ')
		}
	}
	return buf.Bytes()[:size]
}

// Docx is a zip container of prose parts of about size bytes, as a Word
// document is: already compressed.
func Docx(rng *rand.Rand, size int64) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; int64(buf.Len()) < size; i++ {
		w, _ := zw.Create(fmt.Sprintf("word/part%d.xml", i))
		w.Write(Text(rng, 64<<10))
	}
	zw.Close()
	return buf.Bytes()
}

// PDF is size bytes of a PDF-like file: a header and compressed streams.
func PDF(rng *rand.Rand, size int64) []byte {
	b := append([]byte("%PDF-1.7\n"), Docx(rng, size)...)
	return b[:min(int64(len(b)), size)]
}
