// Package sqlite is the gateway's embedded metadata store: one SQLite file
// (pure-Go driver, so the gateway cross-compiles without cgo), used by one
// gateway process. A lock file next to the database keeps a second gateway
// out.
//
// All writes go through one connection in BEGIN IMMEDIATE transactions, so
// they are serialized without SQLITE_BUSY; reads use a pool of read-only
// connections on the WAL. The queries are sqlcore's; dialect.go holds what
// is SQLite's own.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"

	"github.com/mattersync/mattersync/gateway/store/internal/sqlcore"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite store: the shared SQL body (sqlcore) on this
// engine. It plays every role of gateway.Stores (gateway.StoresOf).
type Store struct {
	*sqlcore.Store
	db     *engine
	unlock func() error
}

// Open opens (creating and migrating if needed) the database at path and
// takes the lock file path+".lock".
func Open(ctx context.Context, path string) (*Store, error) {
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s is in use by another gateway: %w", path, err)
	}
	s, err := open(ctx, path, false)
	if err != nil {
		unlock()
		return nil, err
	}
	s.unlock = unlock
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// OpenReadOnly opens an existing database for reading only, without the
// lock file: offline audit verification next to a running gateway.
func OpenReadOnly(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path, true)
}

func open(ctx context.Context, path string, readOnly bool) (*Store, error) {
	dsn := func(write bool, extra ...string) string {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "synchronous(FULL)")
		for _, e := range extra {
			q.Add("_pragma", e)
		}
		if write {
			// Writers take the lock at BEGIN, so a transaction never
			// fails halfway on an upgrade from a read lock.
			q.Set("_txlock", "immediate")
		}
		return "file:" + path + "?" + q.Encode()
	}
	e := &engine{}
	s := &Store{Store: sqlcore.New(e, dialect), db: e}
	var err error
	if !readOnly {
		e.wr, err = sql.Open("sqlite", dsn(true, "journal_mode(WAL)"))
		if err != nil {
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
		e.wr.SetMaxOpenConns(1)
		e.wr.SetConnMaxIdleTime(0)
		e.wrStmts = newStmtCache(e.wr)
		if err := e.wr.PingContext(ctx); err != nil {
			e.wr.Close()
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
	}
	e.rd, err = sql.Open("sqlite", dsn(false, "query_only(1)"))
	if err != nil {
		if e.wr != nil {
			e.wr.Close()
		}
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	e.rd.SetMaxOpenConns(8)
	// Every connection kept: one closed takes its prepared statements
	// with it (database/sql keeps 2 idle by default).
	e.rd.SetMaxIdleConns(8)
	e.rdStmts = newStmtCache(e.rd)
	if err := e.rd.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database and releases the lock file.
func (s *Store) Close() error {
	var errs []error
	s.db.wrStmts.close()
	s.db.rdStmts.close()
	if s.db.wr != nil {
		errs = append(errs, s.db.wr.Close())
	}
	errs = append(errs, s.db.rd.Close())
	if s.unlock != nil {
		errs = append(errs, s.unlock())
	}
	return errors.Join(errs...)
}

// DB returns the write handle, for tests that inject faults.
func (s *Store) DB() *sql.DB { return s.db.wr }

func (s *Store) migrate(ctx context.Context) error {
	return sqlcore.Migrate(ctx, "sqlite", migrations, func(fn func(sqlcore.Querier) error) error { return s.db.Write(ctx, fn) })
}

// Ping checks both handles.
func (s *Store) Ping(ctx context.Context) error {
	if s.db.wr != nil {
		if err := s.db.wr.PingContext(ctx); err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
	}
	var one int
	if err := s.db.rd.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}
