// Package sqlite is the gateway's embedded metadata store: one SQLite file
// (pure-Go driver, so the gateway cross-compiles without cgo), used by one
// gateway process. A lock file next to the database keeps a second gateway
// out.
//
// All writes go through one connection in BEGIN IMMEDIATE transactions, so
// they are serialized without SQLITE_BUSY; reads use a pool of read-only
// connections on the WAL.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
	"github.com/mattersync/mattersync/gateway/store/internal/sqlrows"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite store. It implements every role of gateway.Store.
type Store struct {
	wr     *sql.DB // one connection: every write transaction
	rd     *sql.DB // read-only pool
	unlock func() error
	locks  keyedMutex // per-file commit locks
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
	var s Store
	var err error
	if !readOnly {
		s.wr, err = sql.Open("sqlite", dsn(true, "journal_mode(WAL)"))
		if err != nil {
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
		s.wr.SetMaxOpenConns(1)
		s.wr.SetConnMaxIdleTime(0)
		if err := s.wr.PingContext(ctx); err != nil {
			s.wr.Close()
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
	}
	s.rd, err = sql.Open("sqlite", dsn(false, "query_only(1)"))
	if err != nil {
		if s.wr != nil {
			s.wr.Close()
		}
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.rd.SetMaxOpenConns(8)
	if err := s.rd.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return &s, nil
}

// Close closes the database and releases the lock file.
func (s *Store) Close() error {
	var errs []error
	if s.wr != nil {
		errs = append(errs, s.wr.Close())
	}
	errs = append(errs, s.rd.Close())
	if s.unlock != nil {
		errs = append(errs, s.unlock())
	}
	return errors.Join(errs...)
}

// DB returns the write handle, for tests that inject faults.
func (s *Store) DB() *sql.DB { return s.wr }

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.wr.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_us INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("sqlite: migration %s: bad name", name)
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return fmt.Errorf("sqlite: migrate: %w", err)
		}
		err = s.tx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, v).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_us) VALUES (?, ?)`, v, time.Now().UnixMicro())
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: migration %s: %w", base, err)
		}
	}
	return nil
}

// tx runs fn in a write transaction.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	if s.wr == nil {
		return errors.New("sqlite: store is read-only")
	}
	tx, err := s.wr.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Ping checks both handles.
func (s *Store) Ping(ctx context.Context) error {
	if s.wr != nil {
		if err := s.wr.PingContext(ctx); err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
	}
	var one int
	if err := s.rd.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

func toID(b []byte) (format.ID, error) { return sqlrows.ID("sqlite", b) }

// execOne runs a statement that changes at most one row and reports
// whether it changed one.
func execOne(ctx context.Context, tx *sql.Tx, query string, args ...any) (bool, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// MissingChunks implements gateway.Store.
func (s *Store) MissingChunks(ctx context.Context, matter string, ids []format.ID) ([]format.ID, error) {
	present, err := s.presentChunks(ctx, s.rd, matter, ids)
	if err != nil {
		return nil, err
	}
	return sqlrows.Missing(ids, present), nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) presentChunks(ctx context.Context, q querier, matter string, ids []format.ID) (map[format.ID]struct{}, error) {
	present := make(map[format.ID]struct{}, len(ids))
	const batch = 500
	for start := 0; start < len(ids); start += batch {
		end := min(start+batch, len(ids))
		args := make([]any, 0, end-start+1)
		args = append(args, matter)
		for _, id := range ids[start:end] {
			args = append(args, id[:])
		}
		query := `SELECT id FROM chunks WHERE matter = ? AND id IN (?` + strings.Repeat(",?", end-start-1) + `)`
		rows, err := q.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: chunks: %w", err)
		}
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: chunks: %w", err)
			}
			id, err := toID(b)
			if err != nil {
				rows.Close()
				return nil, err
			}
			present[id] = struct{}{}
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("sqlite: chunks: %w", err)
		}
	}
	return present, nil
}

// Chunk implements gateway.Store.
func (s *Store) Chunk(ctx context.Context, matter string, id format.ID) (store.Chunk, error) {
	c := store.Chunk{Matter: matter, ID: id}
	var us int64
	err := s.rd.QueryRowContext(ctx, `SELECT size, created_us FROM chunks WHERE matter = ? AND id = ?`, matter, id[:]).Scan(&c.Size, &us)
	if errors.Is(err, sql.ErrNoRows) {
		return c, store.ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("sqlite: chunk: %w", err)
	}
	c.Time = store.FromMicros(us)
	return c, nil
}

// PutChunk implements gateway.Store.
func (s *Store) PutChunk(ctx context.Context, c store.Chunk, rec *audit.Record) (bool, error) {
	var created bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if created, err = execOne(ctx, tx, `INSERT INTO chunks (matter, id, size, created_us) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			c.Matter, c.ID[:], c.Size, store.Micros(c.Time)); err != nil {
			return err
		}
		return appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: put chunk: %w", err)
	}
	return created, nil
}

func head(ctx context.Context, q querier, matter string, file format.ID) (int64, bool, error) {
	var v int64
	var deleted bool
	err := q.QueryRowContext(ctx, `SELECT head, deleted FROM files WHERE matter = ? AND id = ?`, matter, file[:]).Scan(&v, &deleted)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return v, deleted, err
}

// matterState returns a matter's legal hold and epoch (off and 0 for a
// matter never seen).
func matterState(ctx context.Context, q querier, matter string) (hold bool, epoch uint32, err error) {
	err = q.QueryRowContext(ctx, `SELECT hold, epoch FROM matters WHERE id = ?`, matter).Scan(&hold, &epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return false, 0, nil
	}
	return hold, epoch, err
}

// check applies the commit rules that do not depend on chunks.
func check(ctx context.Context, q querier, c store.Commit) error {
	cur, deleted, err := head(ctx, q, c.Matter, c.File)
	if err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	if cur != c.Base {
		return &store.VersionMismatchError{Current: cur, Deleted: deleted}
	}
	if c.Deleted && deleted {
		return store.ErrAlreadyDeleted
	}
	on, epoch, err := matterState(ctx, q, c.Matter)
	if err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	if c.Epoch < epoch {
		return &store.StaleEpochError{Current: epoch, Got: c.Epoch}
	}
	if c.Deleted && on {
		return store.ErrLegalHold
	}
	return nil
}

// Commit implements gateway.Store. One gateway owns the database, so an
// in-process lock per file is the commit lock; the checks are repeated
// inside the write transaction.
func (s *Store) Commit(ctx context.Context, c store.Commit, write store.WriteFunc, rec *audit.Record) (store.Version, error) {
	if c.Deleted {
		c.Chunks = nil
	}
	chunks := store.Dedup(c.Chunks)
	unlock := s.locks.lock(c.Matter + "/" + string(c.File[:]))
	defer unlock()
	if err := check(ctx, s.rd, c); err != nil {
		return store.Version{}, err
	}
	if len(chunks) > 0 {
		present, err := s.presentChunks(ctx, s.rd, c.Matter, chunks)
		if err != nil {
			return store.Version{}, err
		}
		var missing []format.ID
		for _, id := range chunks {
			if _, ok := present[id]; !ok {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			return store.Version{}, &store.MissingChunksError{IDs: missing}
		}
	}
	v := store.Version{Matter: c.Matter, File: c.File, Version: c.Base + 1, Deleted: c.Deleted, Size: c.Size, Epoch: c.Epoch,
		Entity: c.Entity, Device: c.Device, Time: c.Time.UTC().Truncate(time.Microsecond)}
	if write != nil {
		key, err := write(ctx, v.Version)
		if err != nil {
			return store.Version{}, err
		}
		v.ManifestKey = key
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := check(ctx, tx, c); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO matters (id) VALUES (?) ON CONFLICT DO NOTHING`, c.Matter); err != nil {
			return err
		}
		// Only the admin raises the matter's epoch: if commits did, one
		// member sealing a huge epoch could lock every writer out.
		if err := tx.QueryRowContext(ctx, `UPDATE matters SET seq = seq + 1 WHERE id = ? RETURNING seq`, c.Matter).Scan(&v.Seq); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO versions (matter, file, version, seq, deleted, size, epoch, entity, device, created_us, manifest_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.Matter, c.File[:], v.Version, v.Seq, v.Deleted, v.Size, v.Epoch, v.Entity, v.Device, store.Micros(v.Time), v.ManifestKey); err != nil {
			return err
		}
		if len(chunks) > 0 {
			stmt, err := tx.PrepareContext(ctx, `INSERT INTO version_chunks (matter, file, version, chunk) VALUES (?, ?, ?, ?)`)
			if err != nil {
				return err
			}
			for _, id := range chunks {
				if _, err := stmt.ExecContext(ctx, c.Matter, c.File[:], v.Version, id[:]); err != nil {
					stmt.Close()
					return err
				}
			}
			if err := stmt.Close(); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO files (matter, id, head, deleted) VALUES (?, ?, ?, ?) ON CONFLICT (matter, id) DO UPDATE SET head = excluded.head, deleted = excluded.deleted`,
			c.Matter, c.File[:], v.Version, v.Deleted); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'changes'`); err != nil {
			return err
		}
		return appendAudit(ctx, tx, rec)
	})
	if err != nil {
		var mismatch *store.VersionMismatchError
		var stale *store.StaleEpochError
		if errors.As(err, &mismatch) || errors.As(err, &stale) || errors.Is(err, store.ErrAlreadyDeleted) || errors.Is(err, store.ErrLegalHold) {
			return store.Version{}, err
		}
		return store.Version{}, fmt.Errorf("sqlite: commit: %w", err)
	}
	return v, nil
}

const versionCols = `version, seq, deleted, size, epoch, entity, device, created_us, manifest_key`

func scanVersion(sc sqlrows.Scanner, v *store.Version) error {
	var us int64
	if err := sc.Scan(&v.Version, &v.Seq, &v.Deleted, &v.Size, &v.Epoch, &v.Entity, &v.Device, &us, &v.ManifestKey); err != nil {
		return err
	}
	v.Time = store.FromMicros(us)
	return nil
}

// Version implements gateway.Store.
func (s *Store) Version(ctx context.Context, matter string, file format.ID, version int64) (store.Version, error) {
	v := store.Version{Matter: matter, File: file}
	var row *sql.Row
	if version == 0 {
		row = s.rd.QueryRowContext(ctx, `SELECT `+versionCols+` FROM versions WHERE matter = ? AND file = ? ORDER BY version DESC LIMIT 1`, matter, file[:])
	} else {
		row = s.rd.QueryRowContext(ctx, `SELECT `+versionCols+` FROM versions WHERE matter = ? AND file = ? AND version = ?`, matter, file[:], version)
	}
	err := scanVersion(row, &v)
	if errors.Is(err, sql.ErrNoRows) {
		return v, store.ErrNotFound
	}
	if err != nil {
		return v, fmt.Errorf("sqlite: version: %w", err)
	}
	return v, nil
}

// Versions implements gateway.Store.
func (s *Store) Versions(ctx context.Context, matter string, file format.ID, before int64, limit int) ([]store.Version, error) {
	if before <= 0 {
		before = 1 << 62
	}
	rows, err := s.rd.QueryContext(ctx, `SELECT `+versionCols+` FROM versions WHERE matter = ? AND file = ? AND version < ? ORDER BY version DESC LIMIT ?`, matter, file[:], before, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: versions: %w", err)
	}
	defer rows.Close()
	out, err := sqlrows.Append(nil, rows, func(sc sqlrows.Scanner) (store.Version, error) {
		v := store.Version{Matter: matter, File: file}
		return v, scanVersion(sc, &v)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: versions: %w", err)
	}
	if len(out) == 0 {
		if _, err := s.Version(ctx, matter, file, 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Changes implements gateway.Store.
func (s *Store) Changes(ctx context.Context, matter string, since int64, limit int) ([]store.Version, int64, error) {
	// One read transaction, so head and changes are one snapshot.
	tx, err := s.rd.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: changes: %w", err)
	}
	defer tx.Rollback()
	var headSeq int64
	if err := tx.QueryRowContext(ctx, `SELECT seq FROM matters WHERE id = ?`, matter).Scan(&headSeq); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, 0, fmt.Errorf("sqlite: changes: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT file, `+versionCols+` FROM versions WHERE matter = ? AND seq > ? ORDER BY seq LIMIT ?`, matter, since, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: changes: %w", err)
	}
	defer rows.Close()
	out := []store.Version{}
	for rows.Next() {
		var fb []byte
		var us int64
		v := store.Version{Matter: matter}
		if err := rows.Scan(&fb, &v.Version, &v.Seq, &v.Deleted, &v.Size, &v.Epoch, &v.Entity, &v.Device, &us, &v.ManifestKey); err != nil {
			return nil, 0, fmt.Errorf("sqlite: changes: %w", err)
		}
		if v.File, err = toID(fb); err != nil {
			return nil, 0, err
		}
		v.Time = store.FromMicros(us)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("sqlite: changes: %w", err)
	}
	return out, headSeq, nil
}

// Hold implements gateway.Store.
func (s *Store) Hold(ctx context.Context, matter string) (store.Hold, error) {
	h := store.Hold{Matter: matter}
	var us int64
	err := s.rd.QueryRowContext(ctx, `SELECT hold, hold_reason, hold_by, hold_us FROM matters WHERE id = ?`, matter).Scan(&h.On, &h.Reason, &h.ChangedBy, &us)
	if errors.Is(err, sql.ErrNoRows) {
		return h, nil
	}
	if err != nil {
		return h, fmt.Errorf("sqlite: hold: %w", err)
	}
	if us != 0 {
		h.Time = store.FromMicros(us)
	}
	return h, nil
}

// SetHold implements gateway.Store.
func (s *Store) SetHold(ctx context.Context, h store.Hold, rec *audit.Record) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO matters (id) VALUES (?) ON CONFLICT DO NOTHING`, h.Matter); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE matters SET hold = ?, hold_reason = ?, hold_by = ?, hold_us = ? WHERE id = ?`,
			h.On, h.Reason, h.ChangedBy, store.Micros(h.Time), h.Matter); err != nil {
			return err
		}
		return appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return fmt.Errorf("sqlite: set hold: %w", err)
	}
	return nil
}

// Epoch implements gateway.Store.
func (s *Store) Epoch(ctx context.Context, matter string) (uint32, error) {
	_, epoch, err := matterState(ctx, s.rd, matter)
	if err != nil {
		return 0, fmt.Errorf("sqlite: epoch: %w", err)
	}
	return epoch, nil
}

// SetEpoch implements gateway.Store.
func (s *Store) SetEpoch(ctx context.Context, matter string, epoch uint32, rec *audit.Record) (uint32, error) {
	var prev uint32
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO matters (id) VALUES (?) ON CONFLICT DO NOTHING`, matter); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT epoch FROM matters WHERE id = ?`, matter).Scan(&prev); err != nil {
			return err
		}
		if epoch < prev {
			return &store.StaleEpochError{Current: prev, Got: epoch}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE matters SET epoch = ? WHERE id = ?`, epoch, matter); err != nil {
			return err
		}
		return appendAudit(ctx, tx, rec)
	})
	var stale *store.StaleEpochError
	if errors.As(err, &stale) {
		return stale.Current, err
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: set epoch: %w", err)
	}
	return prev, nil
}

// Usage implements gateway.Store.
func (s *Store) Usage(ctx context.Context, matter string) (store.Usage, error) {
	var u store.Usage
	err := s.rd.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM chunks WHERE matter = ?1),
		(SELECT coalesce(sum(size), 0) FROM chunks WHERE matter = ?1),
		(SELECT count(*) FROM files WHERE matter = ?1),
		(SELECT count(*) FROM versions WHERE matter = ?1),
		(SELECT coalesce(sum(size), 0) FROM versions WHERE matter = ?1),
		(SELECT coalesce(max(seq), 0) FROM matters WHERE id = ?1)`, matter).
		Scan(&u.Chunks, &u.ChunkBytes, &u.Files, &u.Versions, &u.ManifestBytes, &u.Seq)
	if err != nil {
		return u, fmt.Errorf("sqlite: usage: %w", err)
	}
	return u, nil
}

// DenyList implements gateway.Store.
func (s *Store) DenyList(ctx context.Context) ([]store.DenyEntry, int64, error) {
	tx, err := s.rd.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: deny list: %w", err)
	}
	defer tx.Rollback()
	var gen int64
	if err := tx.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'deny'`).Scan(&gen); err != nil {
		return nil, 0, fmt.Errorf("sqlite: deny list: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT entity, name, reason, created_by, created_us FROM deny ORDER BY created_us, entity`)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: deny list: %w", err)
	}
	defer rows.Close()
	out, err := sqlrows.Append([]store.DenyEntry{}, rows, sqlrows.ScanDenyEntry)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: deny list: %w", err)
	}
	return out, gen, nil
}

// AddDeny implements gateway.Store.
func (s *Store) AddDeny(ctx context.Context, e store.DenyEntry, rec *audit.Record) (bool, int64, error) {
	var created bool
	var gen int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if created, err = execOne(ctx, tx, `INSERT INTO deny (entity, name, reason, created_by, created_us) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			e.Entity, e.Name, e.Reason, e.CreatedBy, store.Micros(e.Time)); err != nil {
			return err
		}
		return bumpDeny(ctx, tx, created, rec, &gen)
	})
	if err != nil {
		return false, 0, fmt.Errorf("sqlite: add deny: %w", err)
	}
	return created, gen, nil
}

// bumpDeny moves the deny generation and appends rec if changed; gen is
// the generation afterwards.
func bumpDeny(ctx context.Context, tx *sql.Tx, changed bool, rec *audit.Record, gen *int64) error {
	if !changed {
		return tx.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'deny'`).Scan(gen)
	}
	if err := tx.QueryRowContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'deny' RETURNING value`).Scan(gen); err != nil {
		return err
	}
	return appendAudit(ctx, tx, rec)
}

// RemoveDeny implements gateway.Store.
func (s *Store) RemoveDeny(ctx context.Context, entity string, rec *audit.Record) (bool, int64, error) {
	var removed bool
	var gen int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if removed, err = execOne(ctx, tx, `DELETE FROM deny WHERE entity = ?`, entity); err != nil {
			return err
		}
		return bumpDeny(ctx, tx, removed, rec, &gen)
	})
	if err != nil {
		return false, 0, fmt.Errorf("sqlite: remove deny: %w", err)
	}
	return removed, gen, nil
}

// TokenFloors implements gateway.Store.
func (s *Store) TokenFloors(ctx context.Context) ([]store.TokenFloor, int64, error) {
	tx, err := s.rd.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: token floors: %w", err)
	}
	defer tx.Rollback()
	var gen int64
	if err := tx.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'deny'`).Scan(&gen); err != nil {
		return nil, 0, fmt.Errorf("sqlite: token floors: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT entity, not_before_us, reason, set_by, time_us FROM token_floors ORDER BY entity`)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: token floors: %w", err)
	}
	defer rows.Close()
	out, err := sqlrows.Append([]store.TokenFloor{}, rows, sqlrows.ScanTokenFloor)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: token floors: %w", err)
	}
	return out, gen, nil
}

// SetTokenFloor implements gateway.Store.
func (s *Store) SetTokenFloor(ctx context.Context, f store.TokenFloor, rec *audit.Record) (store.TokenFloor, int64, error) {
	var gen int64
	out := store.TokenFloor{Entity: f.Entity}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO token_floors (entity, not_before_us, reason, set_by, time_us) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (entity) DO UPDATE SET not_before_us = excluded.not_before_us, reason = excluded.reason, set_by = excluded.set_by, time_us = excluded.time_us
			WHERE excluded.not_before_us > token_floors.not_before_us`,
			f.Entity, store.Micros(f.NotBefore), f.Reason, f.SetBy, store.Micros(f.Time)); err != nil {
			return err
		}
		var nb, us int64
		if err := tx.QueryRowContext(ctx, `SELECT not_before_us, reason, set_by, time_us FROM token_floors WHERE entity = ?`, f.Entity).Scan(&nb, &out.Reason, &out.SetBy, &us); err != nil {
			return err
		}
		out.NotBefore, out.Time = store.FromMicros(nb), store.FromMicros(us)
		if err := tx.QueryRowContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'deny' RETURNING value`).Scan(&gen); err != nil {
			return err
		}
		return appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return out, 0, fmt.Errorf("sqlite: set token floor: %w", err)
	}
	return out, gen, nil
}

// Counters implements gateway.Store.
func (s *Store) Counters(ctx context.Context) (store.Counters, error) {
	var c store.Counters
	err := s.rd.QueryRowContext(ctx, `SELECT
		(SELECT value FROM counters WHERE name = 'changes'),
		(SELECT value FROM counters WHERE name = 'deny')`).Scan(&c.Changes, &c.Deny)
	if err != nil {
		return c, fmt.Errorf("sqlite: counters: %w", err)
	}
	return c, nil
}

func appendAudit(ctx context.Context, tx *sql.Tx, rec *audit.Record) error {
	if rec == nil {
		return errors.New("no audit record")
	}
	var seq int64
	var hb []byte
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hb)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("audit head: %w", err)
	}
	var prev audit.Hash
	copy(prev[:], hb)
	rec.Link(seq, prev)
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_records (`+sqlrows.AuditCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sqlrows.AuditValues(rec)...)
	if err != nil {
		return fmt.Errorf("audit append: %w", err)
	}
	return nil
}

// AppendAudit implements gateway.Store.
func (s *Store) AppendAudit(ctx context.Context, rec *audit.Record) error {
	if err := s.tx(ctx, func(tx *sql.Tx) error { return appendAudit(ctx, tx, rec) }); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

// AuditHead implements gateway.Store.
func (s *Store) AuditHead(ctx context.Context) (int64, audit.Hash, error) {
	var seq int64
	var hb []byte
	var h audit.Hash
	err := s.rd.QueryRowContext(ctx, `SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hb)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, h, nil
	}
	if err != nil {
		return 0, h, fmt.Errorf("sqlite: audit head: %w", err)
	}
	copy(h[:], hb)
	return seq, h, nil
}

// AuditRecords implements gateway.Store.
func (s *Store) AuditRecords(ctx context.Context, q audit.Query, fn func(*audit.Record) error) error {
	query, args := sqlrows.AuditQuery(q, func(int) string { return "?" })
	rows, err := s.rd.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("sqlite: audit records: %w", err)
	}
	defer rows.Close()
	return sqlrows.AuditRecords(rows, fn, "sqlite: audit records")
}

// AddCheckpoint implements gateway.Store. The write transaction is the
// only writer, so reading the latest and inserting are atomic.
func (s *Store) AddCheckpoint(ctx context.Context, c audit.Checkpoint) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var last int64
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM audit_checkpoints`).Scan(&last); err != nil {
			return err
		}
		if err := sqlrows.CheckFollows(last, c); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_checkpoints (`+sqlrows.CheckpointCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			c.Seq, c.KeyID, c.Hash[:], c.Time.UnixMicro(), c.Signature, sqlrows.CheckpointVersion(c), c.PrevSeq, c.Prev[:])
		return err
	})
	if errors.Is(err, store.ErrCheckpointConflict) {
		return err
	}
	if err != nil {
		return fmt.Errorf("sqlite: add checkpoint: %w", err)
	}
	return nil
}

// LastCheckpoint implements gateway.Store.
func (s *Store) LastCheckpoint(ctx context.Context) (audit.Checkpoint, error) {
	c, err := sqlrows.ScanCheckpoint(s.rd.QueryRowContext(ctx, `SELECT `+sqlrows.CheckpointCols+` FROM audit_checkpoints ORDER BY seq DESC, key_id LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return c, store.ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("sqlite: last checkpoint: %w", err)
	}
	return c, nil
}

// Checkpoints implements gateway.Store.
func (s *Store) Checkpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	rows, err := s.rd.QueryContext(ctx, `SELECT `+sqlrows.CheckpointCols+` FROM audit_checkpoints ORDER BY seq, key_id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: checkpoints: %w", err)
	}
	defer rows.Close()
	out, err := sqlrows.Append(nil, rows, sqlrows.ScanCheckpoint)
	if err != nil {
		return nil, fmt.Errorf("sqlite: checkpoints: %w", err)
	}
	return out, nil
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
