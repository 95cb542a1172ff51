package gateway

// POST /v1/matters/{m}/batch: many small files in one request. A small
// file costs one chunk upload and one commit, each a request with its own
// audit transaction; a batch carries the chunks and commits of many files,
// stores the chunks' objects first, then records the chunks and commits
// the versions in one store transaction (store.Batch), with one audit
// record per chunk and per commit as the single requests would have made.
// Each commit is checked by the store's commit path, as a single commit is,
// and is committed or refused on its own.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/store"
)

// batchUploads bounds the chunk objects of one batch stored at once.
const batchUploads = 8

// batchesPerUser bounds one entity's batches in flight (429 beyond): each
// holds up to max_batch_bytes twice and, on PostgreSQL, a transaction
// with its files' locks while its manifests are written. The agent sends
// two at once.
const batchesPerUser = 4

// batchItemsPerToken is how many of a batch's chunks and commits one token
// of the per-user rate limit pays for: a small file is one of each, so at
// the default 100 requests/s a user syncs up to 1,000 small files a
// second, and a batch amplifies what one token buys at most 20 times.
const batchItemsPerToken = 20

func (s *Server) batch(w http.ResponseWriter, r *http.Request, rq *request) error {
	const op = "file.batch"
	if _, err := queryParams(r, op); err != nil {
		return err
	}
	l := s.cfg.Limits
	leave, ok := s.inflight.enter(s.inflight.batching, rq.ident.Entity, batchesPerUser)
	if !ok {
		s.metrics.denials.WithLabelValues("concurrent_per_user").Inc()
		return &Error{Op: op, Kind: KindRateLimited, RetryAfter: time.Second,
			Msg: fmt.Sprintf("more than %d batches at once from this user", batchesPerUser)}
	}
	defer leave()
	s.extendDeadlines(w, rq, max(r.ContentLength, 0), 0)
	var req api.BatchRequest
	if err := decodeJSON(w, r, op, l.MaxBatchBytes, &req); err != nil {
		return err
	}
	switch {
	case len(req.Chunks) == 0 && len(req.Commits) == 0:
		return E(op, KindInvalid, "an empty batch: send chunks, commits or both")
	case len(req.Chunks) > l.MaxBatchItems || len(req.Commits) > l.MaxBatchItems:
		return E(op, KindTooLarge, "at most %d chunks and %d commits per batch (limits.max_batch_items)", l.MaxBatchItems, l.MaxBatchItems)
	}
	rq.rec.Object = fmt.Sprintf("%d chunks %d commits", len(req.Chunks), len(req.Commits))
	// The per-user rate limit counts a batch's items, batchItemsPerToken
	// to a token (the request's token is the first): one token per batch
	// multiplied the limit by up to 2 × max_batch_items, and one per item
	// held a first sync of small files to the one-request-per-file rate
	// the batch exists to beat.
	items := len(req.Chunks) + len(req.Commits)
	if n := (items+batchItemsPerToken-1)/batchItemsPerToken - 1; n > 0 {
		if ok, wait := s.limiter.allowN(rq.ident.Entity, n, time.Now()); !ok {
			s.metrics.denials.WithLabelValues("rate_limited").Inc()
			return &Error{Op: op, Kind: KindRateLimited, RetryAfter: wait,
				Msg: fmt.Sprintf("too many requests: a batch of %d chunks and commits counts as %d requests", items, n+1)}
		}
	}
	cur, err := s.epochs.Epoch(r.Context(), rq.matter)
	if err != nil {
		return storeErr(op, err)
	}
	chunks, err := s.batchChunks(rq, req.Chunks, cur)
	if err != nil {
		return err
	}
	commits, err := s.batchCommits(rq, req.Commits, cur)
	if err != nil {
		return err
	}
	// Chunks before manifests: every object is in storage before the
	// store runs a commit (its manifest is written after the chunks).
	if err := s.storeBatchChunks(r.Context(), rq, chunks); err != nil {
		return err
	}
	b := &store.Batch{Matter: rq.matter, Chunks: make([]store.BatchChunk, len(chunks)), Commits: commits,
		Refused: func(err error, rec *audit.Record) {
			e := asError("file.commit", storeErr("file.commit", err))
			rec.Result, rec.Status, rec.Bytes = e.Kind.Result(), e.Kind.Status(), 0
		}}
	for i, c := range chunks {
		size := int64(len(c.sealed))
		if c.existed {
			size = c.size
		}
		b.Chunks[i] = store.BatchChunk{Chunk: store.Chunk{Matter: rq.matter, ID: c.id, Size: size, Time: time.Now()}, Rec: c.rec,
			Stored: c.stored, Existed: c.existed}
	}
	began := s.live.committing()
	if err := s.files.CommitBatch(r.Context(), b); err != nil {
		if errors.Is(err, store.ErrObjectGone) {
			return wrap(op, KindUnavailable, err, "a chunk's object was being collected; send the batch again")
		}
		return storeErr(op, err)
	}
	s.mutated(rq)
	resp := api.BatchResponse{Chunks: make([]api.ChunkPut, len(chunks)), Commits: make([]api.BatchResult, len(commits))}
	for i, c := range b.Chunks {
		resp.Chunks[i] = api.ChunkPut{ID: c.Chunk.ID.String(), Size: c.Chunk.Size, Created: c.Created && chunks[i].stored}
	}
	committed := false
	for i, c := range b.Commits {
		res := api.BatchResult{FileID: c.Commit.File.String(), Status: http.StatusCreated}
		if c.Err != nil {
			e := asError("file.commit", storeErr("file.commit", c.Err))
			body := e.body(rq.id)
			res.Status, res.Error = e.Kind.Status(), &body
		} else {
			res.Version, res.Seq = c.Version.Version, c.Version.Seq
			committed = true
		}
		resp.Commits[i] = res
	}
	if committed {
		s.live.committed(rq.matter, began)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// batchChunk is a checked chunk of a batch.
type batchChunk struct {
	id     format.ID
	sealed []byte
	rec    *audit.Record
	// stored: this request stored its object; existed: the object was in
	// storage though the matter had no record of it (blob.ErrExists), of
	// size bytes. Neither: the matter had the chunk (store.BatchChunk).
	stored, existed bool
	size            int64
}

// record is a copy of rq's audit record for one item of its batch.
func itemRecord(rq *request, action, object string, status int, bytes int64) *audit.Record {
	rec := rq.rec
	rec.Action, rec.Object, rec.Status, rec.Bytes, rec.Result = action, object, status, bytes, audit.ResultOK
	return &rec
}

// epochRefusal is checkEpoch's answer for an object sealed under epoch
// when the matter's is cur.
func epochRefusal(op, matter string, epoch, cur uint32) error {
	switch {
	case epoch < cur:
		return staleEpoch(op, epoch, cur, nil)
	case cur > 0 && epoch > cur:
		return &Error{Op: op, Kind: KindStaleEpoch, CurrentEpoch: cur,
			Msg: fmt.Sprintf("sealed under epoch %d, which the gateway does not know yet (matter %s is at epoch %d here): the rotation's gateway step was not done; an administrator runs `mattersync-admin epoch set %s %d`", epoch, matter, cur, matter, epoch)}
	}
	return nil
}

// batchChunks checks a batch's chunks as a chunk PUT checks its body
// (header bound to this matter and ID, length, epoch); any bad one refuses
// the whole batch, naming it.
func (s *Server) batchChunks(rq *request, in []api.BatchChunk, cur uint32) ([]batchChunk, error) {
	const op = "file.batch"
	out := make([]batchChunk, len(in))
	seen := make(map[format.ID]bool, len(in))
	for i, c := range in {
		id, err := format.ParseID(c.ID)
		if err != nil {
			return nil, E(op, KindInvalid, "chunks[%d]: id is not a valid chunk ID", i)
		}
		if seen[id] {
			return nil, E(op, KindInvalid, "chunks[%d]: chunk %s is sent twice", i, id)
		}
		seen[id] = true
		switch n := int64(len(c.Sealed)); {
		case n == 0:
			return nil, E(op, KindInvalid, "chunks[%d]: empty chunk", i)
		case n > s.cfg.Limits.MaxChunkBytes:
			return nil, E(op, KindTooLarge, "chunks[%d]: chunk larger than %d bytes", i, s.cfg.Limits.MaxChunkBytes)
		}
		h, err := format.ParseHeader(c.Sealed)
		if err == nil {
			err = h.Check(format.KindChunk, rq.matter, id, 0)
		}
		if err != nil {
			return nil, wrap(op, KindInvalid, err, fmt.Sprintf("chunks[%d]: not a sealed chunk of this matter and ID: %s", i, err))
		}
		if h.SealedSize() != int64(len(c.Sealed)) {
			return nil, E(op, KindInvalid, "chunks[%d]: %d bytes but the chunk header says %d", i, len(c.Sealed), h.SealedSize())
		}
		if err := epochRefusal(op, rq.matter, h.Epoch, cur); err != nil {
			return nil, err
		}
		out[i] = batchChunk{id: id, sealed: c.Sealed}
	}
	return out, nil
}

// batchCommits checks a batch's commits as a commit PUT checks its body
// (manifest sealed for this matter, file and version base+1, not a
// tombstone; chunk IDs; reference limits; epoch); any bad one refuses the
// whole batch, naming it.
func (s *Server) batchCommits(rq *request, in []api.BatchCommit, cur uint32) ([]store.BatchCommit, error) {
	const op = "file.batch"
	l := s.cfg.Limits
	out := make([]store.BatchCommit, len(in))
	seen := make(map[format.ID]bool, len(in))
	now := time.Now()
	for i, c := range in {
		file, err := format.ParseID(c.FileID)
		if err != nil {
			return nil, E(op, KindInvalid, "commits[%d]: file_id is not a valid file ID", i)
		}
		if seen[file] {
			return nil, E(op, KindInvalid, "commits[%d]: file %s is committed twice in one batch", i, file)
		}
		seen[file] = true
		if c.Base < 0 || c.Base >= 1<<53 {
			return nil, E(op, KindInvalid, "commits[%d]: base must be a version (0 for a new file)", i)
		}
		h, err := sealedManifest(op, c.Manifest, rq.matter, file, c.Base)
		if err != nil {
			e := asError(op, err)
			e.Msg = fmt.Sprintf("commits[%d]: %s", i, e.Msg)
			return nil, e
		}
		if h.Tombstone {
			return nil, E(op, KindInvalid, "commits[%d]: a deletion is committed with DELETE, not in a batch", i)
		}
		if err := epochRefusal(op, rq.matter, h.Epoch, cur); err != nil {
			return nil, err
		}
		if len(c.Chunks) > l.MaxCommitChunks {
			return nil, E(op, KindTooLarge, "commits[%d]: at most %d chunk references per commit", i, l.MaxCommitChunks)
		}
		if n, most := int64(len(c.Chunks)), maxReferences(l.MaxFileSize); n > most {
			return nil, E(op, KindFileTooLarge, "commits[%d]: %d chunk references describe a file of at least %d bytes, more than max_file_size (%d bytes)",
				i, n, (n-1)*format.MinChunkSize+1, l.MaxFileSize)
		}
		ids := make([]format.ID, len(c.Chunks))
		for j, v := range c.Chunks {
			if ids[j], err = format.ParseID(v); err != nil {
				return nil, E(op, KindInvalid, "commits[%d]: chunks[%d] is not a valid chunk ID", i, j)
			}
		}
		size := int64(len(c.Manifest))
		rec := itemRecord(rq, "file.commit", file.String(), http.StatusCreated, size)
		out[i] = store.BatchCommit{
			Commit: store.Commit{Matter: rq.matter, File: file, Base: c.Base, Size: size, Epoch: h.Epoch, Chunks: ids,
				Entity: rq.ident.Entity, User: rq.ident.User, Device: rq.rec.Device, Time: now},
			Write: s.writeBatchManifest(rq, file, c.Manifest, rec),
			Rec:   rec,
		}
	}
	return out, nil
}

// writeBatchManifest is writeManifest for one commit of a batch: its own
// key per attempt, its own audit record.
func (s *Server) writeBatchManifest(rq *request, file format.ID, manifest []byte, rec *audit.Record) store.WriteFunc {
	return func(ctx context.Context, version int64) (string, error) {
		key, err := blob.ManifestAttemptKey(rq.matter, file, version, rq.id)
		if err != nil {
			return "", err
		}
		rec.Object = file.String() + "@" + strconv.FormatInt(version, 10)
		return key, s.blobs.Create(ctx, key, bytes.NewReader(manifest), int64(len(manifest)), sha256.Sum256(manifest))
	}
}

// storeBatchChunks stores the objects of the chunks the matter lacks,
// batchUploads at once, and makes each chunk's audit record. A chunk the
// matter has is not stored again (its body is dropped), as a chunk PUT
// does, and is not recorded by the batch: it may be collected before the
// store transaction, and then commits on it are refused as missing.
func (s *Server) storeBatchChunks(ctx context.Context, rq *request, chunks []batchChunk) error {
	const op = "file.batch"
	if len(chunks) == 0 {
		return nil
	}
	ids := make([]format.ID, len(chunks))
	for i, c := range chunks {
		ids[i] = c.id
	}
	missing, err := s.chunks.MissingChunks(ctx, rq.matter, ids)
	if err != nil {
		return storeErr(op, err)
	}
	absent := make(map[format.ID]bool, len(missing))
	for _, id := range missing {
		absent[id] = true
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(batchUploads)
	for i := range chunks {
		c := &chunks[i]
		c.rec = itemRecord(rq, "chunk.put", c.id.String(), http.StatusOK, 0)
		if !absent[c.id] {
			continue
		}
		g.Go(func() error {
			key, err := blob.ChunkKey(rq.matter, c.id)
			if err != nil {
				return err
			}
			err = s.blobs.Create(gctx, key, bytes.NewReader(c.sealed), int64(len(c.sealed)), sha256.Sum256(c.sealed))
			switch {
			case errors.Is(err, blob.ErrExists):
				// Another upload of it won, or one whose record failed (or
				// a planted object): chunks are immutable, so the first
				// object stays and is recorded as a chunk PUT records it,
				// with its own size; commits on it are refused until the
				// writer opened it (chunks_present), as nobody checked it.
				size, err := s.blobs.Size(gctx, key)
				if err != nil {
					return err
				}
				c.existed, c.size = true, size
			case err != nil:
				return err
			default:
				c.stored = true
				c.rec.Status, c.rec.Bytes = http.StatusCreated, int64(len(c.sealed))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return storeErr(op, err)
	}
	return nil
}
