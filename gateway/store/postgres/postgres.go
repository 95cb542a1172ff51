// Package postgres is the gateway's metadata store for several replicas
// sharing one PostgreSQL database.
//
// Ordering is the database's: a commit holds a transaction-scoped advisory
// lock on its file (so the blob write and the version row cannot interleave
// with another replica's commit to that file), then locks its matter's row
// to check the epoch and take the next sequence number, then the audit head
// row to append its record. Locks are always taken in that order (file,
// matter, counters, audit head), so transactions never deadlock. The
// queries are sqlcore's; dialect.go holds what is PostgreSQL's own.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mattersync/mattersync/gateway/store/internal/sqlcore"
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

// Store is the PostgreSQL store: the shared SQL body (sqlcore) on this
// engine. It plays every role of gateway.Stores (gateway.StoresOf).
type Store struct {
	*sqlcore.Store
	pool    *pgxpool.Pool
	control *pgxpool.Pool // the deny-list poll and readiness ping (engine.control)
	// listenConfig is the connection Listen makes, outside both pools.
	listenConfig *pgx.ConnConfig
	own          *ownBackends // the backends of pool (listen.go)
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
	// The control pool and the listening connection are copies made
	// before the hooks: only the request pool's backends commit.
	ccfg := cfg.Copy()
	ccfg.MaxConns, ccfg.MinConns = 2, 0
	listen := cfg.ConnConfig.Copy()
	own := &ownBackends{pids: map[uint32]struct{}{}}
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error { own.add(c); return nil }
	cfg.BeforeClose = own.remove
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// Two connections of their own for the deny-list poll and the
	// readiness ping: when requests hold every connection of the pool
	// (a burst of commits waiting on the audit head), the poll queued
	// behind them, the deny list went stale and the replica refused
	// everything with 503 and failed /readyz (PERFORMANCE.md, "Where the
	// 503s came from").
	control, err := pgxpool.NewWithConfig(ctx, ccfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{Store: sqlcore.New(engine{pool, control}, dialect), pool: pool, control: control, listenConfig: listen, own: own}
	if opts.NoMigrate {
		return s, nil
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Pool returns the connection pool, for tests that inject faults.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	s.control.Close()
	return nil
}

// Ping checks the database is reachable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.control.Ping(ctx); err != nil {
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
	return sqlcore.Migrate(ctx, "postgres", migrations, func(fn func(sqlcore.Querier) error) error {
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error { return fn(querier{tx}) })
	})
}

// IsUnavailable reports whether err means the database could not be
// reached (as opposed to refusing a statement).
func IsUnavailable(err error) bool {
	var pgErr *pgconn.PgError
	return err != nil && !errors.As(err, &pgErr)
}
