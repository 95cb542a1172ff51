package sqlcore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"slices"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/store"
)

// MissingChunks implements gateway.ChunkStore.
func (s *Store) MissingChunks(ctx context.Context, matter string, ids []format.ID) ([]format.ID, error) {
	present, err := s.presentChunks(ctx, s.db.Read(), matter, ids, "")
	if err != nil {
		return nil, err
	}
	return missing(ids, present), nil
}

// presentChunks is the set of ids that matter has a chunk for. lock, ""
// or the dialect's ShareLock, locks the rows found until the transaction
// ends, in ID order, so a collection that would remove one waits (or runs
// first, and the chunk is missing).
func (s *Store) presentChunks(ctx context.Context, q Querier, matter string, ids []format.ID, lock string) (map[format.ID]struct{}, error) {
	present := make(map[format.ID]struct{}, len(ids))
	if lock != "" {
		ids = slices.Clone(ids)
		slices.SortFunc(ids, func(a, b format.ID) int { return bytes.Compare(a[:], b[:]) })
	}
	for _, batch := range s.batches(ids) {
		in, args := s.d.InIDs("id", 2, batch)
		found, err := queryAll(ctx, q, nil, func(sc Scanner) (format.ID, error) {
			var b []byte
			if err := sc.Scan(&b); err != nil {
				return format.ID{}, err
			}
			return s.id(b)
		}, `SELECT id FROM chunks WHERE matter = $1 AND `+in+orderedLock(lock), append([]any{matter}, args...)...)
		if err != nil {
			return nil, s.wrap("chunks", err)
		}
		for _, id := range found {
			present[id] = struct{}{}
		}
	}
	return present, nil
}

// Chunk implements gateway.ChunkStore.
func (s *Store) Chunk(ctx context.Context, matter string, id format.ID) (store.Chunk, error) {
	c := store.Chunk{Matter: matter, ID: id}
	var us int64
	err := s.db.Read().QueryRow(ctx, `SELECT size, created_us, object_key FROM chunks WHERE matter = $1 AND id = $2`, matter, id[:]).Scan(&c.Size, &us, &c.Key)
	if errors.Is(err, sql.ErrNoRows) {
		return c, store.ErrNotFound
	}
	if err != nil {
		return c, s.wrap("chunk", err)
	}
	c.Time = store.FromMicros(us)
	return c, nil
}

// PutChunk implements gateway.ChunkStore. A chunk recorded anew whose
// object is queued for deletion (it was collected, and uploaded again
// meanwhile) takes the object back while it is only queued, and is refused
// with store.ErrObjectGone once its deletion began (the upload is sent
// again and stores a new object): the object and the queue are locked in
// turn with the deleter (ClaimDoomed).
func (s *Store) PutChunk(ctx context.Context, c store.Chunk, rec *audit.Record) (bool, error) {
	var created bool
	key, err := blob.ChunkKey(c.Matter, c.ID)
	if err != nil {
		return false, s.wrap("put chunk", err)
	}
	err = s.db.Write(ctx, func(tx Querier) error {
		if err := s.lockKeys(ctx, tx, []string{key}); err != nil {
			return err
		}
		var err error
		if created, err = s.recordChunk(ctx, tx, c, key); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, rec)
	})
	if errors.Is(err, store.ErrObjectGone) {
		return false, err
	}
	if err != nil {
		return false, s.wrap("put chunk", err)
	}
	return created, nil
}

// recordChunk records c, whose object is stored under key (locked with
// lockKeys in tx), unless the matter has it already (created false). A
// chunk recorded anew takes its object back from the deletion queue, or is
// refused with store.ErrObjectGone once its deletion began.
func (s *Store) recordChunk(ctx context.Context, tx Querier, c store.Chunk, key string) (created bool, err error) {
	n, err := tx.Exec(ctx, `INSERT INTO chunks (matter, id, size, created_us) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		c.Matter, c.ID[:], c.Size, store.Micros(c.Time))
	if err != nil || n != 1 {
		return false, err
	}
	var state string
	err = tx.QueryRow(ctx, `SELECT state FROM doomed_objects WHERE key = $1`, key).Scan(&state)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return false, err
	case state == "deleting":
		return false, store.ErrObjectGone
	default:
		if _, err := tx.Exec(ctx, `DELETE FROM doomed_objects WHERE key = $1`, key); err != nil {
			return false, err
		}
	}
	return true, nil
}

// orderedLock is lock ("" or a row-locking clause) after an ORDER BY id,
// so rows are locked in one order by everyone.
func orderedLock(lock string) string {
	if lock == "" {
		return ""
	}
	return " ORDER BY id" + lock
}

// ReplaceChunk implements gateway.ChunkStore.
func (s *Store) ReplaceChunk(ctx context.Context, r store.ChunkReplacement, rec *audit.Record) error {
	err := s.db.Write(ctx, func(tx Querier) error {
		// Only a chunk no version references, in a matter not on hold: a
		// writer must never be able to repoint history (the gateway cannot
		// tell which object opens). Agents verify a stored chunk before
		// they commit on it, so a planted one is caught before any honest
		// version references it.
		var hold bool
		err := tx.QueryRow(ctx, `SELECT hold FROM matters WHERE id = $1`+s.d.RowLock, r.Matter).Scan(&hold)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if hold {
			return store.ErrLegalHold
		}
		var one int
		err = tx.QueryRow(ctx, `SELECT 1 FROM version_chunks WHERE matter = $1 AND chunk = $2 LIMIT 1`, r.Matter, r.ID[:]).Scan(&one)
		switch {
		case err == nil:
			return store.ErrChunkReferenced
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		n, err := tx.Exec(ctx, `UPDATE chunks SET object_key = $1, size = $2 WHERE matter = $3 AND id = $4 AND object_key = $5`,
			r.NewKey, r.NewSize, r.Matter, r.ID[:], r.OldKey)
		if err != nil {
			return err
		}
		if n == 0 {
			var one int
			err := tx.QueryRow(ctx, `SELECT 1 FROM chunks WHERE matter = $1 AND id = $2`, r.Matter, r.ID[:]).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return store.ErrNotFound
			}
			if err != nil {
				return err
			}
			return store.ErrChunkChanged
		}
		if _, err := tx.Exec(ctx, `INSERT INTO chunk_replacements (matter, id, old_key, old_size, old_sha256, new_key, new_size, new_sha256, entity, device, created_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			r.Matter, r.ID[:], r.OldKey, r.OldSize, r.OldSum[:], r.NewKey, r.NewSize, r.NewSum[:], r.Entity, r.Device, store.Micros(r.Time)); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, rec)
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrChunkChanged) || errors.Is(err, store.ErrChunkReferenced) || errors.Is(err, store.ErrLegalHold) {
		return err
	}
	if err != nil {
		return s.wrap("replace chunk", err)
	}
	return nil
}

// ChunkReplacements implements gateway.ChunkStore.
func (s *Store) ChunkReplacements(ctx context.Context, matter string, id format.ID) ([]store.ChunkReplacement, error) {
	out, err := queryAll(ctx, s.db.Read(), nil, func(sc Scanner) (store.ChunkReplacement, error) {
		r := store.ChunkReplacement{Matter: matter, ID: id}
		var oldSum, newSum []byte
		var us int64
		err := sc.Scan(&r.OldKey, &r.OldSize, &oldSum, &r.NewKey, &r.NewSize, &newSum, &r.Entity, &r.Device, &us)
		copy(r.OldSum[:], oldSum)
		copy(r.NewSum[:], newSum)
		r.Time = store.FromMicros(us)
		return r, err
	}, `SELECT old_key, old_size, old_sha256, new_key, new_size, new_sha256, entity, device, created_us FROM chunk_replacements
		WHERE matter = $1 AND id = $2 ORDER BY created_us, new_key`, matter, id[:])
	if err != nil {
		return nil, s.wrap("chunk replacements", err)
	}
	return out, nil
}
