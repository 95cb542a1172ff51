package format

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	"github.com/PlakarKorp/go-cdc-chunkers/chunkers/fastcdc"
)

// chunkAll returns the chunk lengths of b and checks that the chunks
// reassemble to b.
func chunkAll(t testing.TB, c *Chunker, r io.Reader) (lens []int, data []byte) {
	t.Helper()
	for {
		p, err := c.Next()
		if err == io.EOF {
			return lens, data
		}
		if err != nil {
			t.Fatal(err)
		}
		lens = append(lens, len(p))
		data = append(data, p...)
	}
}

func TestChunkerSizes(t *testing.T) {
	c := NewChunker(nil)
	for _, n := range []int{0, 1, 100, MinChunkSize - 1, MinChunkSize, MinChunkSize + 1,
		MaxChunkSize - 1, MaxChunkSize, MaxChunkSize + 1, 3*MaxChunkSize + 12345} {
		for name, b := range map[string][]byte{"random": randomData(uint64(n), n), "zeros": make([]byte, n)} {
			c.Reset(bytes.NewReader(b))
			lens, data := chunkAll(t, c, nil)
			if !bytes.Equal(data, b) {
				t.Fatalf("%s %d: chunks do not reassemble the input", name, n)
			}
			if n == 0 && len(lens) != 0 {
				t.Fatalf("empty input gave %d chunks", len(lens))
			}
			for i, l := range lens {
				if l < 1 || l > MaxChunkSize || l < MinChunkSize && i != len(lens)-1 {
					t.Fatalf("%s %d: chunk %d of %d has %d bytes", name, n, i, len(lens), l)
				}
			}
			if name == "zeros" && n > MaxChunkSize && lens[0] != MaxChunkSize {
				t.Fatalf("zeros: first chunk %d bytes, want a forced cut at %d", lens[0], MaxChunkSize)
			}
		}
	}
}

// Boundaries must not depend on how the reader splits its reads.
func TestChunkerShortReads(t *testing.T) {
	b := randomData(7, 20<<20)
	want, _ := chunkAll(t, NewChunker(bytes.NewReader(b)), nil)
	got, data := chunkAll(t, NewChunker(iotest.HalfReader(iotest.DataErrReader(bytes.NewReader(b)))), nil)
	if !bytes.Equal(data, b) || len(got) != len(want) {
		t.Fatalf("short reads: %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("short reads: %v, want %v", got, want)
		}
	}
}

func TestChunkerReadError(t *testing.T) {
	boom := errors.New("boom")
	c := NewChunker(io.MultiReader(bytes.NewReader(randomData(1, 3<<20)), iotest.ErrReader(boom)))
	var err error
	for err == nil {
		_, err = c.Next()
	}
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want boom", err)
	}
	if _, err2 := c.Next(); !errors.Is(err2, boom) {
		t.Fatalf("error is not sticky: %v", err2)
	}
}

// insertReader streams n pseudo-random bytes with extra inserted at off,
// so the 256 MiB stability test holds only the chunker's buffer.
type insertReader struct {
	src        *rand.ChaCha8
	n, off     int64
	extra      []byte
	pos        int64 // bytes of the source stream delivered
	extraTaken int
}

func (r *insertReader) Read(p []byte) (int, error) {
	if r.pos == r.off && r.extraTaken < len(r.extra) {
		k := copy(p, r.extra[r.extraTaken:])
		r.extraTaken += k
		return k, nil
	}
	if r.pos >= r.n {
		return 0, io.EOF
	}
	lim := r.n - r.pos
	if r.pos < r.off && r.extraTaken < len(r.extra) {
		lim = r.off - r.pos
	}
	if int64(len(p)) > lim {
		p = p[:lim]
	}
	r.src.Read(p)
	r.pos += int64(len(p))
	return len(p), nil
}

func TestChunkingStability(t *testing.T) {
	const size = 256 << 20
	k := mustKeys(t, testMatter, 1)
	c := NewChunker(nil)
	ids := func(extra []byte) map[ID]int {
		c.Reset(&insertReader{src: rand.NewChaCha8([32]byte{'s', 't', 'a', 'b'}), n: size, off: size / 2, extra: extra})
		m := map[ID]int{}
		for {
			p, err := c.Next()
			if err == io.EOF {
				return m
			}
			if err != nil {
				t.Fatal(err)
			}
			m[k.ChunkID(p)]++
		}
	}
	before := ids(nil)
	after := ids(randomData(100, 100))
	changed := 0
	for id := range after {
		if before[id] == 0 {
			changed++
		}
	}
	t.Logf("%d chunks before, %d chunk IDs new after inserting 100 bytes", len(before), changed)
	if changed > 3 || changed == 0 {
		t.Errorf("%d chunk IDs changed, want 1 to 3", changed)
	}
}

// The gear table is part of the format (FORMAT.md, appendix A). The
// library exports it as a mutable variable; pin its content.
func TestGearTable(t *testing.T) {
	h := sha256.New()
	for _, g := range fastcdc.G {
		h.Write(binary.BigEndian.AppendUint64(nil, g))
	}
	const want = "ed8ddd78db5b997b1b80ca00701ad1c01a339f805de852cc229edd147cd251b2"
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		t.Fatalf("gear table SHA-256 (big-endian words) = %s, want %s", got, want)
	}
}
