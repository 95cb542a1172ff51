package agent

import (
	"context"
	"fmt"
	"hash"
	"io"

	"github.com/mattersync/mattersync/format"
)

// chunksAhead is how many chunks of one file are fetched and opened ahead
// of the one being written: enough to overlap the gateway's latency with
// decryption and the disk, while holding at most chunksAhead+1 chunks
// (each at most format.MaxChunkSize) per download.
const chunksAhead = 4

// downloadBudget bounds, agent-wide, the plaintext bytes of the chunks
// being fetched or waiting for their writer: filesAhead files of
// chunksAhead+1 chunks of up to format.MaxChunkSize would otherwise be
// 360 MiB. A tree of small files holds little of it, so more of them are
// fetched at once: their round trips through the gateway (each read's
// audit record committed before it is served), not their bytes, bound
// such a download.
const downloadBudget = 64 << 20

// fetchedChunk is one chunk of a download, opened and checked, or why not.
type fetchedChunk struct {
	plain  *[]byte // from Agent.bufs
	err    error
	weight int64 // of Agent.downBudget, released once written or dropped
}

// writeChunks fetches the chunks of man, up to chunksAhead at once, opens
// and checks each (authenticity, chunk ID, size), and writes them to w in
// order, hashing what it writes into h. A chunk that fails stops the
// download: the caller never installs what w received unless every chunk
// and the whole file's hash are verified.
func (m *matterSync) writeChunks(ctx context.Context, mk *matterKeys, man *format.Manifest, w io.Writer, h hash.Hash) (uint64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	order := make(chan chan fetchedChunk, chunksAhead)
	go func() {
		defer close(order)
		for i, ref := range man.Chunks {
			// Taken in chunk order, so a file's next chunk to write
			// always holds its share: every holder is a fetch under way
			// or a chunk its writer is about to take.
			w := min(int64(ref.Size), downloadBudget)
			if err := m.a.downBudget.Acquire(ctx, w); err != nil {
				return
			}
			res := make(chan fetchedChunk, 1)
			select {
			case order <- res:
			case <-ctx.Done():
				m.a.downBudget.Release(w)
				return
			}
			go func() {
				c := m.fetchChunk(ctx, mk, man.Path, i, ref)
				c.weight = w
				res <- c
			}()
		}
	}()
	var total uint64
	var err error
	for res := range order {
		c := <-res
		if err == nil && c.err != nil {
			err = c.err
			cancel() // the fetches in flight end early; their results are dropped below
		}
		if err == nil {
			h.Write(*c.plain)
			if _, werr := w.Write(*c.plain); werr != nil {
				err = fmt.Errorf("write %s: %w", man.Path, localErr(werr)) // a full disk lands here; the old file is untouched
				cancel()
			}
			total += uint64(len(*c.plain))
		}
		if c.plain != nil {
			m.a.bufs.Put(c.plain)
		}
		m.a.downBudget.Release(c.weight)
	}
	return total, err
}

// fetchChunk fetches chunk i of the file at rel and opens it.
func (m *matterSync) fetchChunk(ctx context.Context, mk *matterKeys, rel string, i int, ref format.ChunkRef) fetchedChunk {
	sealed, err := m.a.remote.GetChunk(ctx, m.id, ref.ID.String())
	if err != nil {
		return fetchedChunk{err: fmt.Errorf("download %s chunk %d: %w", rel, i, err)}
	}
	m.a.waitDownload(ctx, len(sealed))
	hdr, err := format.ParseHeader(sealed)
	if err != nil {
		return fetchedChunk{err: &chunkFault{ref.ID, fmt.Errorf("%s chunk %d: %w", rel, i, err)}}
	}
	k, err := mk.epoch(ctx, hdr.Epoch)
	if err != nil {
		return fetchedChunk{err: err}
	}
	codec := m.a.getCodec()
	defer m.a.putCodec(codec)
	buf := m.a.bufs.Get().(*[]byte)
	*buf, err = codec.OpenChunk((*buf)[:0], k, ref.ID, sealed)
	if err != nil {
		m.a.bufs.Put(buf)
		return fetchedChunk{err: &chunkFault{ref.ID, fmt.Errorf("%s chunk %d: %w", rel, i, err)}}
	}
	if len(*buf) != int(ref.Size) {
		n := len(*buf)
		m.a.bufs.Put(buf)
		return fetchedChunk{err: &chunkFault{ref.ID, fmt.Errorf("%s chunk %d: %d bytes, manifest says %d: %w", rel, i, n, ref.Size, errTampered)}}
	}
	m.a.knownChunk(m.id, ref.ID)
	return fetchedChunk{plain: buf}
}
