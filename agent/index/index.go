// Package index is the agent's local state: for every synced file, what the
// agent last saw on disk and which remote version that was; for every
// matter, the change-feed cursor. It is an embedded SQLite database (pure Go,
// so the agent cross-compiles) and every change is one transaction, so a
// crash at any point leaves either the old or the new state.
//
// The index can always be rebuilt from the disk and the gateway: it holds no
// secret and nothing that exists nowhere else.
package index

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("index: not found")

// DB is the local index. It is safe for concurrent use.
type DB struct {
	db *sql.DB
	// puts are PutFile rows waiting for their group's transaction.
	puts putGroup
	// The statements run once or more per file, prepared at Open:
	// SQLite otherwise parses each on every call (issue 22).
	fileByPath, fileByID, putFile *sql.Stmt
}

// Open opens (creating and migrating if needed) the index at path.
func Open(ctx context.Context, path string) (*DB, error) {
	// The index names every synced file: it is the user's alone. SQLite
	// gives its -wal and -shm files the database file's mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("index: open %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("index: %w", err)
		}
	}
	// One connection: SQLite serializes writers anyway, and a single
	// connection makes every transaction immediate and deadlock-free.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(ON)&_txlock=immediate"
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("index: open %s: %w", path, err)
	}
	sdb.SetMaxOpenConns(1)
	d := &DB{db: sdb}
	if err := d.migrate(ctx); err != nil {
		sdb.Close()
		return nil, err
	}
	// Prepared after the migrations, on the one connection while no
	// transaction holds it.
	for _, p := range []struct {
		st  **sql.Stmt
		sql string
	}{{&d.fileByPath, fileByPathSQL}, {&d.fileByID, fileByIDSQL}, {&d.putFile, putFileSQL}} {
		if *p.st, err = sdb.PrepareContext(ctx, p.sql); err != nil {
			sdb.Close()
			return nil, fmt.Errorf("index: prepare: %w", err)
		}
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

func (d *DB) migrate(ctx context.Context) error {
	if _, err := d.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("index: migrate: %w", err)
	}
	var cur int
	err := d.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&cur)
	if err != nil {
		return fmt.Errorf("index: migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		n, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("index: migration %s: name must start with a number", name)
		}
		if n <= cur {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		err = d.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, n)
			return err
		})
		if err != nil {
			return fmt.Errorf("index: migration %s: %w", base, err)
		}
	}
	return nil
}

// tx runs f in a transaction, committed when f returns nil.
func (d *DB) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
