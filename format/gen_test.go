package format

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
)

// Deterministic test inputs. Nothing here depends on the clock or on
// global random state, so every failure reproduces.

// counterStream returns n bytes of SHA-256 in counter mode:
// block i = SHA-256(seed || be64(i)). FORMAT.md uses it for the chunker
// vector because any language can reproduce it.
func counterStream(seed string, n int) []byte {
	out := make([]byte, 0, n+sha256.Size)
	buf := []byte(seed)
	l := len(buf)
	for i := uint64(0); len(out) < n; i++ {
		buf = binary.BigEndian.AppendUint64(buf[:l], i)
		s := sha256.Sum256(buf)
		out = append(out, s[:]...)
	}
	return out[:n]
}

// randomData returns n incompressible bytes (ChaCha8, fast).
func randomData(seed uint64, n int) []byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	b := make([]byte, n)
	rand.NewChaCha8(s).Read(b)
	return b
}

var words = []string{
	"the", "of", "and", "to", "a", "in", "that", "is", "for", "court", "party",
	"agreement", "shall", "be", "by", "plaintiff", "defendant", "pursuant",
	"section", "contract", "notice", "claim", "damages", "hereby", "counsel",
	"client", "matter", "evidence", "witness", "exhibit", "motion", "order",
	"judgment", "appeal", "liability", "indemnify", "confidential", "privileged",
	"discovery", "deposition", "settlement", "arbitration", "jurisdiction",
	"breach", "warranty", "termination", "obligations", "respectively",
	"notwithstanding", "foregoing", "herein", "thereof", "whereas", "provided",
	"however", "including", "without", "limitation", "reasonable", "written",
}

// textLike returns n bytes of prose-like ASCII with numbers and line
// breaks; zstd's fastest level shrinks it about as much as real briefs.
func textLike(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x6d617474))
	b := make([]byte, 0, n+64)
	for len(b) < n {
		// Zipf-like: low indexes are much more frequent.
		w := words[int(float64(len(words))*r.Float64()*r.Float64())]
		b = append(b, w...)
		switch x := r.IntN(40); {
		case x == 0:
			b = append(b, ".\n\n"...)
		case x < 3:
			b = append(b, ", "...)
		case x == 3:
			b = append(b, " §"...)
			b = append(b, byte('0'+r.IntN(10)), byte('0'+r.IntN(10)), ' ')
		default:
			b = append(b, ' ')
		}
	}
	return b[:n]
}

// zipLike returns a docx-like archive: deflated XML parts, one stored
// image-like part. Almost incompressible, as real office files are.
func zipLike(seed uint64, n int) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; buf.Len() < n; i++ {
		w, err := zw.Create("word/document" + string(rune('a'+i%26)) + ".xml")
		if err != nil {
			panic(err)
		}
		w.Write(textLike(seed+uint64(i), 256<<10))
		if i%3 == 2 {
			w, err = zw.CreateHeader(&zip.FileHeader{Name: "word/media/image.png", Method: zip.Store})
			if err != nil {
				panic(err)
			}
			w.Write(randomData(seed+uint64(i), 64<<10))
		}
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}
