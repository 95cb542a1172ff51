package sqlcore

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migrate applies, in order, the migrations in fsys (migrations/NNNN_what.sql)
// that schema_migrations does not list yet, each with its row in one
// transaction that write runs. name starts the error messages.
func Migrate(ctx context.Context, name string, fsys fs.FS, write func(func(Querier) error) error) error {
	err := write(func(tx Querier) error {
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_us BIGINT NOT NULL)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: migrate: %w", name, err)
	}
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("%s: migrate: %w", name, err)
	}
	sort.Strings(names)
	for _, file := range names {
		base := strings.TrimPrefix(file, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("%s: migration %s: bad name", name, file)
		}
		body, err := fs.ReadFile(fsys, file)
		if err != nil {
			return fmt.Errorf("%s: migrate: %w", name, err)
		}
		err = write(func(tx Querier) error {
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
			return fmt.Errorf("%s: migration %s: %w", name, base, err)
		}
	}
	return nil
}
