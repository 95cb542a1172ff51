// Package sqlrows holds what the SQL stores (sqlite, postgres) share
// whatever their dialect: reading rows into store and audit values, the
// audit record's columns and the audit export query.
package sqlrows

import (
	"fmt"
	"strings"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

// Scanner is a row to scan: *sql.Row, *sql.Rows, pgx.Row, pgx.Rows.
type Scanner interface {
	Scan(dest ...any) error
}

// Rows is a result set: *sql.Rows, pgx.Rows.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// Append appends to out what scan reads from each of rows.
func Append[T any](out []T, rows Rows, scan func(Scanner) (T, error)) ([]T, error) {
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Missing is the IDs of ids not in present, in order (never nil).
func Missing(ids []format.ID, present map[format.ID]struct{}) []format.ID {
	missing := []format.ID{}
	for _, id := range ids {
		if _, ok := present[id]; !ok {
			missing = append(missing, id)
		}
	}
	return missing
}

// ID reads a stored 32-byte ID; dialect names the store in the error.
func ID(dialect string, b []byte) (format.ID, error) {
	var id format.ID
	if len(b) != len(id) {
		return id, fmt.Errorf("%s: stored ID has %d bytes", dialect, len(b))
	}
	copy(id[:], b)
	return id, nil
}

// ScanDenyEntry reads entity, name, reason, created_by, created_us.
func ScanDenyEntry(sc Scanner) (store.DenyEntry, error) {
	var e store.DenyEntry
	var us int64
	if err := sc.Scan(&e.Entity, &e.Name, &e.Reason, &e.CreatedBy, &us); err != nil {
		return e, err
	}
	e.Time = store.FromMicros(us)
	return e, nil
}

// ScanTokenFloor reads entity, not_before_us, reason, set_by, time_us.
func ScanTokenFloor(sc Scanner) (store.TokenFloor, error) {
	var f store.TokenFloor
	var nb, us int64
	if err := sc.Scan(&f.Entity, &nb, &f.Reason, &f.SetBy, &us); err != nil {
		return f, err
	}
	f.NotBefore, f.Time = store.FromMicros(nb), store.FromMicros(us)
	return f, nil
}

// AuditCols are the columns of audit_records, in the order of AuditValues
// and ScanAuditRecord.
const AuditCols = `seq, time_us, entity, username, device, source, matter, action, object, result, status, bytes, request_id, prev_hash, hash`

// AuditValues are rec's values for AuditCols.
func AuditValues(rec *audit.Record) []any {
	return []any{rec.Seq, rec.Time.UnixMicro(), rec.Entity, rec.User, rec.Device, rec.Source, rec.Matter, rec.Action, rec.Object, rec.Result, rec.Status, rec.Bytes, rec.RequestID, rec.PrevHash[:], rec.Hash[:]}
}

// ScanAuditRecord reads the AuditCols of a row.
func ScanAuditRecord(sc Scanner) (audit.Record, error) {
	var r audit.Record
	var us int64
	var ph, h []byte
	if err := sc.Scan(&r.Seq, &us, &r.Entity, &r.User, &r.Device, &r.Source, &r.Matter, &r.Action, &r.Object, &r.Result, &r.Status, &r.Bytes, &r.RequestID, &ph, &h); err != nil {
		return r, err
	}
	r.Time = store.FromMicros(us)
	copy(r.PrevHash[:], ph)
	copy(r.Hash[:], h)
	return r, nil
}

// AuditQuery is the audit export query for q and its arguments;
// placeholder(n) stands for the nth argument in the dialect's SQL.
func AuditQuery(q audit.Query, placeholder func(n int) string) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, cond+placeholder(len(args)))
	}
	add("seq > ", q.AfterSeq)
	if q.Since != 0 {
		add("time_us >= ", q.Since)
	}
	if q.Until != 0 {
		add("time_us < ", q.Until)
	}
	if q.Matter != "" {
		add("matter = ", q.Matter)
	}
	if q.User != "" {
		add("username = ", q.User)
	}
	if q.Entity != "" {
		add("entity = ", q.Entity)
	}
	query := `SELECT ` + AuditCols + `
		FROM audit_records WHERE ` + strings.Join(where, " AND ") + ` ORDER BY seq`
	if q.Limit > 0 {
		query += fmt.Sprintf(` LIMIT %d`, q.Limit)
	}
	return query, args
}

// AuditRecords calls fn with each audit record of rows (read with
// AuditQuery); errors reading rows are wrapped as what says, fn's come
// back as they are.
func AuditRecords(rows Rows, fn func(*audit.Record) error, what string) error {
	for rows.Next() {
		r, err := ScanAuditRecord(rows)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// CheckpointCols are the columns of audit_checkpoints, in the order
// ScanCheckpoint reads them.
const CheckpointCols = `seq, key_id, hash, time_us, signature, version, prev_seq, prev`

// ScanCheckpoint reads the CheckpointCols of a row.
func ScanCheckpoint(sc Scanner) (audit.Checkpoint, error) {
	var c audit.Checkpoint
	var h, prev []byte
	var us, version int64
	if err := sc.Scan(&c.Seq, &c.KeyID, &h, &us, &c.Signature, &version, &c.PrevSeq, &prev); err != nil {
		return c, err
	}
	c.Version = int(version)
	copy(c.Hash[:], h)
	copy(c.Prev[:], prev)
	c.Time = store.FromMicros(us)
	return c, nil
}

// CheckpointVersion is the signature version stored for c (0 means 1).
func CheckpointVersion(c audit.Checkpoint) int {
	if c.Version == 0 {
		return 1
	}
	return c.Version
}

// CheckFollows refuses c unless it follows last, the newest checkpoint's
// sequence number: checkpoints form one chain.
func CheckFollows(last int64, c audit.Checkpoint) error {
	if last != c.PrevSeq || c.Seq <= last {
		return store.ErrCheckpointConflict
	}
	return nil
}
