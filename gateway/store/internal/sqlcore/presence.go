package sqlcore

// Presence: documents open on a device (docs/API.md, "Presence").

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

const presenceCols = `matter, file, entity, user_name, device, since_us, expires_us`

func (s *Store) scanPresence(sc Scanner) (store.Presence, error) {
	var p store.Presence
	var file []byte
	var since, expires int64
	if err := sc.Scan(&p.Matter, &file, &p.Entity, &p.User, &p.Device, &since, &expires); err != nil {
		return p, err
	}
	var err error
	p.File, err = s.id(file)
	p.Since, p.Expires = store.FromMicros(since), store.FromMicros(expires)
	return p, err
}

// bumpPresence moves the presence generation, so replicas reload.
func bumpPresence(ctx context.Context, tx Querier) error {
	_, err := tx.Exec(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'presence'`)
	return err
}

// SetPresence opens p (p.Since is ignored: the open's time is now) or, if
// the same user and device hold it already and it has not expired,
// refreshes it to p.Expires (rec's action becomes "presence.refresh";
// opened is false). An open moves the presence generation; a refresh does
// not (it changes no list answer; a replica whose copy says it expired
// reads the store again before dropping it). The file must exist in the
// matter and not be deleted, else store.ErrNotFound; a closed matter is
// store.ErrMatterClosed; an open beyond the user's bounds is
// store.ErrPresenceLimit; nothing is written then. rec is appended with
// the change (after a presence.expire record when an expired presence of
// the same device is replaced before the sweep removed it).
func (s *Store) SetPresence(ctx context.Context, p store.Presence, now time.Time, rec *audit.Record) (out store.Presence, opened bool, err error) {
	err = s.db.Write(ctx, func(tx Querier) error {
		var closed int64
		err := tx.QueryRow(ctx, `SELECT closed_us FROM matters WHERE id = $1`, p.Matter).Scan(&closed)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if closed > 0 {
			return store.ErrMatterClosed
		}
		var deleted bool
		err = tx.QueryRow(ctx, `SELECT deleted FROM files WHERE matter = $1 AND id = $2`, p.Matter, p.File[:]).Scan(&deleted)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && deleted) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		cur, err := s.scanPresence(tx.QueryRow(ctx, `SELECT `+presenceCols+` FROM presence WHERE matter = $1 AND file = $2 AND entity = $3 AND device = $4`+s.d.RowLock,
			p.Matter, p.File[:], p.Entity, p.Device))
		switch {
		case err == nil && cur.Expires.After(now):
			out = cur
			out.Expires, out.User = p.Expires, p.User
			if _, err := tx.Exec(ctx, `UPDATE presence SET expires_us = $1, user_name = $2 WHERE matter = $3 AND file = $4 AND entity = $5 AND device = $6`,
				store.Micros(p.Expires), p.User, p.Matter, p.File[:], p.Entity, p.Device); err != nil {
				return err
			}
			rec.Action = "presence.refresh"
		case err == nil || errors.Is(err, sql.ErrNoRows):
			var all, inMatter int64
			if err := tx.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN matter = $1 THEN 1 ELSE 0 END), 0) FROM presence WHERE entity = $2 AND expires_us > $3`,
				p.Matter, p.Entity, store.Micros(now)).Scan(&all, &inMatter); err != nil {
				return err
			}
			if all >= store.MaxPresencesPerEntity || inMatter >= store.MaxPresencesPerEntityMatter {
				return store.ErrPresenceLimit
			}
			if err == nil {
				// Expired, not swept yet: its expiry is audited before
				// the row is replaced, as the sweep would have.
				if err := s.appendAudit(ctx, tx, &audit.Record{Time: now, Entity: cur.Entity, User: cur.User, Device: cur.Device, Matter: cur.Matter,
					Action: "presence.expire", Object: cur.File.String(), Result: audit.ResultOK, RequestID: rec.RequestID}); err != nil {
					return err
				}
			}
			out, opened = p, true
			out.Since = now.UTC().Truncate(time.Microsecond)
			if _, err := tx.Exec(ctx, `INSERT INTO presence (`+presenceCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
				ON CONFLICT (matter, file, entity, device) DO UPDATE SET user_name = excluded.user_name, since_us = excluded.since_us, expires_us = excluded.expires_us`,
				p.Matter, p.File[:], p.Entity, p.User, p.Device, store.Micros(out.Since), store.Micros(p.Expires)); err != nil {
				return err
			}
			if err := bumpPresence(ctx, tx); err != nil {
				return err
			}
		default:
			return err
		}
		return s.appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return out, false, s.wrap("set presence", err)
	}
	return out, opened, nil
}

// ClearPresence closes the presence of entity's device on file, if any
// (closed), and appends rec either way (its object saying "not open" when
// there was none, or it had expired).
func (s *Store) ClearPresence(ctx context.Context, matter string, file format.ID, entity, device string, now time.Time, rec *audit.Record) (closed bool, err error) {
	err = s.db.Write(ctx, func(tx Querier) error {
		n, err := tx.Exec(ctx, `DELETE FROM presence WHERE matter = $1 AND file = $2 AND entity = $3 AND device = $4 AND expires_us > $5`,
			matter, file[:], entity, device, store.Micros(now))
		if err != nil {
			return err
		}
		if closed = n > 0; closed {
			if err := bumpPresence(ctx, tx); err != nil {
				return err
			}
		} else {
			rec.Object += " not open"
		}
		return s.appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return false, s.wrap("clear presence", err)
	}
	return closed, nil
}

// Presences returns every presence not expired at now, by matter and
// file, and the presence generation they reflect (one snapshot).
func (s *Store) Presences(ctx context.Context, now time.Time) ([]store.Presence, int64, error) {
	var out []store.Presence
	var gen int64
	err := s.db.Snapshot(ctx, func(q Querier) error {
		if err := q.QueryRow(ctx, `SELECT value FROM counters WHERE name = 'presence'`).Scan(&gen); err != nil {
			return err
		}
		var err error
		out, err = queryAll(ctx, q, nil, s.scanPresence, `SELECT `+presenceCols+` FROM presence WHERE expires_us > $1 ORDER BY matter, file, since_us, entity, device`, store.Micros(now))
		return err
	})
	if err != nil {
		return nil, 0, s.wrap("presences", err)
	}
	return out, gen, nil
}

// PresenceGen returns the presence generation: it moves with every open,
// close and expiry.
func (s *Store) PresenceGen(ctx context.Context) (int64, error) {
	var gen int64
	if err := s.db.Read().QueryRow(ctx, `SELECT value FROM counters WHERE name = 'presence'`).Scan(&gen); err != nil {
		return 0, s.wrap("presence generation", err)
	}
	return gen, nil
}

// ExpirePresence removes up to limit presences expired at now, appending
// for each the record rec makes of it, in one transaction, and returns
// them. Replicas sweeping at once each remove (and audit) different rows.
func (s *Store) ExpirePresence(ctx context.Context, now time.Time, limit int, rec func(store.Presence) *audit.Record) ([]store.Presence, error) {
	var out []store.Presence
	err := s.db.Write(ctx, func(tx Querier) error {
		out = nil
		expired, err := queryAll(ctx, tx, nil, s.scanPresence, `SELECT `+presenceCols+` FROM presence WHERE expires_us <= $1 ORDER BY expires_us LIMIT $2`+s.d.ClaimLock,
			store.Micros(now), limit)
		if err != nil {
			return err
		}
		for _, p := range expired {
			n, err := tx.Exec(ctx, `DELETE FROM presence WHERE matter = $1 AND file = $2 AND entity = $3 AND device = $4 AND expires_us <= $5`,
				p.Matter, p.File[:], p.Entity, p.Device, store.Micros(now))
			if err != nil {
				return err
			}
			if n == 0 {
				continue
			}
			if err := s.appendAudit(ctx, tx, rec(p)); err != nil {
				return err
			}
			out = append(out, p)
		}
		if len(out) > 0 {
			return bumpPresence(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return nil, s.wrap("expire presence", err)
	}
	return out, nil
}

// ClearEntityPresence removes every presence of entity (denied: its
// documents must not keep colleagues' copies read-only until they expire),
// appending for each the record rec makes of it, in one transaction, and
// returns them.
func (s *Store) ClearEntityPresence(ctx context.Context, entity string, rec func(store.Presence) *audit.Record) ([]store.Presence, error) {
	var out []store.Presence
	err := s.db.Write(ctx, func(tx Querier) error {
		var err error
		out, err = queryAll(ctx, tx, nil, s.scanPresence, `SELECT `+presenceCols+` FROM presence WHERE entity = $1 ORDER BY matter, file, device`+s.d.ClaimLock, entity)
		if err != nil {
			return err
		}
		if len(out) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `DELETE FROM presence WHERE entity = $1`, entity); err != nil {
			return err
		}
		for _, p := range out {
			if err := s.appendAudit(ctx, tx, rec(p)); err != nil {
				return err
			}
		}
		return bumpPresence(ctx, tx)
	})
	if err != nil {
		return nil, s.wrap("clear entity presence", err)
	}
	return out, nil
}
