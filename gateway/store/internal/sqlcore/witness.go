package sqlcore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

// CheckpointsAfter implements gateway.WitnessStore.
func (s *Store) CheckpointsAfter(ctx context.Context, after int64, limit int) ([]audit.Checkpoint, error) {
	out, err := queryAll(ctx, s.db.Read(), nil, scanCheckpoint,
		`SELECT `+checkpointCols+` FROM audit_checkpoints WHERE seq > $1 ORDER BY seq, key_id LIMIT $2`, after, limit)
	if err != nil {
		return nil, s.wrap("checkpoints after", err)
	}
	return out, nil
}

// LastResync implements gateway.WitnessStore.
func (s *Store) LastResync(ctx context.Context, matter string) (store.Resync, error) {
	r := store.Resync{Matter: matter}
	var us int64
	err := s.db.Read().QueryRow(ctx, `SELECT n, seq, by_user, reason, time_us FROM matter_resyncs WHERE matter = $1 ORDER BY n DESC LIMIT 1`, matter).
		Scan(&r.N, &r.Seq, &r.By, &r.Reason, &us)
	if errors.Is(err, sql.ErrNoRows) {
		return r, store.ErrNotFound
	}
	if err != nil {
		return r, s.wrap("last resync", err)
	}
	r.Time = store.FromMicros(us)
	return r, nil
}

// AddResync implements gateway.WitnessStore.
func (s *Store) AddResync(ctx context.Context, r store.Resync, rec *audit.Record) (store.Resync, error) {
	err := s.db.Write(ctx, func(tx Querier) error {
		if err := ensureMatter(ctx, tx, r.Matter); err != nil {
			return err
		}
		// The UPDATE locks the matter's row (or the engine has one
		// writer): the resync numbers of one matter are taken in turn.
		if err := tx.QueryRow(ctx, `UPDATE matters SET seq = seq WHERE id = $1 RETURNING seq`, r.Matter).Scan(&r.Seq); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(n), 0) + 1 FROM matter_resyncs WHERE matter = $1`, r.Matter).Scan(&r.N); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO matter_resyncs (matter, n, seq, by_user, reason, time_us) VALUES ($1, $2, $3, $4, $5, $6)`,
			r.Matter, r.N, r.Seq, r.By, r.Reason, store.Micros(r.Time)); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return r, s.wrap("add resync", err)
	}
	return r, nil
}
