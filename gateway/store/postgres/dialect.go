package postgres

// What PostgreSQL does its own way: row and advisory locks (several
// replicas write), the audit chain's head row, ID arrays.

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/store/internal/sqlcore"
)

// checkpointLock is the advisory lock key under which a checkpoint is
// appended, so replicas' checkpoints form one chain.
const checkpointLock = 0x6d732d636b707473 // "ms-ckpts"

// dialect: the audit chain's head is a row, locked by every append until
// its transaction ends, so appends from all replicas are serialized and a
// rolled-back transaction leaves no record.
var dialect = sqlcore.Dialect{
	Name:      "postgres",
	RowLock:   " FOR UPDATE",
	ShareLock: " FOR SHARE",
	ClaimLock: " FOR UPDATE SKIP LOCKED",
	LockKeys: func(keys []int64) (string, []any) {
		return `SELECT pg_advisory_xact_lock(k) FROM (SELECT k FROM unnest($1::bigint[]) AS k ORDER BY k) AS sorted`, []any{keys}
	},
	AuditHead:      `SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE`,
	SetAuditHead:   `UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`,
	CheckpointLock: `SELECT pg_advisory_xact_lock(` + strconv.FormatInt(checkpointLock, 10) + `)`,
	InIDs: func(col string, first int, ids []format.ID) (string, []any) {
		return fmt.Sprintf("%s = ANY($%d::bytea[])", col, first), []any{idBytes(ids)}
	},
	IDRows: func(lead string, first int, ids []format.ID) (string, []any) {
		return fmt.Sprintf("SELECT %s, unnest($%d::bytea[])", lead, first), []any{idBytes(ids)}
	},
}

func idBytes(ids []format.ID) [][]byte {
	out := make([][]byte, len(ids))
	for i := range ids {
		out[i] = ids[i][:]
	}
	return out
}

// engine is the database as sqlcore runs it.
type engine struct {
	pool *pgxpool.Pool
	// control is a pool of its own for the replica's deny-list poll and
	// readiness ping (sqlcore.Controller), so they never queue behind
	// requests for a connection of pool.
	control *pgxpool.Pool
}

func (e engine) Read() sqlcore.Querier { return querier{e.pool} }

// Control implements sqlcore.Controller.
func (e engine) Control() sqlcore.Querier { return querier{e.control} }

func (e engine) Write(ctx context.Context, fn func(sqlcore.Querier) error) error {
	return pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error { return fn(querier{tx}) })
}

// Snapshot: repeatable read, so every statement sees the first one's
// snapshot.
func (e engine) Snapshot(ctx context.Context, fn func(sqlcore.Querier) error) error {
	return snapshot(ctx, e.pool, fn)
}

// ControlSnapshot implements sqlcore.Controller.
func (e engine) ControlSnapshot(ctx context.Context, fn func(sqlcore.Querier) error) error {
	return snapshot(ctx, e.control, fn)
}

func snapshot(ctx context.Context, pool *pgxpool.Pool, fn func(sqlcore.Querier) error) error {
	return pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error { return fn(querier{tx}) })
}

// CommitFiles runs the whole commit (or batch) in one transaction holding
// an advisory lock on each file, taken in key order, so the blob writes and
// the version rows cannot interleave with another replica's commit to one
// of those files.
func (e engine) CommitFiles(ctx context.Context, matter string, files []format.ID, fn func(sqlcore.Querier, func(func(sqlcore.Querier) error) error) error) error {
	keys := make([]int64, len(files))
	for i, f := range files {
		keys[i] = fileLockKey(matter, f)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	return pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(k) FROM (SELECT k FROM unnest($1::bigint[]) AS k ORDER BY k) AS sorted`, keys); err != nil {
			return err
		}
		q := querier{tx}
		return fn(q, func(apply func(sqlcore.Querier) error) error { return apply(q) })
	})
}

// fileLockKey is the advisory lock key of one file's commits.
func fileLockKey(matter string, file format.ID) int64 {
	h := sha256.New()
	h.Write([]byte("mattersync-commit\x00" + matter + "\x00"))
	h.Write(file[:])
	return int64(binary.BigEndian.Uint64(h.Sum(nil)))
}

// querier runs sqlcore's statements on the pool, a connection or a
// transaction.
type querier struct {
	h interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
}

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.h.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

func (q querier) QueryRow(ctx context.Context, query string, args ...any) sqlcore.Scanner {
	return q.h.QueryRow(ctx, query, args...)
}

func (q querier) Query(ctx context.Context, query string, args ...any) (sqlcore.Rows, error) {
	rows, err := q.h.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return closer{rows}, nil
}

// closer gives pgx.Rows the Close of sqlcore.Rows.
type closer struct{ pgx.Rows }

func (r closer) Close() error {
	r.Rows.Close()
	return r.Rows.Err()
}
