package sqlcore

// File requests and their drops (docs/SHARING.md, "Request files"). A
// request's codes, wrong attempts and upload grants share the share
// tables (share_codes, share_attempts, share_grants), keyed by the
// request's ID: one set of limits per address for shares and requests.

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

const requestCols = `id, matter, recipient, entity, username, created_us, expires_us, max_files, max_file_bytes, max_bytes,
	files, bytes, public_key, wrapped_key, revoked_us, revoked_by, revoke_reason`

func scanRequest(r Scanner) (store.Request, error) {
	var q store.Request
	var created, expires, revoked int64
	if err := r.Scan(&q.ID, &q.Matter, &q.Recipient, &q.Entity, &q.User, &created, &expires, &q.MaxFiles, &q.MaxFileBytes, &q.MaxBytes,
		&q.Files, &q.Bytes, &q.PublicKey, &q.WrappedKey, &revoked, &q.RevokedBy, &q.RevokeReason); err != nil {
		return q, err
	}
	q.Created, q.Expires = store.FromMicros(created), store.FromMicros(expires)
	if revoked > 0 {
		q.Revoked = store.FromMicros(revoked)
	}
	return q, nil
}

// CreateRequest stores q (its ID, times and limits as given) and appends
// rec, in one transaction.
func (s *Store) CreateRequest(ctx context.Context, q store.Request, rec *audit.Record) error {
	err := s.db.Write(ctx, func(tx Querier) error {
		if err := ensureMatter(ctx, tx, q.Matter); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO requests (id, matter, recipient, entity, username, created_us, expires_us,
			max_files, max_file_bytes, max_bytes, public_key, wrapped_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			q.ID, q.Matter, q.Recipient, q.Entity, q.User, store.Micros(q.Created), store.Micros(q.Expires),
			q.MaxFiles, q.MaxFileBytes, q.MaxBytes, q.PublicKey, q.WrappedKey); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, rec)
	})
	return s.wrapShare("create request", err)
}

// Request returns the request id (store.ErrNotFound: none).
func (s *Store) Request(ctx context.Context, id string) (store.Request, error) {
	q, err := scanRequest(s.db.Read().QueryRow(ctx, `SELECT `+requestCols+` FROM requests WHERE id = $1`, id))
	return q, s.wrapShare("request", err)
}

// Requests returns the requests f selects, oldest first.
func (s *Store) Requests(ctx context.Context, f store.RequestFilter) ([]store.Request, error) {
	where, args := shareWhere(store.ShareFilter(f))
	out, err := queryAll(ctx, s.db.Read(), []store.Request{}, scanRequest, `SELECT `+requestCols+` FROM requests`+where+` ORDER BY created_us, id`, args...)
	return out, s.wrapShare("requests", err)
}

// RevokeRequests revokes the unrevoked requests f selects, by by for
// reason, and appends rec when any was: one transaction. It returns the
// requests it revoked. Their pending drops stay: what a client uploaded
// before the revocation is still delivered.
func (s *Store) RevokeRequests(ctx context.Context, f store.RequestFilter, by, reason string, now time.Time, rec *audit.Record) ([]store.Request, error) {
	var out []store.Request
	err := s.db.Write(ctx, func(tx Querier) error {
		where, args := shareWhere(store.ShareFilter(f))
		if where == "" {
			where = " WHERE revoked_us = 0"
		} else {
			where += " AND revoked_us = 0"
		}
		var err error
		if out, err = queryAll(ctx, tx, nil, scanRequest, `SELECT `+requestCols+` FROM requests`+where+s.d.RowLock, args...); err != nil || len(out) == 0 {
			return err
		}
		n := len(args)
		t := store.Micros(now)
		if _, err := tx.Exec(ctx, `UPDATE requests SET revoked_us = $`+itoa(n+1)+`, revoked_by = $`+itoa(n+2)+`, revoke_reason = $`+itoa(n+3)+where,
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
		return nil, s.wrapShare("revoke requests", err)
	}
	return out, nil
}

// requestRules refuses q (*store.ShareBlocked) when the shares' rules
// refuse its maker (rw membership required), or the matter's epoch moved
// past the one its key is wrapped under. Every use runs them inside its
// transaction after the audit head, as the shares' uses do: a rotation,
// close, policy change or membership record either committed before
// (seen here) or commits after (and its hook revokes the request).
func (s *Store) requestRules(ctx context.Context, tx Querier, q store.Request, r store.ShareRules) error {
	if err := s.makerRules(ctx, tx, maker{matter: q.Matter, entity: q.Entity, created: q.Created, rw: true}, r); err != nil {
		return err
	}
	var cur int64
	err := tx.QueryRow(ctx, `SELECT epoch FROM matters WHERE id = $1`, q.Matter).Scan(&cur)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	epoch, err := format.RequestKeyEpoch(q.WrappedKey)
	if err != nil {
		return &store.ShareBlocked{Reason: "request key unreadable"}
	}
	if int64(epoch) < cur {
		return &store.ShareBlocked{Reason: store.ReasonEpochRotated}
	}
	return nil
}

// lockRequestRules locks the request id's row, then the audit head (the
// order every share and request transaction takes them in), and checks
// q.Usable at now and the request's rules.
func (s *Store) lockRequestRules(ctx context.Context, tx Querier, id string, now time.Time, r store.ShareRules) (store.Request, error) {
	q, err := s.lockRequest(ctx, tx, id)
	if err != nil {
		return q, err
	}
	if err := q.Usable(now); err != nil {
		return q, err
	}
	if err := s.lockAuditHead(ctx, tx); err != nil {
		return q, err
	}
	return q, s.requestRules(ctx, tx, q, r)
}

func (s *Store) lockRequest(ctx context.Context, tx Querier, id string) (store.Request, error) {
	return scanRequest(tx.QueryRow(ctx, `SELECT `+requestCols+` FROM requests WHERE id = $1`+s.d.RowLock, id))
}

// AddRequestCode stores c (c.Share is the request's ID) for the request's
// recipient, retiring the request's earlier unused codes, and appends rec,
// unless lim's codes per hour for the request or the address are reached
// (store.ErrCodeLimit), its wrong codes reached lim.WrongPerShareTotal
// (store.ErrCodeCap), the request takes no upload (its Usable error) or
// its rules refuse it (*store.ShareBlocked).
func (s *Store) AddRequestCode(ctx context.Context, c store.ShareCode, lim store.CodeLimits, r store.ShareRules, rec *audit.Record) error {
	err := s.db.Write(ctx, func(tx Querier) error {
		q, err := s.lockRequestRules(ctx, tx, c.Share, c.Created, r)
		if err != nil {
			return err
		}
		if err := wrongCap(ctx, tx, c.Share, lim); err != nil {
			return err
		}
		if err := codesSent(ctx, tx, c.Share, q.Recipient, c.Created, lim); err != nil {
			return err
		}
		// As for shares: a guess is tried against one live code.
		t := store.Micros(c.Created)
		if _, err := tx.Exec(ctx, `UPDATE share_codes SET expires_us = $1 WHERE share = $2 AND used_us = 0 AND expires_us > $1`, t, c.Share); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO share_codes (share, hash, recipient, created_us, expires_us) VALUES ($1, $2, $3, $4, $5)`,
			c.Share, c.Hash[:], q.Recipient, t, store.Micros(c.Expires)); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, rec)
	})
	return s.wrapShare("add request code", err)
}

// codesSent refuses (store.ErrCodeLimit) when lim's codes sent in the hour
// before now, for key (a share or request ID) or for addr, are reached.
func codesSent(ctx context.Context, tx Querier, key, addr string, now time.Time, lim store.CodeLimits) error {
	hour := store.Micros(now.Add(-time.Hour))
	var perKey, perAddr int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM share_codes WHERE share = $1 AND created_us > $2`, key, hour).Scan(&perKey); err != nil {
		return err
	}
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM share_codes WHERE recipient = $1 AND created_us > $2`, addr, hour).Scan(&perAddr); err != nil {
		return err
	}
	if perKey >= lim.SentPerShare || perAddr >= lim.SentPerAddress {
		return store.ErrCodeLimit
	}
	return nil
}

// VerifyRequestCode uses the request's live code whose hash is hash,
// stores g as the upload capability it gives (good for uploads until it
// expires), and appends rec, in one transaction; wrong codes are counted
// and limited (ErrCodeCap over the request's life included), and the
// request's rules checked, as VerifyShareCode's are.
func (s *Store) VerifyRequestCode(ctx context.Context, id string, hash [32]byte, g store.ShareGrant, now time.Time, lim store.CodeLimits, r store.ShareRules, rec *audit.Record) (store.Request, error) {
	var q store.Request
	var refused error // committed: the wrong attempt stays counted
	err := s.db.Write(ctx, func(tx Querier) error {
		var err error
		if q, err = s.lockRequestRules(ctx, tx, id, now, r); err != nil {
			return err
		}
		if err := wrongCap(ctx, tx, id, lim); err != nil {
			return err
		}
		hour := store.Micros(now.Add(-time.Hour))
		var perKey, perAddr int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM share_attempts WHERE share = $1 AND time_us > $2`, id, hour).Scan(&perKey); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM share_attempts WHERE recipient = $1 AND time_us > $2`, q.Recipient, hour).Scan(&perAddr); err != nil {
			return err
		}
		if perKey >= lim.WrongPerShare || perAddr >= lim.WrongPerAddress {
			return store.ErrCodeLimit
		}
		t := store.Micros(now)
		n, err := tx.Exec(ctx, `UPDATE share_codes SET used_us = $1 WHERE share = $2 AND hash = $3 AND used_us = 0 AND expires_us > $1`, t, id, hash[:])
		if err != nil {
			return err
		}
		if n == 0 {
			refused = store.ErrCodeWrong
			if _, err := tx.Exec(ctx, `INSERT INTO share_attempts (share, recipient, time_us) VALUES ($1, $2, $3)`, id, q.Recipient, t); err != nil {
				return err
			}
			if wrongCap(ctx, tx, id, lim) != nil {
				refused = store.ErrCodeCap // this wrong code was the last one allowed
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
	return q, s.wrapShare("verify request code", err)
}

// CheckUpload says whether an upload of size bytes under grant would be
// taken now (nil), without taking it: the gateway asks before it stores
// the object, so a refused upload leaves nothing in the bucket.
func (s *Store) CheckUpload(ctx context.Context, id string, grant [32]byte, size int64, now time.Time, r store.ShareRules) (store.Request, error) {
	var q store.Request
	err := s.db.Write(ctx, func(tx Querier) error {
		var err error
		if q, err = scanRequest(tx.QueryRow(ctx, `SELECT `+requestCols+` FROM requests WHERE id = $1`, id)); err != nil {
			return err
		}
		if err := q.Usable(now); err != nil {
			return err
		}
		// The rules before the grant: a request they stop is revoked
		// (the gateway's answer), whatever the grant.
		if err := s.requestRules(ctx, tx, q, r); err != nil {
			return err
		}
		return uploadAllowed(ctx, tx, q, grant, size, now)
	})
	return q, s.wrapShare("check upload", err)
}

func uploadAllowed(ctx context.Context, tx Querier, q store.Request, grant [32]byte, size int64, now time.Time) error {
	if err := q.Usable(now); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM share_grants WHERE share = $1 AND hash = $2 AND used_us = 0 AND expires_us > $3`,
		q.ID, grant[:], store.Micros(now)).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return store.ErrGrantInvalid
	}
	if size > q.MaxFileBytes || q.Bytes+size > q.MaxBytes {
		return store.ErrRequestTooLarge
	}
	return nil
}

// AddDrop records d, an upload under the request's live grant, counts it
// against the request's limits and appends rec, in one transaction; a
// revoked, expired or full request, a dead grant or a passed size limit
// refuse it (the object the gateway stored first is then garbage), and
// so do the request's rules (*store.ShareBlocked), checked after the
// audit head: an upload cannot straddle a change that stops the request.
func (s *Store) AddDrop(ctx context.Context, d store.Drop, grant [32]byte, r store.ShareRules, rec *audit.Record) error {
	err := s.db.Write(ctx, func(tx Querier) error {
		q, err := s.lockRequestRules(ctx, tx, d.Request, d.Uploaded, r)
		if err != nil {
			return err
		}
		if err := uploadAllowed(ctx, tx, q, grant, d.Size, d.Uploaded); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO drops (id, request, matter, sender, size, object_key, uploaded_us) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			d.ID, d.Request, q.Matter, q.Recipient, d.Size, d.ObjectKey, store.Micros(d.Uploaded)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE requests SET files = files + 1, bytes = bytes + $1 WHERE id = $2`, d.Size, d.Request); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE matters SET drops = drops + 1 WHERE id = $1`, q.Matter); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, rec)
	})
	return s.wrapShare("add drop", err)
}

const dropCols = `id, request, matter, sender, size, object_key, uploaded_us, claim_entity, claim_device, claim_until_us,
	done_us, file, done_by, problem`

func (s *Store) scanDrop(r Scanner) (store.Drop, error) {
	var d store.Drop
	var uploaded, until, done int64
	var file []byte
	if err := r.Scan(&d.ID, &d.Request, &d.Matter, &d.Sender, &d.Size, &d.ObjectKey, &uploaded, &d.ClaimEntity, &d.ClaimDevice, &until,
		&done, &file, &d.DoneBy, &d.Problem); err != nil {
		return d, err
	}
	d.Uploaded = store.FromMicros(uploaded)
	if until > 0 {
		d.ClaimUntil = store.FromMicros(until)
	}
	if done > 0 {
		d.Done = store.FromMicros(done)
	}
	if len(file) > 0 {
		var err error
		if d.File, err = s.id(file); err != nil {
			return d, err
		}
	}
	return d, nil
}

// Drop returns the drop id (store.ErrNotFound: none).
func (s *Store) Drop(ctx context.Context, id string) (store.Drop, error) {
	d, err := s.scanDrop(s.db.Read().QueryRow(ctx, `SELECT `+dropCols+` FROM drops WHERE id = $1`, id))
	return d, s.wrapShare("drop", err)
}

// Drops returns the drops of matter ("" every matter), oldest first: only
// the pending ones if pending, at most limit (0: no limit).
func (s *Store) Drops(ctx context.Context, matter string, pending bool, limit int) ([]store.Drop, error) {
	var conds []string
	var args []any
	if matter != "" {
		args = append(args, matter)
		conds = append(conds, "matter = $1")
	}
	if pending {
		conds = append(conds, "done_us = 0 AND problem = ''")
	}
	q := `SELECT ` + dropCols + ` FROM drops`
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	q += " ORDER BY uploaded_us, id"
	if limit > 0 {
		q += " LIMIT " + itoa(limit)
	}
	out, err := queryAll(ctx, s.db.Read(), []store.Drop{}, s.scanDrop, q, args...)
	return out, s.wrapShare("drops", err)
}

// DropHeads returns, for each of matters that has drops, how many were
// uploaded: a number that changes with every upload, which the combined
// feed compares with what an agent last saw. One row per matter (the
// matter's counter, kept by AddDrop), whatever the drops.
func (s *Store) DropHeads(ctx context.Context, matters []string) (map[string]int64, error) {
	out := map[string]int64{}
	if len(matters) == 0 {
		return out, nil
	}
	ph := make([]string, len(matters))
	args := make([]any, len(matters))
	for i, m := range matters {
		ph[i], args[i] = "$"+itoa(i+1), m
	}
	rows, err := s.db.Read().Query(ctx, `SELECT id, drops FROM matters WHERE drops > 0 AND id IN (`+strings.Join(ph, ", ")+`)`, args...)
	if err != nil {
		return nil, s.wrapShare("drop heads", err)
	}
	defer rows.Close()
	for rows.Next() {
		var m string
		var n int64
		if err := rows.Scan(&m, &n); err != nil {
			return nil, s.wrapShare("drop heads", err)
		}
		out[m] = n
	}
	return out, s.wrapShare("drop heads", rows.Err())
}

// ClaimDrop gives c's agent the pending drop c.Drop until c.Until, if no
// other agent holds a live claim on it (store.ErrDropClaimed), and
// appends rec: one transaction. The same device may claim again (an agent
// restarted mid-delivery).
func (s *Store) ClaimDrop(ctx context.Context, c store.DropClaim, now time.Time, rec *audit.Record) (store.Drop, error) {
	var d store.Drop
	err := s.db.Write(ctx, func(tx Querier) error {
		var err error
		if d, err = s.scanDrop(tx.QueryRow(ctx, `SELECT `+dropCols+` FROM drops WHERE id = $1`+s.d.RowLock, c.Drop)); err != nil {
			return err
		}
		if !d.Pending() || d.ClaimUntil.After(now) && (d.ClaimEntity != c.Entity || d.ClaimDevice != c.Device) {
			return store.ErrDropClaimed
		}
		if _, err := tx.Exec(ctx, `UPDATE drops SET claim_entity = $1, claim_device = $2, claim_until_us = $3 WHERE id = $4`,
			c.Entity, c.Device, store.Micros(c.Until), c.Drop); err != nil {
			return err
		}
		d.ClaimEntity, d.ClaimDevice, d.ClaimUntil = c.Entity, c.Device, store.FromMicros(store.Micros(c.Until))
		return s.appendAudit(ctx, tx, rec)
	})
	return d, s.wrapShare("claim drop", err)
}

// FinishDrop marks the drop c.Drop delivered as file (problem ""), or left
// with problem, for the agent that holds its claim (or held it, if nobody
// took it since), and appends rec: one transaction. A drop finished
// already, or claimed by another agent since, is store.ErrDropClaimed.
func (s *Store) FinishDrop(ctx context.Context, c store.DropClaim, file format.ID, problem string, now time.Time, rec *audit.Record) (store.Drop, error) {
	var d store.Drop
	err := s.db.Write(ctx, func(tx Querier) error {
		var err error
		if d, err = s.scanDrop(tx.QueryRow(ctx, `SELECT `+dropCols+` FROM drops WHERE id = $1`+s.d.RowLock, c.Drop)); err != nil {
			return err
		}
		if !d.Pending() || d.ClaimEntity != c.Entity || d.ClaimDevice != c.Device {
			return store.ErrDropClaimed
		}
		t := store.Micros(now)
		if problem != "" {
			_, err = tx.Exec(ctx, `UPDATE drops SET problem = $1, done_by = $2 WHERE id = $3`, problem, c.User, c.Drop)
			d.Problem = problem
		} else {
			_, err = tx.Exec(ctx, `UPDATE drops SET done_us = $1, file = $2, done_by = $3 WHERE id = $4`, t, file[:], c.User, c.Drop)
			d.Done, d.File = store.FromMicros(t), file
		}
		if err != nil {
			return err
		}
		d.DoneBy = c.User
		return s.appendAudit(ctx, tx, rec)
	})
	return d, s.wrapShare("finish drop", err)
}
