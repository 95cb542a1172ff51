// Package sqlcore is the body of the SQL stores: every query of the
// gateway's metadata store, written once for SQLite and PostgreSQL. What an
// engine does its own way comes in two parts: a DB (its connections,
// transactions and how it serializes the commits of one file) and a
// Dialect (the few pieces of SQL that differ). Packages sqlite and postgres
// supply both and embed a Store.
//
// Queries number their arguments $1, $2, ...; an engine that spells
// placeholders otherwise rewrites them in its DB.
package sqlcore

import (
	"context"
	"fmt"

	"github.com/mattersync/mattersync/format"
)

// Querier runs statements: a transaction, or an engine's pool for reads.
type Querier interface {
	// Exec runs a statement and returns how many rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// QueryRow runs a query for one row; the row's Scan returns an error
	// matching sql.ErrNoRows when there is none.
	QueryRow(ctx context.Context, query string, args ...any) Scanner
	// Query runs a query; the caller closes the rows.
	Query(ctx context.Context, query string, args ...any) (Rows, error)
}

// DB is how an engine runs statements.
type DB interface {
	// Read is the handle for reads outside a transaction.
	Read() Querier
	// Write runs fn in a write transaction, committed if fn returns nil
	// and rolled back otherwise; fn's error comes back as it is.
	Write(ctx context.Context, fn func(Querier) error) error
	// Snapshot runs fn in a read-only transaction that reads one
	// snapshot of the database.
	Snapshot(ctx context.Context, fn func(Querier) error) error
	// CommitFiles runs fn with the commits of files (one, or a batch's;
	// distinct) serialized: no other commit of one of them runs between
	// fn's checks, which read through check, and the write transaction fn
	// runs with apply. The files are locked in one order (by key), so two
	// batches sharing files cannot deadlock. Where the Dialect has a
	// RowLock, check is that transaction already (rows it locks stay
	// locked through apply); otherwise it is a read handle and apply opens
	// the transaction. fn's error comes back as it is.
	CommitFiles(ctx context.Context, matter string, files []format.ID, fn func(check Querier, apply func(func(Querier) error) error) error) error
}

// Controller is a DB with connections of its own for the replica's
// deny-list poll (Counters) and for reads made inside another
// transaction (Hold), which must never wait behind requests for one: a
// poll that waits lets the deny list go stale, and the replica then
// refuses everything; a read inside a transaction that waits for the pool
// its own transaction helped exhaust never ends (postgres has it; SQLite's
// reads do not queue).
type Controller interface {
	Control() Querier
	// ControlSnapshot is DB.Snapshot on those connections: the deny
	// list's reload after its generation moved (on the request pool it
	// waited behind the requests, past deny_max_staleness, and the
	// replica refused everyone with 503 and enforced the deny late).
	ControlSnapshot(ctx context.Context, fn func(Querier) error) error
}

// control is where reads that must never wait behind requests for a
// connection go: the deny-list poll, and reads made while a transaction
// holds a connection (a commit's manifest write reads the legal hold: on
// the same pool, 32 commits holding all 32 connections each waited for a
// 33rd, and the replica stalled until timeouts).
func (s *Store) control() Querier {
	if c, ok := s.db.(Controller); ok {
		return c.Control()
	}
	return s.db.Read()
}

// controlSnapshot is Snapshot on the Controller's connections, where the
// DB has them.
func (s *Store) controlSnapshot(ctx context.Context, fn func(Querier) error) error {
	if c, ok := s.db.(Controller); ok {
		return c.ControlSnapshot(ctx, fn)
	}
	return s.db.Snapshot(ctx, fn)
}

// Dialect is the SQL in which the engines differ.
type Dialect struct {
	// Name starts the store's error messages ("sqlite", "postgres").
	Name string
	// RowLock ends a SELECT that locks the rows it reads until the
	// transaction ends (" FOR UPDATE"); "" where write transactions are
	// serialized anyway.
	RowLock string
	// ShareLock ends a SELECT that locks the rows it reads against
	// changes by others (" FOR SHARE"); "" where writes are serialized.
	ShareLock string
	// ClaimLock ends a SELECT that locks the rows it reads and skips those
	// another transaction holds (" FOR UPDATE SKIP LOCKED"), so runners
	// claim disjoint work; "" where writes are serialized.
	ClaimLock string
	// LockKeys, if not nil, is the statement that takes, in order, a
	// transaction lock on each of keys (hashes of object keys), so a chunk
	// upload and the deletion of its object take turns.
	LockKeys func(keys []int64) (string, []any)
	// AuditHead selects the seq and hash a new audit record links to,
	// locked until the transaction ends. Where SetAuditHead is "", it
	// reads the last record, and an empty table is an empty chain.
	AuditHead string
	// SetAuditHead, if not "", stores the new head ($1 seq, $2 hash).
	SetAuditHead string
	// CheckpointLock, if not "", is run first in the transaction that
	// adds a checkpoint, so the checkpoints of all writers form one chain.
	CheckpointLock string
	// MaxIDs bounds the IDs one statement takes (0: no bound).
	MaxIDs int
	// InIDs is the condition that col is one of ids, and its arguments,
	// numbered from first.
	InIDs func(col string, first int, ids []format.ID) (string, []any)
	// IDRows is the row source of an INSERT: for each of ids, the row of
	// lead's columns and the ID; its arguments are numbered from first.
	IDRows func(lead string, first int, ids []format.ID) (string, []any)
}

// Store plays every role of gateway.Stores but Ping on an engine's DB
// and Dialect. Every mutating method appends its audit record in the
// transaction of its change.
type Store struct {
	db     DB
	d      Dialect
	audits auditGroup // AppendAudit's group commit
}

// New returns the store of db, whose SQL is d's.
func New(db DB, d Dialect) *Store { return &Store{db: db, d: d} }

// wrap says which store failed at what.
func (s *Store) wrap(what string, err error) error {
	return fmt.Errorf("%s: %s: %w", s.d.Name, what, err)
}

// id reads a stored 32-byte ID.
func (s *Store) id(b []byte) (format.ID, error) {
	var id format.ID
	if len(b) != len(id) {
		return id, fmt.Errorf("%s: stored ID has %d bytes", s.d.Name, len(b))
	}
	copy(id[:], b)
	return id, nil
}

// batches splits ids into runs of at most MaxIDs.
func (s *Store) batches(ids []format.ID) [][]format.ID {
	n := s.d.MaxIDs
	if n <= 0 {
		n = max(len(ids), 1)
	}
	var out [][]format.ID
	for start := 0; start < len(ids); start += n {
		out = append(out, ids[start:min(start+n, len(ids))])
	}
	return out
}
