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
	// On the control connections: heldBlobs reads the hold while its
	// commit's transaction holds a connection (Controller).
	err := s.control().QueryRow(ctx, `SELECT hold, hold_reason, hold_case, hold_by, hold_us FROM matters WHERE id = $1`, matter).Scan(&h.On, &h.Reason, &h.Case, &h.ChangedBy, &us)
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
		// The UPDATE locks the matter's row (or the engine has one
		// writer): the history numbers of one matter are taken in turn.
		// The storage's legal holds follow (the lifecycle runner's pass):
		// set on every object, or cleared from every object if any was set.
		if _, err := tx.Exec(ctx, `UPDATE matters SET hold = $1, hold_reason = $2, hold_case = $3, hold_by = $4, hold_us = $5,
			worm_state = CASE WHEN $1 THEN 'applying' WHEN worm_state = '' THEN '' ELSE 'clearing' END,
			worm_gen = worm_gen + 1, worm_cursor = '', worm_objects = 0, worm_error = '', worm_us = $5 WHERE id = $6`,
			h.On, h.Reason, h.Case, h.ChangedBy, store.Micros(h.Time), h.Matter); err != nil {
			return err
		}
		var n int64
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(n), 0) FROM hold_history WHERE matter = $1`, h.Matter).Scan(&n); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO hold_history (matter, n, hold, reason, case_ref, changed_by, time_us) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			h.Matter, n+1, h.On, h.Reason, h.Case, h.ChangedBy, store.Micros(h.Time)); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return s.wrap("set hold", err)
	}
	return nil
}

// Holds implements gateway.HoldStore.
func (s *Store) Holds(ctx context.Context) ([]store.Hold, error) {
	out, err := queryAll(ctx, s.db.Read(), nil, scanHold,
		`SELECT id, hold, hold_reason, hold_case, hold_by, hold_us FROM matters WHERE hold = $1 ORDER BY id`, true)
	if err != nil {
		return nil, s.wrap("holds", err)
	}
	return out, nil
}

// HoldHistory implements gateway.HoldStore.
func (s *Store) HoldHistory(ctx context.Context, matter string) ([]store.Hold, error) {
	out, err := queryAll(ctx, s.db.Read(), nil, scanHold,
		`SELECT matter, hold, reason, case_ref, changed_by, time_us FROM hold_history WHERE matter = $1 ORDER BY n`, matter)
	if err != nil {
		return nil, s.wrap("hold history", err)
	}
	return out, nil
}

// scanHold reads matter, on, reason, case, by and time (µs), the columns
// Holds and HoldHistory select.
func scanHold(sc Scanner) (store.Hold, error) {
	var h store.Hold
	var us int64
	err := sc.Scan(&h.Matter, &h.On, &h.Reason, &h.Case, &h.ChangedBy, &us)
	h.Time = store.FromMicros(us)
	return h, err
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
