package format

import (
	"fmt"
	"io"

	chunkers "github.com/PlakarKorp/go-cdc-chunkers"
	_ "github.com/PlakarKorp/go-cdc-chunkers/chunkers/fastcdc" // registers "fastcdc-v1.0.0"
)

// Chunking parameters. They are part of the format: every agent must cut
// the same file at the same places, or identical content stops
// deduplicating. TestChunkerVector pins the resulting boundaries.
const (
	MinChunkSize    = 512 << 10 // no cut before this many bytes, except at EOF
	NormalChunkSize = 1 << 20   // FastCDC normalization point (not the mean)
	MaxChunkSize    = 8 << 20   // forced cut; also the decompression limit
)

// chunkAlgorithm is the versioned FastCDC of github.com/PlakarKorp/go-cdc-chunkers,
// whose output the library promises to keep stable under this name.
const chunkAlgorithm = "fastcdc-v1.0.0"

// ChunkerBufferSize is the memory a Chunker holds: twice the largest
// chunk, so the library compacts its window once per 8 MiB instead of once
// per chunk.
const ChunkerBufferSize = 2 * MaxChunkSize

// Chunker splits a stream into content-defined chunks with bounded memory
// (ChunkerBufferSize). Reuse one per worker with Reset. Not safe for
// concurrent use.
type Chunker struct {
	c   *chunkers.Chunker
	err error // sticky: io.EOF after the last chunk, or the read error
}

// NewChunker returns a Chunker reading r.
func NewChunker(r io.Reader) *Chunker {
	c, err := chunkers.NewChunkerBuffer(chunkAlgorithm, r, &chunkers.ChunkerOpts{
		MinSize:    MinChunkSize,
		NormalSize: NormalChunkSize,
		MaxSize:    MaxChunkSize,
	}, make([]byte, ChunkerBufferSize))
	if err != nil {
		// The algorithm is compiled in and the options are constants.
		panic("format: chunker setup: " + err.Error())
	}
	return &Chunker{c: c}
}

// Reset makes the Chunker read r from the start, reusing its buffer.
func (c *Chunker) Reset(r io.Reader) {
	c.c.Reset(r)
	c.err = nil
}

// Next returns the next chunk: 1 to MaxChunkSize bytes that alias the
// Chunker's buffer and stay valid until the next call to Next or Reset.
// At the end it returns nil, io.EOF; an empty stream has no chunks.
// A read error is returned wrapped, and again on every later call.
func (c *Chunker) Next() ([]byte, error) {
	if c.err != nil {
		return nil, c.err
	}
	data, err := c.c.Next()
	switch {
	case err == io.EOF:
		// The library returns the last chunk together with io.EOF when it
		// is shorter than MinChunkSize.
		c.err = io.EOF
		if len(data) == 0 {
			return nil, io.EOF
		}
		return data, nil
	case err != nil:
		c.err = fmt.Errorf("format: chunker: %w", err)
		return nil, c.err
	}
	return data, nil
}
