package sqlcore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

// MissingChunks implements gateway.ChunkStore.
func (s *Store) MissingChunks(ctx context.Context, matter string, ids []format.ID) ([]format.ID, error) {
	present, err := s.presentChunks(ctx, s.db.Read(), matter, ids)
	if err != nil {
		return nil, err
	}
	return missing(ids, present), nil
}

// presentChunks is the set of ids that matter has a chunk for.
func (s *Store) presentChunks(ctx context.Context, q Querier, matter string, ids []format.ID) (map[format.ID]struct{}, error) {
	present := make(map[format.ID]struct{}, len(ids))
	for _, batch := range s.batches(ids) {
		in, args := s.d.InIDs("id", 2, batch)
		found, err := queryAll(ctx, q, nil, func(sc Scanner) (format.ID, error) {
			var b []byte
			if err := sc.Scan(&b); err != nil {
				return format.ID{}, err
			}
			return s.id(b)
		}, `SELECT id FROM chunks WHERE matter = $1 AND `+in, append([]any{matter}, args...)...)
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
	err := s.db.Read().QueryRow(ctx, `SELECT size, created_us FROM chunks WHERE matter = $1 AND id = $2`, matter, id[:]).Scan(&c.Size, &us)
	if errors.Is(err, sql.ErrNoRows) {
		return c, store.ErrNotFound
	}
	if err != nil {
		return c, s.wrap("chunk", err)
	}
	c.Time = store.FromMicros(us)
	return c, nil
}

// PutChunk implements gateway.ChunkStore.
func (s *Store) PutChunk(ctx context.Context, c store.Chunk, rec *audit.Record) (bool, error) {
	var created bool
	err := s.db.Write(ctx, func(tx Querier) error {
		n, err := tx.Exec(ctx, `INSERT INTO chunks (matter, id, size, created_us) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
			c.Matter, c.ID[:], c.Size, store.Micros(c.Time))
		if err != nil {
			return err
		}
		created = n == 1
		return s.appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return false, s.wrap("put chunk", err)
	}
	return created, nil
}
