package sqlcore

// Shares with people outside the firm (docs/SHARING.md).

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

const shareCols = `id, matter, file, version, recipient, entity, username, created_us, expires_us,
	max_downloads, downloads, size, object_key, revoked_us, revoked_by, revoke_reason`

func (s *Store) scanShare(r Scanner) (store.Share, error) {
	var sh store.Share
	var file []byte
	var created, expires, revoked int64
	if err := r.Scan(&sh.ID, &sh.Matter, &file, &sh.Version, &sh.Recipient, &sh.Entity, &sh.User, &created, &expires,
		&sh.MaxDownloads, &sh.Downloads, &sh.Size, &sh.ObjectKey, &revoked, &sh.RevokedBy, &sh.RevokeReason); err != nil {
		return sh, err
	}
	var err error
	if sh.File, err = s.id(file); err != nil {
		return sh, err
	}
	sh.Created, sh.Expires = store.FromMicros(created), store.FromMicros(expires)
	if revoked > 0 {
		sh.Revoked = store.FromMicros(revoked)
	}
	return sh, nil
}

// CreateShare stores sh (its ID, times and counts as given) and appends
// rec, in one transaction.
func (s *Store) CreateShare(ctx context.Context, sh store.Share, rec *audit.Record) error {
	err := s.db.Write(ctx, func(tx Querier) error {
		if err := ensureMatter(ctx, tx, sh.Matter); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO shares (id, matter, file, version, recipient, entity, username, created_us, expires_us,
			max_downloads, size, object_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			sh.ID, sh.Matter, sh.File[:], sh.Version, sh.Recipient, sh.Entity, sh.User, store.Micros(sh.Created), store.Micros(sh.Expires),
			sh.MaxDownloads, sh.Size, sh.ObjectKey); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, rec)
	})
	return s.wrapShare("create share", err)
}

// Share returns the share id (store.ErrNotFound: none).
func (s *Store) Share(ctx context.Context, id string) (store.Share, error) {
	sh, err := s.scanShare(s.db.Read().QueryRow(ctx, `SELECT `+shareCols+` FROM shares WHERE id = $1`, id))
	return sh, s.wrapShare("share", err)
}

// Shares returns the shares f selects, oldest first.
func (s *Store) Shares(ctx context.Context, f store.ShareFilter) ([]store.Share, error) {
	where, args := shareWhere(f)
	out, err := queryAll(ctx, s.db.Read(), []store.Share{}, s.scanShare, `SELECT `+shareCols+` FROM shares`+where+` ORDER BY created_us, id`, args...)
	return out, s.wrapShare("shares", err)
}

func shareWhere(f store.ShareFilter) (string, []any) {
	var conds []string
	var args []any
	for _, c := range []struct{ col, v string }{{"id", f.ID}, {"matter", f.Matter}, {"entity", f.Entity}} {
		if c.v != "" {
			args = append(args, c.v)
			conds = append(conds, c.col+" = $"+string(rune('0'+len(args))))
		}
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// RevokeShares revokes the unrevoked shares f selects, by by for reason,
// and appends rec (its Object naming how many) when any was: one
// transaction. It returns the shares it revoked.
func (s *Store) RevokeShares(ctx context.Context, f store.ShareFilter, by, reason string, now time.Time, rec *audit.Record) ([]store.Share, error) {
	var out []store.Share
	err := s.db.Write(ctx, func(tx Querier) error {
		where, args := shareWhere(f)
		if where == "" {
			where = " WHERE revoked_us = 0"
		} else {
			where += " AND revoked_us = 0"
		}
		var err error
		if out, err = queryAll(ctx, tx, nil, s.scanShare, `SELECT `+shareCols+` FROM shares`+where+s.d.RowLock, args...); err != nil || len(out) == 0 {
			return err
		}
		n := len(args)
		t := store.Micros(now)
		if _, err := tx.Exec(ctx, `UPDATE shares SET revoked_us = $`+itoa(n+1)+`, revoked_by = $`+itoa(n+2)+`, revoke_reason = $`+itoa(n+3)+where,
			append(args, t, by, reason)...); err != nil {
			return err
		}
		for i := range out {
			out[i].Revoked, out[i].RevokedBy, out[i].RevokeReason = store.FromMicros(t), by, reason
		}
		if rec != nil {
			return s.appendAudit(ctx, tx, rec)
		}
		return nil
	})
	if err != nil {
		return nil, s.wrapShare("revoke shares", err)
	}
	return out, nil
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// AddShareCode stores c for the share's recipient and appends rec, unless
// lim's codes per hour for the share or the address are reached
// (store.ErrCodeLimit), or the share can release nothing (its Usable
// error).
func (s *Store) AddShareCode(ctx context.Context, c store.ShareCode, lim store.CodeLimits, rec *audit.Record) error {
	err := s.db.Write(ctx, func(tx Querier) error {
		sh, err := s.scanShare(tx.QueryRow(ctx, `SELECT `+shareCols+` FROM shares WHERE id = $1`+s.d.RowLock, c.Share))
		if err != nil {
			return err
		}
		if err := sh.Usable(c.Created); err != nil {
			return err
		}
		hour := store.Micros(c.Created.Add(-time.Hour))
		var perShare, perAddr int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM share_codes WHERE share = $1 AND created_us > $2`, c.Share, hour).Scan(&perShare); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM share_codes WHERE recipient = $1 AND created_us > $2`, sh.Recipient, hour).Scan(&perAddr); err != nil {
			return err
		}
		if perShare >= lim.SentPerShare || perAddr >= lim.SentPerAddress {
			return store.ErrCodeLimit
		}
		if _, err := tx.Exec(ctx, `INSERT INTO share_codes (share, hash, recipient, created_us, expires_us) VALUES ($1, $2, $3, $4, $5)`,
			c.Share, c.Hash[:], sh.Recipient, store.Micros(c.Created), store.Micros(c.Expires)); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, rec)
	})
	return s.wrapShare("add share code", err)
}

// VerifyShareCode uses the share's live code whose hash is hash, stores g
// as the download capability it gives, and appends rec, in one
// transaction. A wrong (used, expired) code is counted and refused with
// store.ErrCodeWrong; once lim's wrong codes per hour for the share or its
// address are reached, every code is refused with store.ErrCodeLimit
// without being looked at. A share that can release nothing is refused
// with its Usable error.
func (s *Store) VerifyShareCode(ctx context.Context, id string, hash [32]byte, g store.ShareGrant, now time.Time, lim store.CodeLimits, rec *audit.Record) (store.Share, error) {
	var sh store.Share
	var refused error // committed: the wrong attempt stays counted
	err := s.db.Write(ctx, func(tx Querier) error {
		var err error
		if sh, err = s.scanShare(tx.QueryRow(ctx, `SELECT `+shareCols+` FROM shares WHERE id = $1`+s.d.RowLock, id)); err != nil {
			return err
		}
		if err := sh.Usable(now); err != nil {
			return err
		}
		hour := store.Micros(now.Add(-time.Hour))
		var perShare, perAddr int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM share_attempts WHERE share = $1 AND time_us > $2`, id, hour).Scan(&perShare); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM share_attempts WHERE recipient = $1 AND time_us > $2`, sh.Recipient, hour).Scan(&perAddr); err != nil {
			return err
		}
		if perShare >= lim.WrongPerShare || perAddr >= lim.WrongPerAddress {
			return store.ErrCodeLimit
		}
		t := store.Micros(now)
		n, err := tx.Exec(ctx, `UPDATE share_codes SET used_us = $1 WHERE share = $2 AND hash = $3 AND used_us = 0 AND expires_us > $1`, t, id, hash[:])
		if err != nil {
			return err
		}
		if n == 0 {
			refused = store.ErrCodeWrong
			_, err := tx.Exec(ctx, `INSERT INTO share_attempts (share, recipient, time_us) VALUES ($1, $2, $3)`, id, sh.Recipient, t)
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO share_grants (share, hash, expires_us) VALUES ($1, $2, $3)`, id, g.Hash[:], store.Micros(g.Expires)); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, rec)
	})
	if err == nil {
		err = refused
	}
	return sh, s.wrapShare("verify share code", err)
}

// ReleaseShare spends the download capability whose hash is grant: if it
// is live and the share can still release bytes, the share's downloads
// go up by one and rec is appended, in one transaction; it returns the
// share as it is then. Otherwise store.ErrGrantInvalid or the share's
// Usable error.
func (s *Store) ReleaseShare(ctx context.Context, id string, grant [32]byte, now time.Time, rec *audit.Record) (store.Share, error) {
	var sh store.Share
	err := s.db.Write(ctx, func(tx Querier) error {
		var err error
		if sh, err = s.scanShare(tx.QueryRow(ctx, `SELECT `+shareCols+` FROM shares WHERE id = $1`+s.d.RowLock, id)); err != nil {
			return err
		}
		if err := sh.Usable(now); err != nil {
			return err
		}
		t := store.Micros(now)
		n, err := tx.Exec(ctx, `UPDATE share_grants SET used_us = $1 WHERE share = $2 AND hash = $3 AND used_us = 0 AND expires_us > $1`, t, id, grant[:])
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrGrantInvalid
		}
		if _, err := tx.Exec(ctx, `UPDATE shares SET downloads = downloads + 1 WHERE id = $1`, id); err != nil {
			return err
		}
		sh.Downloads++
		return s.appendAudit(ctx, tx, rec)
	})
	return sh, s.wrapShare("release share", err)
}

// SetSharing sets matter's sharing policy and appends rec, in one
// transaction.
func (s *Store) SetSharing(ctx context.Context, matter string, p store.SharingPolicy, rec *audit.Record) error {
	err := s.db.Write(ctx, func(tx Querier) error {
		if err := ensureMatter(ctx, tx, matter); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE matters SET sharing = $1 WHERE id = $2`, int64(p), matter); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, rec)
	})
	return s.wrapShare("set sharing", err)
}

// Sharing returns matter's sharing policy (SharingDefault for a matter
// never set or never seen).
func (s *Store) Sharing(ctx context.Context, matter string) (store.SharingPolicy, error) {
	var p int64
	err := s.db.Read().QueryRow(ctx, `SELECT sharing FROM matters WHERE id = $1`, matter).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return store.SharingDefault, nil
	}
	return store.SharingPolicy(p), s.wrapShare("sharing", err)
}

// wrapShare wraps err (nil stays nil), mapping no rows to
// store.ErrNotFound.
func (s *Store) wrapShare(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	return s.wrap(what, err)
}
