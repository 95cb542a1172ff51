package sqlcore

import (
	"context"
	"errors"

	"golang.org/x/sync/errgroup"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/store"
)

// blobWriters bounds the manifest writes of one batch running at once.
const blobWriters = 8

// CommitBatch implements gateway.FileStore: b's chunks and commits, in one
// transaction, each commit through the steps of Commit (checkCommit,
// writeBlob, insertVersion). The commits' files are locked together
// (DB.CommitFiles); the chunks are recorded first in the write
// transaction, so a commit in the batch may reference them, and the audit
// records follow in order: one per chunk, then one per commit, refused or
// not. A refused commit gets its error in its Err and the rest go on; an
// error returned means nothing of the batch was recorded (manifests or
// chunk objects already written are unreferenced garbage).
func (s *Store) CommitBatch(ctx context.Context, b *store.Batch) error {
	files := make([]format.ID, len(b.Commits))
	ps := make([]*pending, len(b.Commits))
	for i := range b.Commits {
		bc := &b.Commits[i]
		if bc.Commit.Matter != b.Matter {
			return s.wrap("batch", errors.New("a commit of another matter"))
		}
		files[i] = bc.Commit.File
		ps[i] = newPending(bc.Commit, bc.Write, bc.Rec)
	}
	// sent: the chunks this request stored, which it records itself (so
	// commits on them need no presence check); found: those whose object
	// it found in storage without a record, recorded too, but commits on
	// them are refused (store.PresentChunksError) until the writer opened
	// them. A chunk the request skipped (the matter had it) is neither:
	// commits on it are checked, and its row locked, like any stored
	// chunk's (it may have been collected since the request looked).
	sent := make(map[format.ID]struct{}, len(b.Chunks))
	found := map[format.ID]struct{}{}
	ids := make([]format.ID, 0, len(b.Chunks))
	keys := make([]string, len(b.Chunks))
	var locked []string
	for i, c := range b.Chunks {
		if c.Chunk.Matter != b.Matter {
			return s.wrap("batch", errors.New("a chunk of another matter"))
		}
		ids = append(ids, c.Chunk.ID)
		if !c.Stored && !c.Existed {
			continue
		}
		key, err := blob.ChunkKey(c.Chunk.Matter, c.Chunk.ID)
		if err != nil {
			return s.wrap("batch", err)
		}
		keys[i] = key
		locked = append(locked, key)
		if c.Stored {
			sent[c.Chunk.ID] = struct{}{}
		} else {
			found[c.Chunk.ID] = struct{}{}
		}
	}
	refused := make([]error, len(ps))
	err := s.db.CommitFiles(ctx, b.Matter, files, func(check Querier, apply func(func(Querier) error) error) error {
		// The chunks of the batch the matter has already, and those found
		// in storage unrecorded: commits on them are refused
		// (store.PresentChunksError).
		before, err := s.presentChunks(ctx, check, b.Matter, ids, "")
		if err != nil {
			return err
		}
		for id := range found {
			before[id] = struct{}{}
		}
		for i, p := range ps {
			refused[i] = s.checkCommit(ctx, check, p, sent, before)
			if refused[i] != nil && !refusal(refused[i]) {
				return refused[i]
			}
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(blobWriters)
		for i, p := range ps {
			if refused[i] == nil {
				g.Go(func() error { return p.writeBlob(gctx) })
			}
		}
		if err := g.Wait(); err != nil {
			return err
		}
		return apply(func(tx Querier) error {
			if err := s.lockKeys(ctx, tx, locked); err != nil {
				return err
			}
			// Stored chunks another upload recorded since the check, and
			// those found in storage: the same rule as for those found
			// recorded then.
			seen := map[format.ID]struct{}{}
			for i := range b.Chunks {
				c := &b.Chunks[i]
				c.Created = false
				if keys[i] != "" {
					created, err := s.recordChunk(ctx, tx, c.Chunk, keys[i])
					if err != nil {
						return err
					}
					c.Created = created
					if _, ok := before[c.Chunk.ID]; !created && !ok || c.Existed {
						seen[c.Chunk.ID] = struct{}{}
					}
				}
				if err := s.appendAudit(ctx, tx, c.Rec); err != nil {
					return err
				}
			}
			for i, p := range ps {
				if refused[i] == nil {
					refused[i] = s.insertVersion(ctx, tx, p, seen)
					if refused[i] != nil && !refusal(refused[i]) {
						return refused[i]
					}
				}
				if refused[i] != nil && b.Refused != nil {
					b.Refused(refused[i], p.rec)
				}
				if err := s.appendAudit(ctx, tx, p.rec); err != nil {
					return err
				}
			}
			return nil
		})
	})
	var we writeError
	switch {
	case errors.As(err, &we):
		return we.err
	case errors.Is(err, store.ErrObjectGone):
		return err
	case err != nil:
		return s.wrap("batch", err)
	}
	for i, p := range ps {
		if b.Commits[i].Err = refused[i]; refused[i] == nil {
			b.Commits[i].Version = p.v
		}
	}
	return nil
}
