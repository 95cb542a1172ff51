package web_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/mattersync/mattersync/format"
)

// zstdFrame builds a zstd frame by hand (RFC 8878): descriptor byte,
// window descriptor (wd < 0: none), dictionary ID and content size bytes,
// then the blocks.
func zstdFrame(fhd byte, wd int, dictAndFCS []byte, blocks ...[]byte) []byte {
	b := []byte{0x28, 0xb5, 0x2f, 0xfd, fhd}
	if wd >= 0 {
		b = append(b, byte(wd))
	}
	b = append(b, dictAndFCS...)
	for _, bl := range blocks {
		b = append(b, bl...)
	}
	return b
}

// zstdBlock is a block header (last flag, type, size) and its body.
func zstdBlock(last bool, typ, size int, body []byte) []byte {
	h := uint32(typ<<1 | size<<3)
	if last {
		h |= 1
	}
	return append([]byte{byte(h), byte(h >> 8), byte(h >> 16)}, body...)
}

func le(n uint64, size int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, n)
	return b[:size]
}

// goZstd decodes as format's Codec does (same decoder options) and
// classifies as format.OpenChunk does: too large, malformed (an empty
// result too: an empty chunk), or ok.
func goZstd(t *testing.T, payload []byte) (string, []byte) {
	d, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(format.MaxChunkSize), zstd.WithDecoderMaxWindow(format.MaxChunkSize), zstd.IgnoreChecksum(true))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	out, err := d.DecodeAll(payload, nil)
	switch {
	case errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded):
		return "too large", nil
	case err != nil, len(out) == 0:
		return "malformed", nil
	case len(out) > format.MaxChunkSize:
		return "too large", nil
	}
	return "ok", out
}

// TestZstdBoundsInChromium feeds hand-built and real zstd streams to
// zstd.js and to the Go decoder format uses: both must accept the same
// streams with the same output, and refuse the rest alike (too large or
// malformed), before allocating for a declared size.
func TestZstdBoundsInChromium(t *testing.T) {
	hello := zstdBlock(true, 0, 5, []byte("hello"))
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderCRC(true))
	if err != nil {
		t.Fatal(err)
	}
	text := []byte(strings.Repeat("the motion is granted in part and denied in part; ", 20000))
	real := enc.EncodeAll(text, nil)
	enc.Close()
	var rle8M, rleOver [][]byte
	for i := 0; i < 64; i++ {
		rle8M = append(rle8M, zstdBlock(i == 63, 1, 128<<10, []byte{'a'}))
		rleOver = append(rleOver, zstdBlock(false, 1, 128<<10, []byte{'a'}))
	}
	rleOver = append(rleOver, zstdBlock(true, 1, 1, []byte{'a'}))
	skippable := append([]byte{0x50, 0x2a, 0x4d, 0x18}, le(3, 4)...)
	skippable = append(skippable, 1, 2, 3)

	cases := []struct {
		name    string
		payload []byte
	}{
		{"raw block, 1 KiB window", zstdFrame(0x00, 0, nil, hello)},
		{"RLE block", zstdFrame(0x00, 0, nil, zstdBlock(true, 1, 1000, []byte{'x'}))},
		{"two frames", append(zstdFrame(0x00, 0, nil, hello), zstdFrame(0x00, 0, nil, hello)...)},
		{"skippable frame first", append(skippable, zstdFrame(0x00, 0, nil, hello)...)},
		{"checksum (ignored)", append(zstdFrame(0x04, 0, nil, hello), 1, 2, 3, 4)},
		{"single segment, content size 5", zstdFrame(0x20, -1, []byte{5}, hello)},
		{"real frame, best compression, checksum", real},
		{"RLE to exactly 8 MiB, 8 MiB window", zstdFrame(0x00, 13<<3, nil, rle8M...)},
		{"RLE to 8 MiB + 1", zstdFrame(0x00, 13<<3, nil, rleOver...)},
		{"window 16 MiB", zstdFrame(0x00, 14<<3, nil, hello)},
		{"window 8 MiB + 1/8", zstdFrame(0x00, 13<<3|1, nil, hello)},
		{"single segment declaring 8 MiB + 1", zstdFrame(0xa0, -1, le(8<<20+1, 4), hello)},
		{"content size 2^40 in 8 bytes", zstdFrame(0xc0, 10<<3, le(1<<40, 8), hello)},
		{"dictionary 7", zstdFrame(0x01, 0, []byte{7}, hello)},
		{"reserved bit", zstdFrame(0x08, 0, nil, hello)},
		{"reserved block type", zstdFrame(0x00, 0, nil, zstdBlock(true, 3, 5, []byte("hello")))},
		{"RLE block over 128 KiB", zstdFrame(0x00, 13<<3, nil, zstdBlock(true, 1, 200<<10, []byte{'a'}))},
		{"raw block over the 1 KiB window", zstdFrame(0x00, 0, nil, zstdBlock(true, 0, 2000, make([]byte, 2000)))},
		{"truncated raw block", zstdFrame(0x00, 0, nil, zstdBlock(true, 0, 5, []byte("hel")))},
		{"truncated real frame", real[:len(real)/2]},
		{"trailing bytes", append(zstdFrame(0x00, 0, nil, hello), 0, 0)},
		{"no last block", zstdFrame(0x00, 0, nil, zstdBlock(false, 0, 5, []byte("hello")))},
		{"not zstd", []byte("hello, this is not zstd")},
		{"empty content", zstdFrame(0x20, -1, []byte{0}, zstdBlock(true, 0, 0, nil))},
	}
	p := openPage(t)
	hexes := make([]string, len(cases))
	for i, c := range cases {
		hexes[i] = hex.EncodeToString(c.payload)
	}
	arg, _ := json.Marshal(hexes)
	type jsOut struct {
		Kind string `json:"kind"`
		Len  int    `json:"len"`
		Hex  string `json:"hex"`
	}
	got := eval[[]jsOut](t, p, fmt.Sprintf("zstdCases(%s, %d)", arg, format.MaxChunkSize))
	if len(got) != len(cases) {
		t.Fatalf("%d results for %d cases", len(got), len(cases))
	}
	kinds := map[string]int{}
	for i, c := range cases {
		want, out := goZstd(t, c.payload)
		g := got[i]
		if g.Kind == "ok" && g.Len == 0 {
			g.Kind = "malformed" // format.js refuses an empty chunk
		}
		kinds[want]++
		if g.Kind != want {
			t.Errorf("%s: zstd.js says %s, Go says %s", c.name, g.Kind, want)
			continue
		}
		if want == "ok" && (g.Len != len(out) || (g.Hex != "" && !bytes.Equal(mustHex(t, g.Hex), out))) {
			t.Errorf("%s: zstd.js gave %d bytes, Go %d", c.name, g.Len, len(out))
		}
	}
	t.Logf("outcomes, agreed with Go: %v", kinds)
	if kinds["ok"] < 7 || kinds["too large"] < 6 || kinds["malformed"] < 8 {
		t.Errorf("outcomes %v: the table no longer covers each kind", kinds)
	}
}

func mustHex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
