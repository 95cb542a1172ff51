package format

import (
	"bytes"
	"errors"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestChunkRoundTrip(t *testing.T) {
	k, c := mustKeys(t, testMatter, 2), mustCodec(t)
	cases := []struct {
		name       string
		plain      []byte
		compressed bool
	}{
		{"1 byte", []byte{42}, false},
		{"text", textLike(1, 1<<20), true},
		{"small text", []byte("Dear counsel, please find attached."), false}, // zstd does not pay
		{"random", randomData(1, 1<<20), false},
		{"docx-like zip", zipLike(1, 1<<20)[:1<<20], false},
		{"zeros max", make([]byte, MaxChunkSize), true},
		{"random max", randomData(2, MaxChunkSize), false},
		{"text min", textLike(2, MinChunkSize), true},
	}
	dst := make([]byte, 0, MaxChunkSize+Overhead)
	for _, tc := range cases {
		id := k.ChunkID(tc.plain)
		sealed, err := c.SealChunk(dst[:0], k, id, tc.plain)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		h, err := ParseHeader(sealed)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if h.Compressed != tc.compressed || h.Kind != KindChunk || h.Epoch != 2 || h.SealedSize() != int64(len(sealed)) {
			t.Errorf("%s: header %+v, want compressed=%v", tc.name, h, tc.compressed)
		}
		if !tc.compressed && len(sealed) != len(tc.plain)+Overhead {
			t.Errorf("%s: raw chunk sealed to %d bytes, want %d", tc.name, len(sealed), len(tc.plain)+Overhead)
		}
		prefix := []byte("prefix")
		got, err := c.OpenChunk(prefix, k, id, sealed)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !bytes.Equal(got[:len(prefix)], prefix) || !bytes.Equal(got[len(prefix):], tc.plain) {
			t.Fatalf("%s: round trip changed the data", tc.name)
		}
	}
	// Sealing twice gives different ciphertexts (random nonce) that both open.
	p := []byte("twice")
	id := k.ChunkID(p)
	a, _ := c.SealChunk(nil, k, id, p)
	b, _ := c.SealChunk(nil, k, id, p)
	if bytes.Equal(a, b) {
		t.Error("two seals are identical: nonce not random")
	}
	if _, err := c.SealChunk(nil, k, ID{}, nil); err == nil {
		t.Error("sealed an empty chunk")
	}
	if _, err := c.SealChunk(nil, k, ID{}, make([]byte, MaxChunkSize+1)); err == nil {
		t.Error("sealed an oversized chunk")
	}
}

func TestCompressible(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"text", textLike(3, 1<<20), true},
		{"zeros", make([]byte, 1<<20), true},
		{"random", randomData(3, 1<<20), false},
		{"docx-like zip", zipLike(3, 1<<20), false},
		{"counter stream", counterStream("c", 1<<20), false},
	} {
		if got := compressible(tc.b); got != tc.want {
			t.Errorf("compressible(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// sealedSamples returns a raw and a compressed sealed chunk, small enough
// to flip every bit.
func sealedSamples(t *testing.T, k *Keys, c *Codec) map[string][2][]byte {
	t.Helper()
	out := map[string][2][]byte{}
	for name, p := range map[string][]byte{"raw": randomData(9, 40), "zstd": textLike(9, 300)} {
		id := k.ChunkID(p)
		s, err := c.SealChunk(nil, k, id, p)
		if err != nil {
			t.Fatal(err)
		}
		if h, _ := ParseHeader(s); h.Compressed != (name == "zstd") {
			t.Fatalf("%s sample: compressed = %v", name, h.Compressed)
		}
		out[name] = [2][]byte{id[:], s}
	}
	return out
}

func TestChunkBitFlips(t *testing.T) {
	k, c := mustKeys(t, testMatter, 2), mustCodec(t)
	for name, s := range sealedSamples(t, k, c) {
		id, sealed := ID(s[0]), s[1]
		for i := range len(sealed) * 8 {
			b := bytes.Clone(sealed)
			b[i/8] ^= 1 << (i % 8)
			if out, err := c.OpenChunk(nil, k, id, b); err == nil {
				t.Fatalf("%s: flipping bit %d went undetected (%d bytes out)", name, i, len(out))
			}
		}
		t.Logf("%s: all %d single-bit flips detected", name, len(sealed)*8)
	}
}

func TestChunkTruncation(t *testing.T) {
	k, c := mustKeys(t, testMatter, 2), mustCodec(t)
	for name, s := range sealedSamples(t, k, c) {
		id, sealed := ID(s[0]), s[1]
		for n := range len(sealed) {
			_, err := c.OpenChunk(nil, k, id, sealed[:n])
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("%s truncated to %d of %d bytes: %v, want ErrTruncated", name, n, len(sealed), err)
			}
		}
		if _, err := c.OpenChunk(nil, k, id, append(bytes.Clone(sealed), 0)); !errors.Is(err, ErrBadHeader) {
			t.Fatalf("%s with a trailing byte: %v, want ErrBadHeader", name, err)
		}
	}
}

func TestChunkMoved(t *testing.T) {
	k, c := mustKeys(t, testMatter, 2), mustCodec(t)
	p := textLike(5, 5000)
	id := k.ChunkID(p)
	sealed, err := c.SealChunk(nil, k, id, p)
	if err != nil {
		t.Fatal(err)
	}
	otherID := k.ChunkID([]byte("other"))
	for _, tc := range []struct {
		name string
		k    *Keys
		id   ID
		want error
	}{
		{"other matter", mustKeys(t, otherMatter, 2), id, ErrWrongMatter},
		{"other epoch", mustKeys(t, testMatter, 3), id, ErrWrongEpoch},
		{"other ID", k, otherID, ErrWrongID},
	} {
		if _, err := c.OpenChunk(nil, tc.k, tc.id, sealed); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// Rewriting the clear header to match does not help: the binding is
	// authenticated.
	forge := func(f func(b []byte)) []byte { b := bytes.Clone(sealed); f(b); return b }
	other := mustKeys(t, otherMatter, 2)
	mt := matterTag(otherMatter)
	for _, tc := range []struct {
		name   string
		k      *Keys
		id     ID
		sealed []byte
	}{
		{"matter tag rewritten", other, id, forge(func(b []byte) { copy(b[24:28], mt[:]) })},
		{"epoch rewritten", mustKeys(t, testMatter, 3), id, forge(func(b []byte) { b[11] = 3 })},
		{"ID tag rewritten", k, otherID, forge(func(b []byte) { copy(b[28:32], otherID[:4]) })},
	} {
		if _, err := c.OpenChunk(nil, tc.k, tc.id, tc.sealed); !errors.Is(err, ErrAuth) {
			t.Errorf("%s: %v, want ErrAuth", tc.name, err)
		}
	}
	// A manifest is not a chunk.
	m := &Manifest{Path: "a", Version: 1}
	sm, fid, err := k.SealManifest(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.OpenChunk(nil, k, fid, sm); !errors.Is(err, ErrBadHeader) {
		t.Errorf("manifest opened as chunk: %v, want ErrBadHeader", err)
	}
}

// A member holding the key can seal anything under any chunk ID; OpenChunk
// still refuses content that does not hash to the ID, and zip bombs.
func TestChunkInsider(t *testing.T) {
	k, c := mustKeys(t, testMatter, 2), mustCodec(t)
	id := k.ChunkID([]byte("genuine"))
	forged, err := c.SealChunk(nil, k, id, []byte("substituted"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.OpenChunk(nil, k, id, forged); !errors.Is(err, ErrMalformed) {
		t.Errorf("substituted content: %v, want ErrMalformed", err)
	}

	// Zip bombs, with and without the frame content size.
	withFCS := c.enc.EncodeAll(make([]byte, MaxChunkSize+1), nil)
	var buf bytes.Buffer
	w, _ := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedFastest))
	w.Write(make([]byte, 2*MaxChunkSize))
	w.Close()
	for name, z := range map[string][]byte{"with size": withFCS, "streamed": buf.Bytes(), "garbage": []byte("not zstd at all")} {
		sealed, err := sealObject(nil, k.chunkSeal, Header{Kind: KindChunk, Compressed: true}, newBinding(testMatter), 2, id, z)
		if err != nil {
			t.Fatal(err)
		}
		want := ErrTooLarge
		if name == "garbage" {
			want = ErrMalformed
		}
		if _, err := c.OpenChunk(nil, k, id, sealed); !errors.Is(err, want) {
			t.Errorf("zip bomb %s (%d bytes): %v, want %v", name, len(z), err, want)
		}
	}
}

// FuzzOpenChunk opens arbitrary bytes as a sealed chunk. When the input's
// first byte is odd, the rest is instead sealed with the matter key first
// (bit 1: flagged as zstd), so that the fuzzer also reaches what only a key
// holder can: zstd decoding, its size limit and the chunk ID check.
func FuzzOpenChunk(f *testing.F) {
	k, c := mustKeys(f, testMatter, 2), mustCodec(f)
	for _, p := range [][]byte{{1}, textLike(1, 2000), randomData(1, 300)} {
		id := k.ChunkID(p)
		s, err := c.SealChunk(nil, k, id, p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]byte{0}, s...), id[:4])
		f.Add(append([]byte{0}, s[:HeaderSize+5]...), id[:4])
		f.Add(append([]byte{1}, p...), id[:4])
		f.Add(append([]byte{3}, c.enc.EncodeAll(p, nil)...), id[:4])
	}
	f.Add([]byte("\x00msyn"), []byte{0, 0, 0, 0})
	f.Add(append([]byte{3}, c.enc.EncodeAll(make([]byte, MaxChunkSize+1), nil)...), []byte{})
	f.Fuzz(func(t *testing.T, in, idPrefix []byte) {
		if len(in) == 0 {
			return
		}
		// Use the ID whose tag the input claims, so mutations reach AES-GCM.
		id := k.ChunkID([]byte{1})
		copy(id[:], idPrefix)
		sealed := in[1:]
		if in[0]&1 == 1 {
			if len(sealed) == 0 || len(sealed) > MaxChunkSize {
				return
			}
			var err error
			sealed, err = sealObject(nil, k.chunkSeal, Header{Kind: KindChunk, Compressed: in[0]&2 != 0}, newBinding(testMatter), 2, id, sealed)
			if err != nil {
				t.Fatal(err)
			}
		}
		out, err := c.OpenChunk([]byte("x"), k, id, sealed)
		if err == nil {
			// Only genuine chunks open: the content must hash to the ID.
			if k.ChunkID(out[1:]) != id || len(out)-1 > MaxChunkSize {
				t.Fatalf("opened %d bytes that do not hash to the ID", len(out)-1)
			}
			return
		}
		if string(out) != "x" {
			t.Fatalf("dst modified on error %v", err)
		}
		for _, e := range []error{ErrTruncated, ErrBadHeader, ErrUnsupportedVersion, ErrTooLarge,
			ErrWrongMatter, ErrWrongEpoch, ErrWrongID, ErrAuth, ErrMalformed} {
			if errors.Is(err, e) {
				return
			}
		}
		t.Fatalf("unclassified error %v", err)
	})
}

// One Codec and one Keys serve many goroutines (run with -race).
func TestCodecConcurrent(t *testing.T) {
	k, c := mustKeys(t, testMatter, 2), mustCodec(t)
	errc := make(chan error, 8)
	for g := range 8 {
		go func() {
			var err error
			for i := range 10 {
				p := textLike(uint64(g*100+i), 3000+i)
				if i%2 == 1 {
					p = randomData(uint64(g*100+i), 3000+i)
				}
				id := k.ChunkID(p)
				var s, out []byte
				if s, err = c.SealChunk(nil, k, id, p); err != nil {
					break
				}
				if out, err = c.OpenChunk(nil, k, id, s); err == nil && !bytes.Equal(out, p) {
					err = errors.New("round trip changed the data")
				}
				if err != nil {
					break
				}
			}
			errc <- err
		}()
	}
	for range 8 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}
