package sqlcore

// Shares with people outside the firm (docs/SHARING.md).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
// rec, in one transaction, unless r refuses it (*store.ShareBlocked).
func (s *Store) CreateShare(ctx context.Context, sh store.Share, r store.ShareRules, rec *audit.Record) error {
	err := s.db.Write(ctx, func(tx Querier) error {
		if err := ensureMatter(ctx, tx, sh.Matter); err != nil {
			return err
		}
		// The audit chain's head before the rules: every deny, close,
		// shred, policy change and membership record appends to the
		// chain, so each of them either committed before (the rules below
		// see it) or commits after this share (and its revocation hook
		// finds it). After ensureMatter: a close holding the matter's row
		// waits for the head, so waiting for that row while holding the
		// head would deadlock.
		if err := s.lockAuditHead(ctx, tx); err != nil {
			return err
		}
		if err := s.shareRules(ctx, tx, sh, r); err != nil {
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

// CheckShare returns the share id if it can be used at now: its Usable
// error, r's *store.ShareBlocked, or, with a grant, store.ErrGrantInvalid
// unless that download capability is live. It only reads: the uses check
// again in their transactions.
func (s *Store) CheckShare(ctx context.Context, id string, grant *[32]byte, now time.Time, r store.ShareRules) (store.Share, error) {
	q := s.db.Read()
	sh, err := s.scanShare(q.QueryRow(ctx, `SELECT `+shareCols+` FROM shares WHERE id = $1`, id))
	if err == nil {
		err = sh.Usable(now)
	}
	if err == nil {
		err = s.shareRules(ctx, q, sh, r)
	}
	if err == nil && grant != nil {
		var n int
		err = q.QueryRow(ctx, `SELECT count(*) FROM share_grants WHERE share = $1 AND hash = $2 AND used_us = 0 AND expires_us > $3`,
			id, grant[:], store.Micros(now)).Scan(&n)
		if err == nil && n == 0 {
			err = store.ErrGrantInvalid
		}
	}
	return sh, s.wrapShare("check share", err)
}

func (s *Store) lockAuditHead(ctx context.Context, tx Querier) error {
	var seq int64
	var hb []byte
	err := tx.QueryRow(ctx, s.d.AuditHead).Scan(&seq, &hb)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("audit head: %w", err)
	}
	return nil
}

// shareRules refuses sh (*store.ShareBlocked) when its matter is closed or
// shredded, its sharing policy is off (r.DefaultOn for a matter never
// set), or its creator is denied, screened, no longer a member, or was
// reissued after the share (docs/SHARING.md, "What stops a link").
func (s *Store) shareRules(ctx context.Context, q Querier, sh store.Share, r store.ShareRules) error {
	return s.makerRules(ctx, q, maker{matter: sh.Matter, entity: sh.Entity, created: sh.Created}, r)
}

// maker is who made a share or a file request, where and when: what the
// rules check at every use.
type maker struct {
	matter, entity string
	created        time.Time
	// rw: only rw membership keeps it (a request: uploads land in the
	// matter); otherwise rw or ro (a share).
	rw bool
}

// makerRules are the rules of shares and requests alike (shareRules).
func (s *Store) makerRules(ctx context.Context, q Querier, m maker, r store.ShareRules) error {
	blocked := func(reason string) error { return &store.ShareBlocked{Reason: reason} }
	var closed, shredded, policy int64
	err := q.QueryRow(ctx, `SELECT closed_us, shredded_us, sharing FROM matters WHERE id = $1`, m.matter).Scan(&closed, &shredded, &policy)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	switch {
	case shredded > 0:
		return blocked("matter shredded")
	case closed > 0:
		return blocked("matter closed")
	case store.SharingPolicy(policy) == store.SharingOff,
		store.SharingPolicy(policy) == store.SharingDefault && !r.DefaultOn:
		return blocked("sharing off")
	}
	var n int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM deny WHERE entity = $1`, m.entity).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return blocked("user revoked")
	}
	// The matter's membership, where mattersync-admin or the sync records
	// it: the creator must hold rw or ro now, and not be screened.
	rows, err := queryAll(ctx, q, nil, func(sc Scanner) (store.MembershipChange, error) {
		var c store.MembershipChange
		return c, sc.Scan(&c.Entity, &c.Role, &c.Added)
	}, `SELECT entity, role, added FROM membership_history WHERE matter = $1 AND (entity = $2 OR entity = '') ORDER BY n`, m.matter, m.entity)
	if err != nil {
		return err
	}
	recorded := len(rows) > 0 // the baseline row (entity '') starts every history
	roles := map[string]bool{}
	for _, c := range rows {
		if c.Entity != "" {
			roles[c.Role] = c.Added
		}
	}
	switch {
	case roles["screened"]:
		return blocked("creator screened from the matter")
	case recorded && m.rw && !roles["rw"]:
		return blocked("creator no longer has rw on the matter")
	case recorded && !roles["rw"] && !roles["ro"]:
		return blocked("creator no longer a member of the matter")
	}
	var floor int64
	err = q.QueryRow(ctx, `SELECT not_before_us FROM token_floors WHERE entity = $1`, m.entity).Scan(&floor)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	switch {
	case floor == 0:
	case !r.Token.IsZero() && floor >= store.Micros(r.Token):
		// The creator's token would be refused now.
		return blocked("creator's access changed (reissue)")
	case r.Token.IsZero() && !recorded && floor > store.Micros(m.created):
		// Access changed after the share was made, and no membership
		// history says whether it still holds here: refused.
		return blocked("creator's access changed (reissue)")
	}
	return nil
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

// wrongCap refuses a share whose wrong codes reached
// lim.WrongPerShareTotal (store.ErrCodeCap).
func wrongCap(ctx context.Context, tx Querier, id string, lim store.CodeLimits) error {
	if lim.WrongPerShareTotal <= 0 {
		return nil
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM share_attempts WHERE share = $1`, id).Scan(&n); err != nil {
		return err
	}
	if n >= lim.WrongPerShareTotal {
		return store.ErrCodeCap
	}
	return nil
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// AddShareCode stores c for the share's recipient, retiring the share's
// earlier unused codes, and appends rec, unless lim's codes per hour for
// the share or the address are reached (store.ErrCodeLimit), its wrong
// codes reached lim.WrongPerShareTotal (store.ErrCodeCap), the share can
// release nothing (its Usable error) or r refuses it
// (*store.ShareBlocked).
func (s *Store) AddShareCode(ctx context.Context, c store.ShareCode, lim store.CodeLimits, r store.ShareRules, rec *audit.Record) error {
	err := s.db.Write(ctx, func(tx Querier) error {
		sh, err := s.scanShare(tx.QueryRow(ctx, `SELECT `+shareCols+` FROM shares WHERE id = $1`+s.d.RowLock, c.Share))
		if err != nil {
			return err
		}
		if err := sh.Usable(c.Created); err != nil {
			return err
		}
		// The head (after the share's row, the order every share
		// transaction takes them in) serializes the per-address counts
		// across shares of one recipient, and makes the rules see every
		// change committed before.
		if err := s.lockAuditHead(ctx, tx); err != nil {
			return err
		}
		if err := s.shareRules(ctx, tx, sh, r); err != nil {
			return err
		}
		if err := wrongCap(ctx, tx, c.Share, lim); err != nil {
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
		// The new code retires the share's earlier unused ones: a guess
		// is tried against one live code, never against several.
		t := store.Micros(c.Created)
		if _, err := tx.Exec(ctx, `UPDATE share_codes SET expires_us = $1 WHERE share = $2 AND used_us = 0 AND expires_us > $1`, t, c.Share); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO share_codes (share, hash, recipient, created_us, expires_us) VALUES ($1, $2, $3, $4, $5)`,
			c.Share, c.Hash[:], sh.Recipient, t, store.Micros(c.Expires)); err != nil {
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
// without being looked at, and once lim.WrongPerShareTotal wrong codes
// were tried over the share's life (the one that reaches it included),
// with store.ErrCodeCap. A share that can release nothing is refused
// with its Usable error, one r refuses with a *store.ShareBlocked.
func (s *Store) VerifyShareCode(ctx context.Context, id string, hash [32]byte, g store.ShareGrant, now time.Time, lim store.CodeLimits, r store.ShareRules, rec *audit.Record) (store.Share, error) {
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
		if err := s.lockAuditHead(ctx, tx); err != nil { // as in AddShareCode
			return err
		}
		if err := s.shareRules(ctx, tx, sh, r); err != nil {
			return err
		}
		if err := wrongCap(ctx, tx, id, lim); err != nil {
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
			if _, err := tx.Exec(ctx, `INSERT INTO share_attempts (share, recipient, time_us) VALUES ($1, $2, $3)`, id, sh.Recipient, t); err != nil {
				return err
			}
			if wrongCap(ctx, tx, id, lim) != nil {
				// This wrong code was the last one allowed.
				refused = store.ErrCodeCap
			}
			return nil
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
// share as it is then. Otherwise store.ErrGrantInvalid, the share's
// Usable error or r's *store.ShareBlocked.
func (s *Store) ReleaseShare(ctx context.Context, id string, grant [32]byte, now time.Time, r store.ShareRules, rec *audit.Record) (store.Share, error) {
	var sh store.Share
	err := s.db.Write(ctx, func(tx Querier) error {
		var err error
		if sh, err = s.scanShare(tx.QueryRow(ctx, `SELECT `+shareCols+` FROM shares WHERE id = $1`+s.d.RowLock, id)); err != nil {
			return err
		}
		if err := sh.Usable(now); err != nil {
			return err
		}
		if err := s.shareRules(ctx, tx, sh, r); err != nil {
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
