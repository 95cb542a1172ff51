package sqlcore

// A matter's legal hold, key epoch and usage.

import (
	"context"
	"database/sql"
	"errors"

	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

// Hold implements gateway.HoldStore.
func (s *Store) Hold(ctx context.Context, matter string) (store.Hold, error) {
	h := store.Hold{Matter: matter}
	var us int64
	err := s.db.Read().QueryRow(ctx, `SELECT hold, hold_reason, hold_by, hold_us FROM matters WHERE id = $1`, matter).Scan(&h.On, &h.Reason, &h.ChangedBy, &us)
	if errors.Is(err, sql.ErrNoRows) {
		return h, nil
	}
	if err != nil {
		return h, s.wrap("hold", err)
	}
	if us != 0 {
		h.Time = store.FromMicros(us)
	}
	return h, nil
}

// SetHold implements gateway.HoldStore.
func (s *Store) SetHold(ctx context.Context, h store.Hold, rec *audit.Record) error {
	err := s.db.Write(ctx, func(tx Querier) error {
		if err := ensureMatter(ctx, tx, h.Matter); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE matters SET hold = $1, hold_reason = $2, hold_by = $3, hold_us = $4 WHERE id = $5`,
			h.On, h.Reason, h.ChangedBy, store.Micros(h.Time), h.Matter); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return s.wrap("set hold", err)
	}
	return nil
}

// Epoch implements gateway.EpochStore.
func (s *Store) Epoch(ctx context.Context, matter string) (uint32, error) {
	var epoch int64
	err := s.db.Read().QueryRow(ctx, `SELECT epoch FROM matters WHERE id = $1`, matter).Scan(&epoch)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, s.wrap("epoch", err)
	}
	return uint32(epoch), nil
}

// SetEpoch implements gateway.EpochStore.
func (s *Store) SetEpoch(ctx context.Context, matter string, epoch uint32, rec *audit.Record) (uint32, error) {
	var prev int64
	err := s.db.Write(ctx, func(tx Querier) error {
		if err := ensureMatter(ctx, tx, matter); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT epoch FROM matters WHERE id = $1`+s.d.RowLock, matter).Scan(&prev); err != nil {
			return err
		}
		if int64(epoch) < prev {
			return &store.StaleEpochError{Current: uint32(prev), Got: epoch}
		}
		if _, err := tx.Exec(ctx, `UPDATE matters SET epoch = $1 WHERE id = $2`, int64(epoch), matter); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, rec)
	})
	var stale *store.StaleEpochError
	if errors.As(err, &stale) {
		return stale.Current, err
	}
	if err != nil {
		return 0, s.wrap("set epoch", err)
	}
	return uint32(prev), nil
}

// Usage implements gateway.UsageStore.
func (s *Store) Usage(ctx context.Context, matter string) (store.Usage, error) {
	var u store.Usage
	err := s.db.Read().QueryRow(ctx, `SELECT
		(SELECT count(*) FROM chunks WHERE matter = $1),
		(SELECT CAST(coalesce(sum(size), 0) AS BIGINT) FROM chunks WHERE matter = $1),
		(SELECT count(*) FROM files WHERE matter = $1),
		(SELECT count(*) FROM versions WHERE matter = $1),
		(SELECT CAST(coalesce(sum(size), 0) AS BIGINT) FROM versions WHERE matter = $1),
		(SELECT coalesce(max(seq), 0) FROM matters WHERE id = $1)`, matter).
		Scan(&u.Chunks, &u.ChunkBytes, &u.Files, &u.Versions, &u.ManifestBytes, &u.Seq)
	if err != nil {
		return u, s.wrap("usage", err)
	}
	return u, nil
}
