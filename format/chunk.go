package format

import (
	"errors"
	"fmt"
	"math"
	"runtime"

	"github.com/klauspost/compress/zstd"
)

// Codec compresses, seals, opens and decompresses chunks. It owns the zstd
// state and scratch buffers, which are too costly to create per chunk.
// Create one per process (or per worker pool) and share it: it is safe for
// concurrent use.
type Codec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
	// scratch holds up to GOMAXPROCS buffers for compressed payloads,
	// grown on demand. A channel rather than a sync.Pool: the pool is
	// emptied at every GC, and each refill would cost megabytes.
	scratch chan []byte
}

// NewCodec returns a Codec serving up to GOMAXPROCS concurrent calls
// without blocking.
func NewCodec() (*Codec, error) {
	n := runtime.GOMAXPROCS(0)
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(n),
		zstd.WithEncoderCRC(false), // AES-GCM already authenticates
		zstd.WithWindowSize(zstdWindow),
		zstd.WithZeroFrames(true),
		zstd.WithAllLitEntropyCompression(true), // base64 mail attachments: 25% smaller
	)
	if err != nil {
		return nil, fmt.Errorf("format: zstd encoder: %w", err)
	}
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(n),
		zstd.WithDecoderMaxMemory(MaxChunkSize), // no zip bombs
		zstd.WithDecoderMaxWindow(MaxChunkSize),
		zstd.IgnoreChecksum(true),
	)
	if err != nil {
		enc.Close()
		return nil, fmt.Errorf("format: zstd decoder: %w", err)
	}
	return &Codec{enc: enc, dec: dec, scratch: make(chan []byte, n)}, nil
}

func (c *Codec) getScratch() []byte {
	select {
	case b := <-c.scratch:
		return b
	default:
		return nil
	}
}

func (c *Codec) putScratch(b []byte) {
	select {
	case c.scratch <- b[:0]:
	default:
	}
}

// zstdWindow bounds the encoder's history, hence its memory (about twice
// the window per concurrent encoder). 1 MiB compresses text chunks as well
// as 8 MiB at the fastest level. Readers accept windows up to MaxChunkSize.
const zstdWindow = 1 << 20

// Close releases the zstd state. The Codec must not be used afterwards.
func (c *Codec) Close() {
	c.enc.Close()
	c.dec.Close()
}

// SealChunk compresses plain when that pays and seals it under k for chunk
// ID id, appending the sealed chunk to dst. id must be k.ChunkID(plain);
// SealChunk does not recompute it (OpenChunk does). plain must hold 1 to
// MaxChunkSize bytes.
func (c *Codec) SealChunk(dst []byte, k *Keys, id ID, plain []byte) ([]byte, error) {
	if len(plain) == 0 || len(plain) > MaxChunkSize {
		return dst, fmt.Errorf("format: seal chunk %s: %d bytes, want 1 to %d", id, len(plain), MaxChunkSize)
	}
	h := Header{Kind: KindChunk}
	payload := plain
	if compressible(plain) {
		z := c.enc.EncodeAll(plain, c.getScratch())
		defer c.putScratch(z)
		// Keep the compressed form only if it saves at least 1/32: below
		// that, the reader's decompression costs more than the bytes saved.
		if len(z) <= len(plain)-len(plain)/32 {
			payload, h.Compressed = z, true
		}
	}
	out, err := sealObject(dst, k.chunkSeal, h, k.fileIDs.binding(), k.epoch, id, payload)
	if err != nil {
		return dst, fmt.Errorf("format: seal chunk %s: %w", id, err)
	}
	return out, nil
}

// OpenChunk verifies and decrypts a sealed chunk that must belong to k's
// matter and epoch and to chunk ID id, and appends its plaintext to dst.
// It decompresses at most MaxChunkSize bytes and checks that the plaintext
// hashes to id, so a member who holds the key still cannot substitute the
// content of a deduplicated chunk. On error, dst is returned unchanged.
// Use ParseHeader first to learn which epoch's Keys to use.
func (c *Codec) OpenChunk(dst []byte, k *Keys, id ID, sealed []byte) ([]byte, error) {
	out, err := c.openChunk(dst, k, id, sealed)
	if err != nil {
		return dst, fmt.Errorf("format: open chunk %s: %w", id, err)
	}
	return out, nil
}

func (c *Codec) openChunk(dst []byte, k *Keys, id ID, sealed []byte) ([]byte, error) {
	start := len(dst)
	var h Header
	var err error
	if len(sealed) >= 7 && sealed[6]&flagZstd != 0 {
		// Compressed: decrypt into scratch, then decompress into dst.
		scratch := c.getScratch()
		var z []byte
		z, h, err = openObject(scratch, sealed, k.chunkSeal, KindChunk, k.fileIDs.binding(), k.epoch, id, 0)
		if err != nil {
			c.putScratch(scratch)
			return dst, err
		}
		defer c.putScratch(z)
		if !h.Compressed {
			return dst, ErrAuth // unreachable: the flag is authenticated
		}
		// Decode into the free tail of dst: klauspost/compress v1.20.3
		// compares the frame size plus len(dst) with the memory limit, so a
		// non-empty dst would make a full-size chunk fail.
		var out []byte
		out, err = c.dec.DecodeAll(z, dst[start:start])
		if err == nil {
			if len(out) > 0 && cap(dst)-start >= len(out) && &dst[:start+1][start] == &out[0] {
				dst = dst[:start+len(out)]
			} else {
				dst = append(dst, out...)
			}
		}
		if err != nil {
			if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
				return dst[:start], fmt.Errorf("decompresses beyond %d bytes: %w (%w)", MaxChunkSize, ErrTooLarge, err)
			}
			return dst[:start], fmt.Errorf("zstd: %w: %w", ErrMalformed, err)
		}
	} else {
		dst, _, err = openObject(dst, sealed, k.chunkSeal, KindChunk, k.fileIDs.binding(), k.epoch, id, 0)
		if err != nil {
			return dst[:start], err
		}
	}
	plain := dst[start:]
	switch {
	case len(plain) == 0:
		return dst[:start], fmt.Errorf("empty chunk: %w", ErrMalformed)
	case len(plain) > MaxChunkSize:
		return dst[:start], fmt.Errorf("decompresses to %d bytes: %w", len(plain), ErrTooLarge)
	case k.ChunkID(plain) != id:
		return dst[:start], fmt.Errorf("content does not hash to the chunk ID: %w", ErrMalformed)
	}
	return dst, nil
}

// compressible guesses cheaply whether zstd will pay, so that already
// compressed data (JPEG, docx/xlsx zips, PDF streams, random) skips the
// compressor. It measures the order-0 entropy of up to 8 spread 4 KiB
// samples: about 8 bits per byte for compressed data, about 6 for base64,
// 4 to 5 for text and office XML (see TestCompressible). A wrong guess
// only costs time: the 1/32 rule in SealChunk still stores raw.
func compressible(p []byte) bool {
	const window, samples = 4 << 10, 8
	var hist [256]uint32
	count := func(s []byte) {
		for _, c := range s {
			hist[c]++
		}
	}
	n := len(p)
	if n <= window*samples {
		count(p)
	} else {
		n = window * samples
		step := (len(p) - window) / (samples - 1)
		for i := range samples {
			count(p[i*step : i*step+window])
		}
	}
	var bits float64
	for _, h := range hist {
		if h != 0 {
			f := float64(h) / float64(n)
			bits -= f * math.Log2(f)
		}
	}
	return bits < maxEntropyBits
}

// maxEntropyBits is the entropy (bits per byte) from which a chunk is
// stored without trying zstd.
const maxEntropyBits = 7.5
