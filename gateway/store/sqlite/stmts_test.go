package sqlite

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mattersync/mattersync/gateway/store/internal/sqlcore"
)

// TestStatementsPrepared: a statement run in a write transaction is
// prepared once that transaction is over and run prepared afterwards, on
// the writer's one connection, without waiting for it; reads outside a
// transaction are prepared at once; a statement with a long argument list
// is never kept.
func TestStatementsPrepared(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "gateway.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e := s.db
	const q = `INSERT INTO schema_migrations (version, applied_us) VALUES ($1, $2)`
	cached := func(c *stmtCache, query string) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.m[placeholders(query)] != nil
	}
	for i, v := range []int{1001, 1002, 1003} {
		if err := e.Write(ctx, func(tx sqlcore.Querier) error {
			_, err := tx.Exec(ctx, q, v, 1)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if !cached(e.wrStmts, q) {
			t.Fatalf("after write %d: the statement is not prepared", i+1)
		}
	}
	const r = `SELECT count(*) FROM schema_migrations WHERE version >= $1`
	var n int
	if err := e.Read().QueryRow(ctx, r, 1001).Scan(&n); err != nil || n != 3 {
		t.Fatalf("read: %d rows, %v", n, err)
	}
	if !cached(e.rdStmts, r) {
		t.Fatal("a read outside a transaction is not prepared")
	}
	args := make([]any, maxCachedArgs+1)
	marks := make([]string, len(args))
	for i := range args {
		args[i], marks[i] = 1001, "$"+strconv.Itoa(i+1)
	}
	long := `SELECT count(*) FROM schema_migrations WHERE version IN (` + strings.Join(marks, ", ") + `)`
	if err := e.Read().QueryRow(ctx, long, args...).Scan(&n); err != nil || n != 1 {
		t.Fatalf("long read: %d rows, %v", n, err)
	}
	if cached(e.rdStmts, long) {
		t.Fatalf("a statement of %d arguments was kept", len(args))
	}
}
