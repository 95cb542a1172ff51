package sqlite

// What SQLite does its own way: placeholders, ID lists, and one writer
// instead of locks.

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/store/internal/sqlcore"
)

// dialect: the write transactions are serialized (one connection, BEGIN
// IMMEDIATE), so nothing is locked, the audit chain's head is its last
// record, and reading the latest checkpoint and inserting the next are
// atomic.
var dialect = sqlcore.Dialect{
	Name:      "sqlite",
	AuditHead: `SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1`,
	// SQLite takes at most 32766 arguments a statement.
	MaxIDs: 500,
	InIDs: func(col string, first int, ids []format.ID) (string, []any) {
		list, args := idList(first, ids, "")
		return col + " IN (" + list + ")", args
	},
	IDRows: func(lead string, first int, ids []format.ID) (string, []any) {
		list, args := idList(first, ids, lead+", ")
		return "VALUES " + list, args
	},
}

// idList is "$first, $first+1, ..." for ids, each in parentheses after
// lead if lead is not "", and ids as arguments.
func idList(first int, ids []format.ID, lead string) (string, []any) {
	var b strings.Builder
	args := make([]any, len(ids))
	for i := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		p := "$" + strconv.Itoa(first+i)
		if lead != "" {
			p = "(" + lead + p + ")"
		}
		b.WriteString(p)
		args[i] = ids[i][:]
	}
	return b.String(), args
}

// engine is the SQLite database as sqlcore runs it.
type engine struct {
	wr      *sql.DB // one connection: every write transaction; nil if read-only
	rd      *sql.DB // read-only pool
	wrStmts *stmtCache
	rdStmts *stmtCache
	locks   keyedMutex
}

func (e *engine) Read() sqlcore.Querier { return querier{h: e.rd, stmts: e.rdStmts} }

func (e *engine) Write(ctx context.Context, fn func(sqlcore.Querier) error) error {
	if e.wr == nil {
		return errors.New("sqlite: store is read-only")
	}
	defer e.wrStmts.flush(ctx)
	tx, err := e.wr.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(querier{h: tx, tx: tx, stmts: e.wrStmts}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (e *engine) Snapshot(ctx context.Context, fn func(sqlcore.Querier) error) error {
	defer e.rdStmts.flush(ctx)
	tx, err := e.rd.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(querier{h: tx, tx: tx, stmts: e.rdStmts})
}

// CommitFiles: one gateway owns the database, so an in-process lock per
// file is the commit lock, taken in key order. The checks read the pool
// and the blobs are written before the write transaction, which other
// commits need.
func (e *engine) CommitFiles(ctx context.Context, matter string, files []format.ID, fn func(sqlcore.Querier, func(func(sqlcore.Querier) error) error) error) error {
	keys := make([]string, len(files))
	for i, f := range files {
		keys[i] = matter + "/" + string(f[:])
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	for _, k := range keys {
		unlock := e.locks.lock(k)
		defer unlock()
	}
	return fn(e.Read(), func(apply func(sqlcore.Querier) error) error { return e.Write(ctx, apply) })
}

// querier runs sqlcore's statements on a handle or transaction, prepared
// (stmts.go) where it can.
type querier struct {
	h interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
	tx    *sql.Tx    // h, when it is a transaction
	stmts *stmtCache // of the handle h is or belongs to
}

// stmt returns query's prepared statement for q, or nil: run it on q.h.
func (q querier) stmt(ctx context.Context, query string, args int) *sql.Stmt {
	st := q.stmts.get(query, args)
	if st == nil && q.tx == nil {
		// Outside a transaction preparing takes a connection as the
		// statement would.
		q.stmts.flush(ctx)
		st = q.stmts.get(query, args)
	}
	if st != nil && q.tx != nil {
		return q.tx.StmtContext(ctx, st)
	}
	return st
}

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	query = placeholders(query)
	var res sql.Result
	var err error
	if st := q.stmt(ctx, query, len(args)); st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = q.h.ExecContext(ctx, query, args...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q querier) QueryRow(ctx context.Context, query string, args ...any) sqlcore.Scanner {
	query = placeholders(query)
	if st := q.stmt(ctx, query, len(args)); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.h.QueryRowContext(ctx, query, args...)
}

func (q querier) Query(ctx context.Context, query string, args ...any) (sqlcore.Rows, error) {
	query = placeholders(query)
	var rows *sql.Rows
	var err error
	if st := q.stmt(ctx, query, len(args)); st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = q.h.QueryContext(ctx, query, args...)
	}
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// placeholders spells sqlcore's $N as SQLite's ?N (a bare $N would be a
// named parameter, bound in order of first use).
func placeholders(query string) string {
	if !strings.Contains(query, "$") {
		return query
	}
	b := []byte(query)
	for i := 0; i+1 < len(b); i++ {
		if b[i] == '$' && b[i+1] >= '0' && b[i+1] <= '9' {
			b[i] = '?'
		}
	}
	return string(b)
}

// keyedMutex serializes commits per file.
type keyedMutex struct {
	mu sync.Mutex // guards m
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int // guarded by keyedMutex.mu
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = make(map[string]*keyedEntry)
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
