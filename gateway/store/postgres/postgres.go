// Package postgres is the gateway's metadata store for several replicas
// sharing one PostgreSQL database.
//
// Ordering is the database's: a commit holds a transaction-scoped advisory
// lock on its file (so the blob write and the version row cannot interleave
// with another replica's commit to that file), then locks its matter's row
// to check the epoch and take the next sequence number, then the audit head
// row to append its record. Locks are always taken in that order (file, matter, counters,
// audit head), so transactions never deadlock.
package postgres

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
	"github.com/mattersync/mattersync/gateway/store/internal/sqlrows"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key replicas take while migrating.
const migrationLock = 0x6d61747465727379 // "mattersy"

// Options tune Open.
type Options struct {
	// Password overrides the DSN's password, so it can come from an
	// environment variable instead of the config file.
	Password string
	// MaxConns bounds the pool (0: pgx's default).
	MaxConns int32
	// NoMigrate opens the database as it is (offline audit verification
	// must not write).
	NoMigrate bool
}

// Store is the PostgreSQL store. It implements every role of gateway.Store.
type Store struct {
	pool *pgxpool.Pool
}

// Open connects to dsn and applies pending migrations.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The DSN may hold a password: never echo it.
		return nil, errors.New("postgres: cannot parse the DSN")
	}
	if opts.Password != "" {
		cfg.ConnConfig.Password = opts.Password
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{pool: pool}
	if opts.NoMigrate {
		return s, nil
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Pool returns the connection pool, for tests that inject faults.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping checks the database is reachable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLock))
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_us BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("postgres: migration %s: bad name", name)
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return fmt.Errorf("postgres: migrate: %w", err)
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, v).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_us) VALUES ($1, $2)`, v, time.Now().UnixMicro())
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migration %s: %w", base, err)
		}
	}
	return nil
}

func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

func toID(b []byte) (format.ID, error) { return sqlrows.ID("postgres", b) }

func idBytes(ids []format.ID) [][]byte {
	out := make([][]byte, len(ids))
	for i := range ids {
		out[i] = ids[i][:]
	}
	return out
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func presentChunks(ctx context.Context, q querier, matter string, ids []format.ID) (map[format.ID]struct{}, error) {
	present := make(map[format.ID]struct{}, len(ids))
	rows, err := q.Query(ctx, `SELECT id FROM chunks WHERE matter = $1 AND id = ANY($2::bytea[])`, matter, idBytes(ids))
	if err != nil {
		return nil, fmt.Errorf("postgres: chunks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("postgres: chunks: %w", err)
		}
		id, err := toID(b)
		if err != nil {
			return nil, err
		}
		present[id] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: chunks: %w", err)
	}
	return present, nil
}

// MissingChunks implements gateway.Store.
func (s *Store) MissingChunks(ctx context.Context, matter string, ids []format.ID) ([]format.ID, error) {
	present, err := presentChunks(ctx, s.pool, matter, ids)
	if err != nil {
		return nil, err
	}
	return sqlrows.Missing(ids, present), nil
}

// Chunk implements gateway.Store.
func (s *Store) Chunk(ctx context.Context, matter string, id format.ID) (store.Chunk, error) {
	c := store.Chunk{Matter: matter, ID: id}
	var us int64
	err := s.pool.QueryRow(ctx, `SELECT size, created_us FROM chunks WHERE matter = $1 AND id = $2`, matter, id[:]).Scan(&c.Size, &us)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, store.ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("postgres: chunk: %w", err)
	}
	c.Time = store.FromMicros(us)
	return c, nil
}

// PutChunk implements gateway.Store.
func (s *Store) PutChunk(ctx context.Context, c store.Chunk, rec *audit.Record) (bool, error) {
	var created bool
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO chunks (matter, id, size, created_us) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
			c.Matter, c.ID[:], c.Size, store.Micros(c.Time))
		if err != nil {
			return err
		}
		created = tag.RowsAffected() == 1
		return appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return false, fmt.Errorf("postgres: put chunk: %w", err)
	}
	return created, nil
}

// fileLockKey is the advisory lock key of one file's commits.
func fileLockKey(matter string, file format.ID) int64 {
	h := sha256.New()
	h.Write([]byte("mattersync-commit\x00" + matter + "\x00"))
	h.Write(file[:])
	return int64(binary.BigEndian.Uint64(h.Sum(nil)))
}

// Commit implements gateway.Store.
func (s *Store) Commit(ctx context.Context, c store.Commit, write store.WriteFunc, rec *audit.Record) (store.Version, error) {
	if c.Deleted {
		c.Chunks = nil
	}
	chunks := store.Dedup(c.Chunks)
	v := store.Version{Matter: c.Matter, File: c.File, Version: c.Base + 1, Deleted: c.Deleted, Size: c.Size, Epoch: c.Epoch,
		Entity: c.Entity, Device: c.Device, Time: c.Time.UTC().Truncate(time.Microsecond)}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, fileLockKey(c.Matter, c.File)); err != nil {
			return err
		}
		var cur int64
		var deleted bool
		err := tx.QueryRow(ctx, `SELECT head, deleted FROM files WHERE matter = $1 AND id = $2`, c.Matter, c.File[:]).Scan(&cur, &deleted)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if cur != c.Base {
			return &store.VersionMismatchError{Current: cur, Deleted: deleted}
		}
		if c.Deleted && deleted {
			return store.ErrAlreadyDeleted
		}
		// A first look at the epoch, so a stale commit writes no blob; it
		// is checked again under the matter's row lock below.
		if err := checkEpoch(ctx, tx, c, ""); err != nil {
			return err
		}
		if len(chunks) > 0 {
			present, err := presentChunks(ctx, tx, c.Matter, chunks)
			if err != nil {
				return err
			}
			var missing []format.ID
			for _, id := range chunks {
				if _, ok := present[id]; !ok {
					missing = append(missing, id)
				}
			}
			if len(missing) > 0 {
				return &store.MissingChunksError{IDs: missing}
			}
		}
		if c.Deleted {
			// Lock the matter row before reading the hold, so a hold set
			// concurrently either precedes this delete or follows it.
			var on bool
			if _, err := tx.Exec(ctx, `INSERT INTO matters (id) VALUES ($1) ON CONFLICT DO NOTHING`, c.Matter); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, `SELECT hold FROM matters WHERE id = $1 FOR UPDATE`, c.Matter).Scan(&on); err != nil {
				return err
			}
			if on {
				return store.ErrLegalHold
			}
		}
		if write != nil {
			key, err := write(ctx, v.Version)
			if err != nil {
				return err
			}
			v.ManifestKey = key
		}
		if _, err := tx.Exec(ctx, `INSERT INTO matters (id) VALUES ($1) ON CONFLICT DO NOTHING`, c.Matter); err != nil {
			return err
		}
		// Under the matter's row lock, a concurrent SetEpoch either
		// precedes this commit (and refuses it) or follows it.
		if err := checkEpoch(ctx, tx, c, " FOR UPDATE"); err != nil {
			return err
		}
		// Only the admin raises the matter's epoch: if commits did, one
		// member sealing a huge epoch could lock every writer out.
		if err := tx.QueryRow(ctx, `UPDATE matters SET seq = seq + 1 WHERE id = $1 RETURNING seq`, c.Matter).Scan(&v.Seq); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO versions (matter, file, version, seq, deleted, size, epoch, entity, device, created_us, manifest_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			c.Matter, c.File[:], v.Version, v.Seq, v.Deleted, v.Size, int64(v.Epoch), v.Entity, v.Device, store.Micros(v.Time), v.ManifestKey); err != nil {
			return err
		}
		if len(chunks) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO version_chunks (matter, file, version, chunk) SELECT $1, $2, $3, unnest($4::bytea[])`,
				c.Matter, c.File[:], v.Version, idBytes(chunks)); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO files (matter, id, head, deleted) VALUES ($1, $2, $3, $4) ON CONFLICT (matter, id) DO UPDATE SET head = excluded.head, deleted = excluded.deleted`,
			c.Matter, c.File[:], v.Version, v.Deleted); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'changes'`); err != nil {
			return err
		}
		return appendAudit(ctx, tx, rec)
	})
	if err != nil {
		var mismatch *store.VersionMismatchError
		var missing *store.MissingChunksError
		var stale *store.StaleEpochError
		if errors.As(err, &mismatch) || errors.As(err, &missing) || errors.As(err, &stale) || errors.Is(err, store.ErrAlreadyDeleted) || errors.Is(err, store.ErrLegalHold) {
			return store.Version{}, err
		}
		return store.Version{}, fmt.Errorf("postgres: commit: %w", err)
	}
	return v, nil
}

// checkEpoch refuses c if its epoch is below its matter's; lock is "" or
// " FOR UPDATE".
func checkEpoch(ctx context.Context, tx pgx.Tx, c store.Commit, lock string) error {
	var epoch int64
	err := tx.QueryRow(ctx, `SELECT epoch FROM matters WHERE id = $1`+lock, c.Matter).Scan(&epoch)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if int64(c.Epoch) < epoch {
		return &store.StaleEpochError{Current: uint32(epoch), Got: c.Epoch}
	}
	return nil
}

const versionCols = `version, seq, deleted, size, epoch, entity, device, created_us, manifest_key`

func scanVersion(sc sqlrows.Scanner, v *store.Version) error {
	var us, epoch int64
	if err := sc.Scan(&v.Version, &v.Seq, &v.Deleted, &v.Size, &epoch, &v.Entity, &v.Device, &us, &v.ManifestKey); err != nil {
		return err
	}
	v.Epoch = uint32(epoch)
	v.Time = store.FromMicros(us)
	return nil
}

// Version implements gateway.Store.
func (s *Store) Version(ctx context.Context, matter string, file format.ID, version int64) (store.Version, error) {
	v := store.Version{Matter: matter, File: file}
	var row pgx.Row
	if version == 0 {
		row = s.pool.QueryRow(ctx, `SELECT `+versionCols+` FROM versions WHERE matter = $1 AND file = $2 ORDER BY version DESC LIMIT 1`, matter, file[:])
	} else {
		row = s.pool.QueryRow(ctx, `SELECT `+versionCols+` FROM versions WHERE matter = $1 AND file = $2 AND version = $3`, matter, file[:], version)
	}
	err := scanVersion(row, &v)
	if errors.Is(err, pgx.ErrNoRows) {
		return v, store.ErrNotFound
	}
	if err != nil {
		return v, fmt.Errorf("postgres: version: %w", err)
	}
	return v, nil
}

// Versions implements gateway.Store.
func (s *Store) Versions(ctx context.Context, matter string, file format.ID, before int64, limit int) ([]store.Version, error) {
	if before <= 0 {
		before = 1 << 62
	}
	rows, err := s.pool.Query(ctx, `SELECT `+versionCols+` FROM versions WHERE matter = $1 AND file = $2 AND version < $3 ORDER BY version DESC LIMIT $4`, matter, file[:], before, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: versions: %w", err)
	}
	defer rows.Close()
	out, err := sqlrows.Append(nil, rows, func(sc sqlrows.Scanner) (store.Version, error) {
		v := store.Version{Matter: matter, File: file}
		return v, scanVersion(sc, &v)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: versions: %w", err)
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
	out := []store.Version{}
	var headSeq int64
	// Repeatable read: head and changes come from one snapshot.
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT seq FROM matters WHERE id = $1`, matter).Scan(&headSeq); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT file, `+versionCols+` FROM versions WHERE matter = $1 AND seq > $2 ORDER BY seq LIMIT $3`, matter, since, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var fb []byte
			var us, epoch int64
			v := store.Version{Matter: matter}
			if err := rows.Scan(&fb, &v.Version, &v.Seq, &v.Deleted, &v.Size, &epoch, &v.Entity, &v.Device, &us, &v.ManifestKey); err != nil {
				return err
			}
			v.Epoch = uint32(epoch)
			if v.File, err = toID(fb); err != nil {
				return err
			}
			v.Time = store.FromMicros(us)
			out = append(out, v)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, fmt.Errorf("postgres: changes: %w", err)
	}
	return out, headSeq, nil
}

// Hold implements gateway.Store.
func (s *Store) Hold(ctx context.Context, matter string) (store.Hold, error) {
	h := store.Hold{Matter: matter}
	var us int64
	err := s.pool.QueryRow(ctx, `SELECT hold, hold_reason, hold_by, hold_us FROM matters WHERE id = $1`, matter).Scan(&h.On, &h.Reason, &h.ChangedBy, &us)
	if errors.Is(err, pgx.ErrNoRows) {
		return h, nil
	}
	if err != nil {
		return h, fmt.Errorf("postgres: hold: %w", err)
	}
	if us != 0 {
		h.Time = store.FromMicros(us)
	}
	return h, nil
}

// SetHold implements gateway.Store.
func (s *Store) SetHold(ctx context.Context, h store.Hold, rec *audit.Record) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO matters (id) VALUES ($1) ON CONFLICT DO NOTHING`, h.Matter); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE matters SET hold = $1, hold_reason = $2, hold_by = $3, hold_us = $4 WHERE id = $5`,
			h.On, h.Reason, h.ChangedBy, store.Micros(h.Time), h.Matter); err != nil {
			return err
		}
		return appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return fmt.Errorf("postgres: set hold: %w", err)
	}
	return nil
}

// Epoch implements gateway.Store.
func (s *Store) Epoch(ctx context.Context, matter string) (uint32, error) {
	var epoch int64
	err := s.pool.QueryRow(ctx, `SELECT epoch FROM matters WHERE id = $1`, matter).Scan(&epoch)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("postgres: epoch: %w", err)
	}
	return uint32(epoch), nil
}

// SetEpoch implements gateway.Store.
func (s *Store) SetEpoch(ctx context.Context, matter string, epoch uint32, rec *audit.Record) (uint32, error) {
	var prev int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO matters (id) VALUES ($1) ON CONFLICT DO NOTHING`, matter); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT epoch FROM matters WHERE id = $1 FOR UPDATE`, matter).Scan(&prev); err != nil {
			return err
		}
		if int64(epoch) < prev {
			return &store.StaleEpochError{Current: uint32(prev), Got: epoch}
		}
		if _, err := tx.Exec(ctx, `UPDATE matters SET epoch = $1 WHERE id = $2`, int64(epoch), matter); err != nil {
			return err
		}
		return appendAudit(ctx, tx, rec)
	})
	var stale *store.StaleEpochError
	if errors.As(err, &stale) {
		return stale.Current, err
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: set epoch: %w", err)
	}
	return uint32(prev), nil
}

// Usage implements gateway.Store.
func (s *Store) Usage(ctx context.Context, matter string) (store.Usage, error) {
	var u store.Usage
	err := s.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM chunks WHERE matter = $1),
		(SELECT coalesce(sum(size), 0)::bigint FROM chunks WHERE matter = $1),
		(SELECT count(*) FROM files WHERE matter = $1),
		(SELECT count(*) FROM versions WHERE matter = $1),
		(SELECT coalesce(sum(size), 0)::bigint FROM versions WHERE matter = $1),
		(SELECT coalesce(max(seq), 0) FROM matters WHERE id = $1)`, matter).
		Scan(&u.Chunks, &u.ChunkBytes, &u.Files, &u.Versions, &u.ManifestBytes, &u.Seq)
	if err != nil {
		return u, fmt.Errorf("postgres: usage: %w", err)
	}
	return u, nil
}

// DenyList implements gateway.Store.
func (s *Store) DenyList(ctx context.Context) ([]store.DenyEntry, int64, error) {
	out := []store.DenyEntry{}
	var gen int64
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT value FROM counters WHERE name = 'deny'`).Scan(&gen); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT entity, name, reason, created_by, created_us FROM deny ORDER BY created_us, entity`)
		if err != nil {
			return err
		}
		defer rows.Close()
		out, err = sqlrows.Append(out, rows, sqlrows.ScanDenyEntry)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("postgres: deny list: %w", err)
	}
	return out, gen, nil
}

// AddDeny implements gateway.Store.
func (s *Store) AddDeny(ctx context.Context, e store.DenyEntry, rec *audit.Record) (bool, int64, error) {
	var created bool
	var gen int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO deny (entity, name, reason, created_by, created_us) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
			e.Entity, e.Name, e.Reason, e.CreatedBy, store.Micros(e.Time))
		if err != nil {
			return err
		}
		created = tag.RowsAffected() == 1
		return bumpDeny(ctx, tx, created, rec, &gen)
	})
	if err != nil {
		return false, 0, fmt.Errorf("postgres: add deny: %w", err)
	}
	return created, gen, nil
}

// bumpDeny moves the deny generation and appends rec if changed; gen is
// the generation afterwards.
func bumpDeny(ctx context.Context, tx pgx.Tx, changed bool, rec *audit.Record, gen *int64) error {
	if !changed {
		return tx.QueryRow(ctx, `SELECT value FROM counters WHERE name = 'deny'`).Scan(gen)
	}
	if err := tx.QueryRow(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'deny' RETURNING value`).Scan(gen); err != nil {
		return err
	}
	return appendAudit(ctx, tx, rec)
}

// RemoveDeny implements gateway.Store.
func (s *Store) RemoveDeny(ctx context.Context, entity string, rec *audit.Record) (bool, int64, error) {
	var removed bool
	var gen int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM deny WHERE entity = $1`, entity)
		if err != nil {
			return err
		}
		removed = tag.RowsAffected() == 1
		return bumpDeny(ctx, tx, removed, rec, &gen)
	})
	if err != nil {
		return false, 0, fmt.Errorf("postgres: remove deny: %w", err)
	}
	return removed, gen, nil
}

// TokenFloors implements gateway.Store.
func (s *Store) TokenFloors(ctx context.Context) ([]store.TokenFloor, int64, error) {
	out := []store.TokenFloor{}
	var gen int64
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT value FROM counters WHERE name = 'deny'`).Scan(&gen); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT entity, not_before_us, reason, set_by, time_us FROM token_floors ORDER BY entity`)
		if err != nil {
			return err
		}
		defer rows.Close()
		out, err = sqlrows.Append(out, rows, sqlrows.ScanTokenFloor)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("postgres: token floors: %w", err)
	}
	return out, gen, nil
}

// SetTokenFloor implements gateway.Store.
func (s *Store) SetTokenFloor(ctx context.Context, f store.TokenFloor, rec *audit.Record) (store.TokenFloor, int64, error) {
	var gen int64
	out := store.TokenFloor{Entity: f.Entity}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO token_floors (entity, not_before_us, reason, set_by, time_us) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (entity) DO UPDATE SET not_before_us = excluded.not_before_us, reason = excluded.reason, set_by = excluded.set_by, time_us = excluded.time_us
			WHERE excluded.not_before_us > token_floors.not_before_us`,
			f.Entity, store.Micros(f.NotBefore), f.Reason, f.SetBy, store.Micros(f.Time)); err != nil {
			return err
		}
		var nb, us int64
		if err := tx.QueryRow(ctx, `SELECT not_before_us, reason, set_by, time_us FROM token_floors WHERE entity = $1`, f.Entity).Scan(&nb, &out.Reason, &out.SetBy, &us); err != nil {
			return err
		}
		out.NotBefore, out.Time = store.FromMicros(nb), store.FromMicros(us)
		if err := tx.QueryRow(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'deny' RETURNING value`).Scan(&gen); err != nil {
			return err
		}
		return appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return out, 0, fmt.Errorf("postgres: set token floor: %w", err)
	}
	return out, gen, nil
}

// Counters implements gateway.Store.
func (s *Store) Counters(ctx context.Context) (store.Counters, error) {
	var c store.Counters
	err := s.pool.QueryRow(ctx, `SELECT
		(SELECT value FROM counters WHERE name = 'changes'),
		(SELECT value FROM counters WHERE name = 'deny')`).Scan(&c.Changes, &c.Deny)
	if err != nil {
		return c, fmt.Errorf("postgres: counters: %w", err)
	}
	return c, nil
}

// appendAudit locks the chain head, links rec to it and stores it. The head
// row lock is held until the surrounding transaction ends: appends from all
// replicas are serialized, and a rolled-back transaction leaves no record.
func appendAudit(ctx context.Context, tx pgx.Tx, rec *audit.Record) error {
	if rec == nil {
		return errors.New("no audit record")
	}
	var seq int64
	var hb []byte
	if err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE`).Scan(&seq, &hb); err != nil {
		return fmt.Errorf("audit head: %w", err)
	}
	var prev audit.Hash
	copy(prev[:], hb)
	rec.Link(seq, prev)
	if _, err := tx.Exec(ctx, `INSERT INTO audit_records (`+sqlrows.AuditCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		sqlrows.AuditValues(rec)...); err != nil {
		return fmt.Errorf("audit append: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, rec.Seq, rec.Hash[:]); err != nil {
		return fmt.Errorf("audit head: %w", err)
	}
	return nil
}

// AppendAudit implements gateway.Store.
func (s *Store) AppendAudit(ctx context.Context, rec *audit.Record) error {
	if err := s.tx(ctx, func(tx pgx.Tx) error { return appendAudit(ctx, tx, rec) }); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// AuditHead implements gateway.Store. It reads the last record rather than
// the head row, so a verifier sees what the records say.
func (s *Store) AuditHead(ctx context.Context) (int64, audit.Hash, error) {
	var seq int64
	var hb []byte
	var h audit.Hash
	err := s.pool.QueryRow(ctx, `SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hb)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, h, nil
	}
	if err != nil {
		return 0, h, fmt.Errorf("postgres: audit head: %w", err)
	}
	copy(h[:], hb)
	return seq, h, nil
}

// AuditRecords implements gateway.Store.
func (s *Store) AuditRecords(ctx context.Context, q audit.Query, fn func(*audit.Record) error) error {
	query, args := sqlrows.AuditQuery(q, func(n int) string { return "$" + strconv.Itoa(n) })
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("postgres: audit records: %w", err)
	}
	defer rows.Close()
	return sqlrows.AuditRecords(rows, fn, "postgres: audit records")
}

// checkpointLock is the advisory lock key under which a checkpoint is
// appended, so replicas' checkpoints form one chain.
const checkpointLock = 0x6d732d636b707473 // "ms-ckpts"

// AddCheckpoint implements gateway.Store.
func (s *Store) AddCheckpoint(ctx context.Context, c audit.Checkpoint) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(checkpointLock)); err != nil {
			return err
		}
		var last int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM audit_checkpoints`).Scan(&last); err != nil {
			return err
		}
		if err := sqlrows.CheckFollows(last, c); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO audit_checkpoints (`+sqlrows.CheckpointCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			c.Seq, c.KeyID, c.Hash[:], c.Time.UnixMicro(), c.Signature, sqlrows.CheckpointVersion(c), c.PrevSeq, c.Prev[:])
		return err
	})
	if errors.Is(err, store.ErrCheckpointConflict) {
		return err
	}
	if err != nil {
		return fmt.Errorf("postgres: add checkpoint: %w", err)
	}
	return nil
}

// LastCheckpoint implements gateway.Store.
func (s *Store) LastCheckpoint(ctx context.Context) (audit.Checkpoint, error) {
	c, err := sqlrows.ScanCheckpoint(s.pool.QueryRow(ctx, `SELECT `+sqlrows.CheckpointCols+` FROM audit_checkpoints ORDER BY seq DESC, key_id LIMIT 1`))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, store.ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("postgres: last checkpoint: %w", err)
	}
	return c, nil
}

// Checkpoints implements gateway.Store.
func (s *Store) Checkpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+sqlrows.CheckpointCols+` FROM audit_checkpoints ORDER BY seq, key_id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: checkpoints: %w", err)
	}
	defer rows.Close()
	out, err := sqlrows.Append(nil, rows, sqlrows.ScanCheckpoint)
	if err != nil {
		return nil, fmt.Errorf("postgres: checkpoints: %w", err)
	}
	return out, nil
}

// IsUnavailable reports whether err means the database could not be
// reached (as opposed to refusing a statement).
func IsUnavailable(err error) bool {
	var pgErr *pgconn.PgError
	return err != nil && !errors.As(err, &pgErr)
}
