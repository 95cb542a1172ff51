package sqlcore

// Closed matters (docs/LIFECYCLE.md, "Closing a matter").

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

// CloseMatter marks matter closed by by for reason and appends rec, in one
// transaction. Closing it again changes nothing and appends nothing
// (again true): the first close is kept.
func (s *Store) CloseMatter(ctx context.Context, matter, by, reason string, now time.Time, rec *audit.Record) (c store.Closed, again bool, err error) {
	err = s.db.Write(ctx, func(tx Querier) error {
		if err := ensureMatter(ctx, tx, matter); err != nil {
			return err
		}
		var err error
		if c, err = closedIn(ctx, tx, matter); err != nil {
			return err
		}
		if !c.Time.IsZero() {
			again = true
			return nil
		}
		c = store.Closed{Matter: matter, Time: now.UTC().Truncate(time.Microsecond), By: by, Reason: reason}
		if _, err := tx.Exec(ctx, `UPDATE matters SET closed_us = $1, closed_by = $2, close_reason = $3 WHERE id = $4`,
			store.Micros(c.Time), by, reason, matter); err != nil {
			return err
		}
		// ASCII-quoted: the cut below never splits a character.
		rec.Object = "matter=" + matter + " reason=" + strconv.QuoteToASCII(reason)
		if len(rec.Object) > 512 {
			rec.Object = rec.Object[:512]
		}
		return s.appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return c, again, s.wrap("close", err)
	}
	return c, again, nil
}

// MatterClosed returns matter's close (Time zero: open).
func (s *Store) MatterClosed(ctx context.Context, matter string) (store.Closed, error) {
	c, err := closedIn(ctx, s.db.Read(), matter)
	if err != nil {
		return c, s.wrap("closed", err)
	}
	return c, nil
}

func closedIn(ctx context.Context, q Querier, matter string) (store.Closed, error) {
	c := store.Closed{Matter: matter}
	var us int64
	err := q.QueryRow(ctx, `SELECT closed_us, closed_by, close_reason FROM matters WHERE id = $1`, matter).Scan(&us, &c.By, &c.Reason)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return c, err
	}
	if us > 0 {
		c.Time = store.FromMicros(us)
	}
	return c, nil
}

// ClosedMatters returns the closed matters among matters (the caller's
// own) and those entity was ever recorded a member of (membership
// history): what its agents must stop syncing, even once its membership
// is gone.
func (s *Store) ClosedMatters(ctx context.Context, entity string, matters []string) ([]store.Closed, error) {
	args := []any{entity}
	var in []string
	for _, m := range matters {
		args = append(args, m)
		in = append(in, fmt.Sprintf("$%d", len(args)))
	}
	cond := `EXISTS (SELECT 1 FROM membership_history h WHERE h.matter = m.id AND h.entity = $1 AND $1 <> '')`
	if len(in) > 0 {
		cond = `(m.id IN (` + strings.Join(in, ", ") + `) OR ` + cond + `)`
	}
	out, err := queryAll(ctx, s.db.Read(), nil, func(sc Scanner) (store.Closed, error) {
		var c store.Closed
		var us int64
		err := sc.Scan(&c.Matter, &us, &c.By, &c.Reason)
		c.Time = store.FromMicros(us)
		return c, err
	}, `SELECT m.id, m.closed_us, m.closed_by, m.close_reason FROM matters m WHERE m.closed_us > 0 AND `+cond+` ORDER BY m.id`, args...)
	if err != nil {
		return nil, s.wrap("closed matters", err)
	}
	return out, nil
}
