package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// SQLite parses and plans a statement on every unprepared call: in the
// profile of a first sync of small files (issue 22, about 16 statements
// per file in a batch) that was about a quarter of the gateway's CPU. Each
// handle keeps its statements prepared, by query text; database/sql
// prepares a handle's statement on each connection the first time it runs
// there, and a transaction runs it on its own connection (Tx.StmtContext).
//
// Preparing on the handle takes a connection of its own. Inside a
// transaction that may be the only one (the writer has one), so a
// statement first met inside a transaction runs unprepared and is prepared
// once the transaction is over (flush); outside one it is prepared at once.

const (
	// maxCachedStmts bounds the statements a handle keeps: sqlcore has
	// about 170 fixed queries, and its ID lists make up to
	// maxCachedArgs variants of each of about ten more.
	maxCachedStmts = 512
	// maxCachedArgs: a statement with more arguments (a long ID list,
	// whose length varies) runs unprepared.
	maxCachedArgs = 32
)

// stmtCache is one handle's prepared statements.
type stmtCache struct {
	db *sql.DB

	mu     sync.Mutex // guards m and wanted
	m      map[string]*sql.Stmt
	wanted map[string]struct{} // met inside a transaction, to prepare after it
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}, wanted: map[string]struct{}{}}
}

// get returns the prepared statement of query, or nil: then it runs
// unprepared, and, if it is worth keeping, it is noted for flush.
func (c *stmtCache) get(query string, args int) *sql.Stmt {
	if c == nil || args > maxCachedArgs {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.m[query]; st != nil {
		return st
	}
	if len(c.m)+len(c.wanted) < maxCachedStmts {
		c.wanted[query] = struct{}{}
	}
	return nil
}

// flush prepares the statements noted since the last flush. It must not
// run inside a transaction of the handle. A statement that does not
// prepare (e.g. one of a migration that has not run yet) is dropped: it
// is noted again the next time it runs.
func (c *stmtCache) flush(ctx context.Context) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if len(c.wanted) == 0 {
		c.mu.Unlock()
		return
	}
	wanted := c.wanted
	c.wanted = map[string]struct{}{}
	c.mu.Unlock()
	for q := range wanted {
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if c.m[q] == nil {
			c.m[q] = st
			st = nil
		}
		c.mu.Unlock()
		if st != nil {
			st.Close() // another flush prepared it first
		}
	}
}

// close closes the statements (before the handle).
func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		st.Close()
		delete(c.m, q)
	}
}
