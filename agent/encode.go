package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
)

// encoded is a file cut into chunks, every chunk already on the gateway.
type encoded struct {
	refs []format.ChunkRef
	ids  []string
	hash [32]byte
	size uint64
}

// Upload batching: chunks are held (as plaintext copies) until a batch is
// full, then one "which are missing?" request decides which get sealed and
// sent. Memory per upload is bounded by batchBytes; sealing only what is
// missing makes renames and re-saves cost almost nothing. 8 MiB (a few
// chunks) keeps the files uploaded at once (fileWorkers) within a
// small peak RSS; a question per 8 MiB costs nothing next to the upload.
//
// Sealed chunks on their way up are held in the agent's sealBufs, at most
// sealedInFlight of them (each up to MaxChunkSize): the bound on upload
// memory across all files, where each put worker of each file used to
// keep a sealed buffer of its own (issue 22: sixteen 8 MiB buffers).
const (
	batchBytes     = 8 << 20
	batchChunks    = 64
	putWorkers     = 4
	sealedInFlight = 4
)

// encode reads a file once: chunks, chunk IDs, whole-file hash, and uploads
// the chunks the gateway lacks.
func (a *Agent) encode(ctx context.Context, matter string, k *format.Keys, f io.Reader) (*encoded, error) {
	ch := a.chunkers.Get().(*format.Chunker)
	defer a.chunkers.Put(ch)
	ch.Reset(f)
	defer ch.Reset(nil)

	enc := &encoded{}
	h := sha256.New()
	var batch []pendingChunk
	var held int
	flush := func() error {
		err := a.sendMissing(ctx, matter, k, batch)
		for _, p := range batch {
			a.bufs.Put(p.buf)
		}
		batch, held = batch[:0], 0
		return err
	}
	seen := map[format.ID]bool{}
	for {
		chunk, err := ch.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			flush()
			return nil, fmt.Errorf("read: %w", localErr(err))
		}
		id := k.ChunkID(chunk)
		h.Write(chunk)
		enc.refs = append(enc.refs, format.ChunkRef{ID: id, Size: uint32(len(chunk))})
		enc.ids = append(enc.ids, id.String())
		enc.size += uint64(len(chunk))
		if seen[id] {
			continue // repeated content within the file: send once
		}
		seen[id] = true
		buf := a.bufs.Get().(*[]byte)
		*buf = append((*buf)[:0], chunk...)
		batch = append(batch, pendingChunk{id: id, buf: buf})
		held += cap(*buf) // what the batch really holds in memory
		if held >= batchBytes || len(batch) >= batchChunks {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	copy(enc.hash[:], h.Sum(nil))
	return enc, nil
}

type pendingChunk struct {
	id  format.ID
	buf *[]byte // plaintext copy, from Agent.bufs
}

// sendMissing asks which chunks of batch the gateway lacks and seals and
// uploads those, putWorkers at a time.
func (a *Agent) sendMissing(ctx context.Context, matter string, k *format.Keys, batch []pendingChunk) error {
	if len(batch) == 0 {
		return nil
	}
	if len(batch) == 1 && len(*batch[0].buf) <= sendOneBytes && !a.isKnownChunk(matter, batch[0].id) {
		if done, err := a.sendOne(ctx, matter, k, batch[0]); done {
			return err
		}
	}
	ids := make([]string, len(batch))
	byID := make(map[string]pendingChunk, len(batch))
	for i, p := range batch {
		ids[i] = p.id.String()
		byID[ids[i]] = p
	}
	missing, err := a.remote.MissingChunks(ctx, matter, ids)
	if err != nil {
		return fmt.Errorf("ask for missing chunks: %w", err)
	}
	if err := a.verifyPresent(ctx, matter, k, batch, missing); err != nil {
		return err
	}
	work := make(chan pendingChunk)
	errs := make(chan error, putWorkers)
	var wg sync.WaitGroup
	for range min(putWorkers, len(missing)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codec := a.getCodec()
			defer a.putCodec(codec)
			for p := range work {
				err := a.sealAndPut(ctx, codec, matter, k, p)
				if err == nil {
					a.knownChunk(matter, p.id)
				}
				if err != nil {
					errs <- fmt.Errorf("upload chunk %s: %w", p.id, err)
					return
				}
			}
		}()
	}
	var firstErr error
feed:
	for _, id := range missing {
		p, ok := byID[id]
		if !ok {
			firstErr = fmt.Errorf("gateway named chunk %q that was not asked for", id)
			break
		}
		select {
		case work <- p:
		case firstErr = <-errs:
			break feed
		case <-ctx.Done():
			firstErr = ctx.Err()
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr == nil {
		select {
		case firstErr = <-errs:
		default:
		}
	}
	return firstErr
}

// sealAndPut seals p into one of the agent's sealing buffers (waiting for
// one) and uploads it.
func (a *Agent) sealAndPut(ctx context.Context, codec *format.Codec, matter string, k *format.Keys, p pendingChunk) error {
	var buf *[]byte
	select {
	case buf = <-a.sealBufs:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { a.sealBufs <- buf }()
	sealed, err := codec.SealChunk((*buf)[:0], k, p.id, *p.buf)
	if err != nil {
		return err
	}
	*buf = sealed
	a.waitUpload(ctx, len(sealed))
	return a.remote.PutChunk(ctx, matter, p.id.String(), sealed)
}

// sendOneBytes bounds the chunks sendOne sends unasked: a gateway that
// has the chunk answers without reading the body, and Go's server drains
// up to 256 KiB of an unread body to keep the connection.
const sendOneBytes = 200 << 10

// sendOne uploads p, the one new chunk of a batch (a small file's),
// without first asking whether the gateway has it, if the remote tells
// whether it stored the body (chunkSender); done is false if it cannot.
// A chunk the gateway had already is opened before anything is committed
// on it, as verifyPresent does for chunks the missing-chunks answer says
// are present.
func (a *Agent) sendOne(ctx context.Context, matter string, k *format.Keys, p pendingChunk) (done bool, err error) {
	var s chunkSender
	switch r := a.remote.(type) {
	case politeRemote:
		s = r.sender()
	case chunkSender:
		s = r
	}
	if s == nil {
		return false, nil
	}
	codec := a.getCodec()
	sealed, err := codec.SealChunk(nil, k, p.id, *p.buf)
	a.putCodec(codec)
	if err != nil {
		return true, err
	}
	a.waitUpload(ctx, len(sealed))
	created, err := s.SendChunk(ctx, matter, p.id.String(), sealed)
	if err != nil {
		return true, fmt.Errorf("upload chunk %s: %w", p.id, err)
	}
	if created {
		a.knownChunk(matter, p.id)
		return true, nil
	}
	return true, a.verifyPresent(ctx, matter, k, []pendingChunk{p}, nil)
}

// verifyPresent opens every chunk the gateway says it has but this agent
// has never itself uploaded or opened. Without this, a member could plant
// a garbage chunk under the ID of content a colleague is about to save (the
// ID is computable by every member): the colleague's upload would dedupe
// against it and commit a version nobody can read. A stored chunk that
// does not open to the content in hand is replaced with a good sealing of
// it (repairChunk), so the planted object stops blocking the matter.
func (a *Agent) verifyPresent(ctx context.Context, matter string, k *format.Keys, batch []pendingChunk, missing []string) error {
	absent := make(map[string]bool, len(missing))
	for _, id := range missing {
		absent[id] = true
	}
	var plain []byte
	var codec *format.Codec
	defer func() {
		if codec != nil {
			a.putCodec(codec)
		}
	}()
	for _, p := range batch {
		if absent[p.id.String()] || a.isKnownChunk(matter, p.id) {
			continue
		}
		sealed, err := a.remote.GetChunk(ctx, matter, p.id.String())
		if err != nil {
			return fmt.Errorf("check stored chunk %s: %w", p.id, err)
		}
		if codec == nil {
			codec = a.getCodec()
		}
		hdr, err := format.ParseHeader(sealed)
		if err == nil && hdr.Epoch != k.Epoch() {
			err = fmt.Errorf("sealed under epoch %d, expected %d: %w", hdr.Epoch, k.Epoch(), format.ErrWrongEpoch)
		}
		if err == nil {
			plain, err = codec.OpenChunk(plain[:0], k, p.id, sealed)
		}
		if err == nil && !bytes.Equal(plain, *p.buf) {
			err = errTampered
		}
		if err != nil {
			if err := a.repairChunk(ctx, codec, matter, k, p, sealed, err); err != nil {
				return err
			}
		}
		a.knownChunk(matter, p.id)
	}
	return nil
}

// repairChunk replaces the gateway's copy of chunk p, which failed to open
// to p's content (why), with p sealed afresh. The gateway checks that the
// object it replaces is the one found bad and audits the replacement with
// its history (chunk.replace), so IT can see who planted and who repaired.
func (a *Agent) repairChunk(ctx context.Context, codec *format.Codec, matter string, k *format.Keys, p pendingChunk, stored []byte, why error) error {
	a.log.Warn("the gateway's copy of a chunk does not open to this content (corrupt, or planted by someone with the matter key): replacing it with a good copy",
		"matter", matter, "chunk", p.id.String(), "reason", why.Error())
	sealed, err := codec.SealChunk(nil, k, p.id, *p.buf)
	if err == nil {
		_, err = a.remote.ReplaceChunk(ctx, matter, p.id.String(), sealed, sha256.Sum256(stored))
	}
	if err != nil {
		a.reportIntegrity(ctx, matter, api.IntegrityChunkAuth, p.id.String(), 0)
		return fmt.Errorf("the gateway's copy of chunk %s does not open to this content (corrupt, or planted by someone with the matter key) and replacing it failed (%v); not committed, tell IT: %w", p.id, err, errTampered)
	}
	a.log.Info("chunk replaced on the gateway", "matter", matter, "chunk", p.id.String())
	return nil
}
