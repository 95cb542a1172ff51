package sqlcore

// Reading rows into store and audit values, the columns they come from, and
// the audit export query.

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

// Scanner is a row to scan.
type Scanner interface {
	Scan(dest ...any) error
}

// Rows is a result set; its reader closes it.
type Rows interface {
	Scanner
	Next() bool
	Err() error
	Close() error
}

// appendRows appends to out what scan reads from each of rows.
func appendRows[T any](out []T, rows Rows, scan func(Scanner) (T, error)) ([]T, error) {
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

// queryAll appends to out what scan reads from each row of query.
func queryAll[T any](ctx context.Context, q Querier, out []T, scan func(Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return appendRows(out, rows, scan)
}

// missing is the IDs of ids not in present, in order (never nil).
func missing(ids []format.ID, present map[format.ID]struct{}) []format.ID {
	out := []format.ID{}
	for _, id := range ids {
		if _, ok := present[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}

// scanDenyEntry reads entity, name, reason, created_by, created_us.
func scanDenyEntry(sc Scanner) (store.DenyEntry, error) {
	var e store.DenyEntry
	var us int64
	if err := sc.Scan(&e.Entity, &e.Name, &e.Reason, &e.CreatedBy, &us); err != nil {
		return e, err
	}
	e.Time = store.FromMicros(us)
	return e, nil
}

// scanTokenFloor reads entity, not_before_us, reason, set_by, time_us.
func scanTokenFloor(sc Scanner) (store.TokenFloor, error) {
	var f store.TokenFloor
	var nb, us int64
	if err := sc.Scan(&f.Entity, &nb, &f.Reason, &f.SetBy, &us); err != nil {
		return f, err
	}
	f.NotBefore, f.Time = store.FromMicros(nb), store.FromMicros(us)
	return f, nil
}

// versionCols are the columns of versions that scanVersion reads.
const versionCols = `version, seq, deleted, size, epoch, entity, device, created_us, manifest_key, chunk_list_sha256, username`

// scanVersion reads the versionCols of a row into v, after the columns
// lead reads.
func scanVersion(sc Scanner, v *store.Version, lead ...any) error {
	var us, epoch int64
	dest := append(lead, &v.Version, &v.Seq, &v.Deleted, &v.Size, &epoch, &v.Entity, &v.Device, &us, &v.ManifestKey, &v.ChunkListSum, &v.User)
	if err := sc.Scan(dest...); err != nil {
		return err
	}
	v.Epoch = uint32(epoch)
	v.Time = store.FromMicros(us)
	return nil
}

// auditCols are the columns of audit_records, in the order of auditValues
// and scanAuditRecord.
const auditCols = `seq, time_us, entity, username, device, source, matter, action, object, result, status, bytes, request_id, prev_hash, hash, decided_us`

// auditValues are rec's values for auditCols.
func auditValues(rec *audit.Record) []any {
	var decided int64
	if !rec.Decided.IsZero() {
		decided = rec.Decided.UnixMicro()
	}
	return []any{rec.Seq, rec.Time.UnixMicro(), rec.Entity, rec.User, rec.Device, rec.Source, rec.Matter, rec.Action, rec.Object, rec.Result, rec.Status, rec.Bytes, rec.RequestID, rec.PrevHash[:], rec.Hash[:], decided}
}

// scanAuditRecord reads the auditCols of a row.
func scanAuditRecord(sc Scanner) (audit.Record, error) {
	var r audit.Record
	var us, decided int64
	var ph, h []byte
	if err := sc.Scan(&r.Seq, &us, &r.Entity, &r.User, &r.Device, &r.Source, &r.Matter, &r.Action, &r.Object, &r.Result, &r.Status, &r.Bytes, &r.RequestID, &ph, &h, &decided); err != nil {
		return r, err
	}
	r.Time = store.FromMicros(us)
	if decided != 0 {
		r.Decided = store.FromMicros(decided)
	}
	copy(r.PrevHash[:], ph)
	copy(r.Hash[:], h)
	return r, nil
}

// auditQuery is the audit export query for q and its arguments.
func auditQuery(q audit.Query) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, cond+"$"+strconv.Itoa(len(args)))
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
	if q.Result != "" {
		add("result = ", q.Result)
	}
	if len(q.Actions) > 0 {
		in := make([]string, len(q.Actions))
		for i, a := range q.Actions {
			args = append(args, a)
			in[i] = "$" + strconv.Itoa(len(args))
		}
		where = append(where, "action IN ("+strings.Join(in, ", ")+")")
	}
	query := `SELECT ` + auditCols + `
		FROM audit_records WHERE ` + strings.Join(where, " AND ") + ` ORDER BY seq`
	if q.Limit > 0 {
		query += fmt.Sprintf(` LIMIT %d`, q.Limit)
	}
	return query, args
}

// checkpointCols are the columns of audit_checkpoints, in the order
// scanCheckpoint reads them.
const checkpointCols = `seq, key_id, hash, time_us, signature, version, prev_seq, prev`

// scanCheckpoint reads the checkpointCols of a row.
func scanCheckpoint(sc Scanner) (audit.Checkpoint, error) {
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

// checkpointVersion is the signature version stored for c (0 means 1).
func checkpointVersion(c audit.Checkpoint) int {
	if c.Version == 0 {
		return 1
	}
	return c.Version
}
