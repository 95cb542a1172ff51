package format

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"io"
	"testing"
	"time"
)

// Benchmarks report throughput; nothing here asserts on time. Run
//
//	go test -run '^$' -bench . -benchtime 3x ./format
//
// BenchmarkPipeline also measures, in the same process and on the same
// chunks, the serial cost of each primitive the pipeline runs and reports
// limit-MB/s = bytes / Σ primitive times and pct-of-limit = pipeline
// throughput / limit.

const benchInput = 32 << 20

func benchData() map[string][]byte {
	return map[string][]byte{"text": textLike(42, benchInput), "random": randomData(42, benchInput)}
}

func BenchmarkPipeline(b *testing.B) {
	k, c := mustKeys(b, testMatter, 2), mustCodec(b)
	for _, name := range []string{"text", "random"} {
		data := benchData()[name]
		b.Run(name, func(b *testing.B) {
			ch := NewChunker(nil)
			dst := make([]byte, 0, MaxChunkSize+Overhead)
			var chunks, sealed int
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				chunks, sealed = 0, 0
				ch.Reset(bytes.NewReader(data))
				for {
					p, err := ch.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					id := k.ChunkID(p)
					out, err := c.SealChunk(dst[:0], k, id, p)
					if err != nil {
						b.Fatal(err)
					}
					chunks++
					sealed += len(out)
				}
			}
			pipeline := b.Elapsed().Seconds() / float64(b.N)
			limit := primitiveSeconds(b, k, c, data)
			mbs := func(s float64) float64 { return float64(len(data)) / s / 1e6 }
			b.ReportMetric(mbs(limit), "limit-MB/s")
			b.ReportMetric(100*limit/pipeline, "pct-of-limit")
			b.ReportMetric(float64(sealed)/float64(len(data)), "sealed/plain")
			b.ReportMetric(float64(chunks), "chunks")
		})
	}
}

// primitiveSeconds returns the serial time of the pipeline's primitives
// over data, run one after the other on the chunks the pipeline sees:
// chunking, HMAC-SHA256 of every chunk, the compressibility probe and zstd
// where the pipeline compresses, AES-256-GCM over what it seals. Best of 3.
func primitiveSeconds(b *testing.B, k *Keys, c *Codec, data []byte) float64 {
	var chunks [][]byte
	ch := NewChunker(bytes.NewReader(data))
	for {
		p, err := ch.Next()
		if err != nil {
			break
		}
		chunks = append(chunks, bytes.Clone(p))
	}
	aead := benchAEAD(b)
	mac := hmac.New(sha256.New, k.chunkSeal)
	z := make([]byte, 0, MaxChunkSize)
	out := make([]byte, 0, MaxChunkSize+Overhead)
	best := func(f func()) float64 {
		m := 1e9
		for range 3 {
			t0 := time.Now()
			f()
			m = min(m, time.Since(t0).Seconds())
		}
		return m
	}
	tCDC := best(func() {
		ch.Reset(bytes.NewReader(data))
		for _, err := ch.Next(); err == nil; _, err = ch.Next() {
		}
	})
	tMAC := best(func() {
		var s [32]byte
		for _, p := range chunks {
			mac.Reset()
			mac.Write(p)
			mac.Sum(s[:0])
		}
	})
	tZstdAES := best(func() {
		for _, p := range chunks {
			payload := p
			if compressible(p) {
				z = c.enc.EncodeAll(p, z[:0])
				if len(z) <= len(p)-len(p)/32 {
					payload = z
				}
			}
			out = aead.Seal(out[:0], nil, payload, nil)
		}
	})
	return tCDC + tMAC + tZstdAES
}

func benchAEAD(b *testing.B) cipher.AEAD {
	block, err := aes.NewCipher(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		b.Fatal(err)
	}
	return aead
}

// Primitive figures for the table, on 1 MiB blocks of the same inputs.
func BenchmarkPrimitives(b *testing.B) {
	const block = 1 << 20
	c := mustCodec(b)
	data := benchData()
	b.Run("aes-gcm-seal", func(b *testing.B) {
		aead, p := benchAEAD(b), data["random"][:block]
		out := make([]byte, 0, block+Overhead)
		b.SetBytes(block)
		for b.Loop() {
			out = aead.Seal(out[:0], nil, p, nil)
		}
	})
	b.Run("aes-gcm-open", func(b *testing.B) {
		aead, p := benchAEAD(b), data["random"][:block]
		s := aead.Seal(nil, nil, p, nil)
		out := make([]byte, 0, block)
		b.SetBytes(block)
		for b.Loop() {
			if _, err := aead.Open(out[:0], nil, s, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hmac-sha256", func(b *testing.B) {
		mac, p := hmac.New(sha256.New, make([]byte, 32)), data["random"][:block]
		var s [32]byte
		b.SetBytes(block)
		for b.Loop() {
			mac.Reset()
			mac.Write(p)
			mac.Sum(s[:0])
		}
	})
	for _, name := range []string{"text", "random"} {
		d := data[name]
		b.Run("fastcdc/"+name, func(b *testing.B) {
			ch := NewChunker(nil)
			b.SetBytes(int64(len(d)))
			for b.Loop() {
				ch.Reset(bytes.NewReader(d))
				for _, err := ch.Next(); err == nil; _, err = ch.Next() {
				}
			}
		})
		b.Run("probe/"+name, func(b *testing.B) {
			b.SetBytes(block)
			for b.Loop() {
				compressible(d[:block])
			}
		})
		b.Run("zstd-encode/"+name, func(b *testing.B) {
			z := make([]byte, 0, 2*block)
			b.SetBytes(block)
			for b.Loop() {
				z = c.enc.EncodeAll(d[:block], z[:0])
			}
			b.ReportMetric(float64(len(z))/block, "ratio")
		})
	}
	b.Run("zstd-decode/text", func(b *testing.B) {
		z := c.enc.EncodeAll(data["text"][:block], nil)
		out := make([]byte, 0, block)
		b.SetBytes(block)
		for b.Loop() {
			var err error
			if out, err = c.dec.DecodeAll(z, out[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkOpenChunk is the reader's side: open (AES-GCM, zstd decode,
// HMAC check) of 1 MiB chunks.
func BenchmarkOpenChunk(b *testing.B) {
	k, c := mustKeys(b, testMatter, 2), mustCodec(b)
	for _, name := range []string{"text", "random"} {
		p := benchData()[name][:1<<20]
		id := k.ChunkID(p)
		s, err := c.SealChunk(nil, k, id, p)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			out := make([]byte, 0, MaxChunkSize)
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				if out, err = c.OpenChunk(out[:0], k, id, s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
