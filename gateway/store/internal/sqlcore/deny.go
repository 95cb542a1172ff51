package sqlcore

// The deny list, the reissue stamps and the generations replicas poll.

import (
	"context"

	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

const denyGen = `SELECT value FROM counters WHERE name = 'deny'`

// DenyList implements gateway.DenyStore.
func (s *Store) DenyList(ctx context.Context) ([]store.DenyEntry, int64, error) {
	return withDenyGen(ctx, s, "deny list", scanDenyEntry,
		`SELECT entity, name, reason, created_by, created_us FROM deny ORDER BY created_us, entity`)
}

// TokenFloors implements gateway.DenyStore.
func (s *Store) TokenFloors(ctx context.Context) ([]store.TokenFloor, int64, error) {
	return withDenyGen(ctx, s, "token floors", scanTokenFloor,
		`SELECT entity, not_before_us, reason, set_by, time_us FROM token_floors ORDER BY entity`)
}

// withDenyGen reads every row of query and the deny generation, from one
// snapshot, on the control connections: the store poll reloads them, and
// must not wait behind requests (Controller).
func withDenyGen[T any](ctx context.Context, s *Store, what string, scan func(Scanner) (T, error), query string) ([]T, int64, error) {
	out := []T{}
	var gen int64
	err := s.controlSnapshot(ctx, func(q Querier) error {
		if err := q.QueryRow(ctx, denyGen).Scan(&gen); err != nil {
			return err
		}
		var err error
		out, err = queryAll(ctx, q, out, scan, query)
		return err
	})
	if err != nil {
		return nil, 0, s.wrap(what, err)
	}
	return out, gen, nil
}

// AddDeny implements gateway.DenyStore.
func (s *Store) AddDeny(ctx context.Context, e store.DenyEntry, rec *audit.Record) (bool, int64, error) {
	return s.changeDeny(ctx, "add deny", rec, `INSERT INTO deny (entity, name, reason, created_by, created_us) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		e.Entity, e.Name, e.Reason, e.CreatedBy, store.Micros(e.Time))
}

// RemoveDeny implements gateway.DenyStore.
func (s *Store) RemoveDeny(ctx context.Context, entity string, rec *audit.Record) (bool, int64, error) {
	return s.changeDeny(ctx, "remove deny", rec, `DELETE FROM deny WHERE entity = $1`, entity)
}

// changeDeny runs stmt, which changes at most one deny-list row; if it
// changed one, it moves the deny generation and appends rec. It returns
// whether it did, and the generation afterwards.
func (s *Store) changeDeny(ctx context.Context, what string, rec *audit.Record, stmt string, args ...any) (bool, int64, error) {
	var changed bool
	var gen int64
	err := s.db.Write(ctx, func(tx Querier) error {
		n, err := tx.Exec(ctx, stmt, args...)
		if err != nil {
			return err
		}
		if changed = n == 1; !changed {
			return tx.QueryRow(ctx, denyGen).Scan(&gen)
		}
		return s.bumpDeny(ctx, tx, rec, &gen)
	})
	if err != nil {
		return false, 0, s.wrap(what, err)
	}
	return changed, gen, nil
}

// bumpDeny moves the deny generation, so replicas reload, and appends rec;
// gen is the generation afterwards.
func (s *Store) bumpDeny(ctx context.Context, tx Querier, rec *audit.Record, gen *int64) error {
	if err := tx.QueryRow(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'deny' RETURNING value`).Scan(gen); err != nil {
		return err
	}
	return s.appendAudit(ctx, tx, rec)
}

// SetTokenFloor implements gateway.DenyStore.
func (s *Store) SetTokenFloor(ctx context.Context, f store.TokenFloor, rec *audit.Record) (store.TokenFloor, int64, error) {
	var gen int64
	out := store.TokenFloor{Entity: f.Entity}
	err := s.db.Write(ctx, func(tx Querier) error {
		if _, err := tx.Exec(ctx, `INSERT INTO token_floors (entity, not_before_us, reason, set_by, time_us) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (entity) DO UPDATE SET not_before_us = excluded.not_before_us, reason = excluded.reason, set_by = excluded.set_by, time_us = excluded.time_us
			WHERE excluded.not_before_us > token_floors.not_before_us`,
			f.Entity, store.Micros(f.NotBefore), f.Reason, f.SetBy, store.Micros(f.Time)); err != nil {
			return err
		}
		var nb, us int64
		if err := tx.QueryRow(ctx, `SELECT not_before_us, reason, set_by, time_us FROM token_floors WHERE entity = $1`, f.Entity).Scan(&nb, &out.Reason, &out.SetBy, &us); err != nil {
			return err
		}
		out.NotBefore, out.Time = store.FromMicros(nb), store.FromMicros(us)
		return s.bumpDeny(ctx, tx, rec, &gen)
	})
	if err != nil {
		return out, 0, s.wrap("set token floor", err)
	}
	return out, gen, nil
}

// Counters implements gateway.DenyStore.
func (s *Store) Counters(ctx context.Context) (store.Counters, error) {
	var c store.Counters
	err := s.control().QueryRow(ctx, `SELECT
		(SELECT value FROM counters WHERE name = 'changes'),
		(SELECT value FROM counters WHERE name = 'deny')`).Scan(&c.Changes, &c.Deny)
	if err != nil {
		return c, s.wrap("counters", err)
	}
	return c, nil
}
