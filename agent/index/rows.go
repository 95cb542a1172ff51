package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Matter is a matter the agent syncs.
type Matter struct {
	ID, Name, Role, Folder string
	Cursor                 uint64 // last change-feed sequence applied
	State                  string // "active" or "removed"
	LastSync               time.Time
	LastError              string
}

// File is what the agent last saw of one synced file.
type File struct {
	Matter  string
	Path    string // normalized, '/'-separated, relative to the matter folder
	FileID  string
	Size    int64
	MtimeNs int64
	Mode    uint32
	Hash    []byte // whole-file content hash
	Version uint64 // remote version the local copy equals
}

// Conflict records a conflict copy the agent made.
type Conflict struct {
	Matter, Path, Copy, Reason string
	Created                    time.Time
}

// BindUser ties the index to one user on one gateway: an index written for
// another user or gateway is refused, so one person's sync state can never
// be applied to another's files.
func (d *DB) BindUser(ctx context.Context, entity, gateway string) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		var e, g string
		err := tx.QueryRowContext(ctx, `SELECT entity, gateway FROM owner`).Scan(&e, &g)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.ExecContext(ctx, `INSERT INTO owner (entity, gateway) VALUES (?, ?)`, entity, gateway)
			return err
		case err != nil:
			return fmt.Errorf("index: owner: %w", err)
		case e != entity || g != gateway:
			return fmt.Errorf("index: this data dir belongs to another user or gateway (entity %s at %s); use another data_dir", e, g)
		}
		return nil
	})
}

// PutMatter inserts or updates a matter's name, role and folder, keeping its
// cursor.
func (d *DB) PutMatter(ctx context.Context, m Matter) error {
	_, err := d.db.ExecContext(ctx, `INSERT INTO matters (id, name, role, folder, state) VALUES (?, ?, ?, ?, 'active')
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, folder = excluded.folder, state = 'active'`,
		m.ID, m.Name, m.Role, m.Folder)
	if err != nil {
		return fmt.Errorf("index: put matter %s: %w", m.ID, err)
	}
	return nil
}

// Matters returns every matter, active or removed, ordered by ID.
func (d *DB) Matters(ctx context.Context) ([]Matter, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, name, role, folder, cursor, state, last_sync_unix, last_error FROM matters ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("index: matters: %w", err)
	}
	defer rows.Close()
	var out []Matter
	for rows.Next() {
		var m Matter
		var last int64
		if err := rows.Scan(&m.ID, &m.Name, &m.Role, &m.Folder, &m.Cursor, &m.State, &last, &m.LastError); err != nil {
			return nil, fmt.Errorf("index: matters: %w", err)
		}
		if last > 0 {
			m.LastSync = time.Unix(last, 0)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// SetMatterState marks a matter active or removed (the user lost access).
func (d *DB) SetMatterState(ctx context.Context, id, state string) error {
	return d.exec(ctx, "set matter state", `UPDATE matters SET state = ? WHERE id = ?`, state, id)
}

// Cursor returns the change-feed sequence a matter has been applied up to.
func (d *DB) Cursor(ctx context.Context, id string) (uint64, error) {
	var c uint64
	err := d.db.QueryRowContext(ctx, `SELECT cursor FROM matters WHERE id = ?`, id).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("index: matter %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("index: cursor: %w", err)
	}
	return c, nil
}

// SetCursor records that the change feed has been applied up to seq.
func (d *DB) SetCursor(ctx context.Context, id string, seq uint64) error {
	return d.exec(ctx, "set cursor", `UPDATE matters SET cursor = ? WHERE id = ?`, seq, id)
}

// SetSyncResult records when a matter last synced and its last error ("" for
// none).
func (d *DB) SetSyncResult(ctx context.Context, id string, at time.Time, errMsg string) error {
	return d.exec(ctx, "set sync result", `UPDATE matters SET last_sync_unix = ?, last_error = ? WHERE id = ?`, at.Unix(), errMsg, id)
}

// File returns the row for a path, or ErrNotFound.
func (d *DB) File(ctx context.Context, matter, path string) (File, error) {
	return d.scanFile(d.fileByPath.QueryRowContext(ctx, matter, path))
}

// FileByID returns the row for a file ID, or ErrNotFound.
func (d *DB) FileByID(ctx context.Context, matter, fileID string) (File, error) {
	return d.scanFile(d.fileByID.QueryRowContext(ctx, matter, fileID))
}

const (
	fileByPathSQL = `SELECT matter, path, file_id, size, mtime_ns, mode, hash, version FROM files WHERE matter = ? AND path = ?`
	fileByIDSQL   = `SELECT matter, path, file_id, size, mtime_ns, mode, hash, version FROM files WHERE matter = ? AND file_id = ?`
)

func (d *DB) scanFile(row *sql.Row) (File, error) {
	var f File
	err := row.Scan(&f.Matter, &f.Path, &f.FileID, &f.Size, &f.MtimeNs, &f.Mode, &f.Hash, &f.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return File{}, ErrNotFound
	}
	if err != nil {
		return File{}, fmt.Errorf("index: file: %w", err)
	}
	return f, nil
}

// Files returns every file row of a matter, ordered by path.
func (d *DB) Files(ctx context.Context, matter string) ([]File, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT matter, path, file_id, size, mtime_ns, mode, hash, version FROM files WHERE matter = ? ORDER BY path`, matter)
	return scanFiles(rows, err, "files")
}

// FilesUnder returns the rows of a matter at prefix or below it ("" for
// all), ordered by path.
func (d *DB) FilesUnder(ctx context.Context, matter, prefix string) ([]File, error) {
	if prefix == "" {
		return d.Files(ctx, matter)
	}
	// A range instead of LIKE: paths may contain '%' and '_'. '0' is the
	// byte after '/', so [prefix/, prefix0) is exactly the subtree.
	rows, err := d.db.QueryContext(ctx, `SELECT matter, path, file_id, size, mtime_ns, mode, hash, version FROM files
		WHERE matter = ? AND (path = ? OR (path >= ? AND path < ?)) ORDER BY path`, matter, prefix, prefix+"/", prefix+"0")
	return scanFiles(rows, err, "files under "+prefix)
}

func scanFiles(rows *sql.Rows, err error, op string) ([]File, error) {
	if err != nil {
		return nil, fmt.Errorf("index: %s: %w", op, err)
	}
	defer rows.Close()
	var out []File
	for rows.Next() {
		var f File
		if err := rows.Scan(&f.Matter, &f.Path, &f.FileID, &f.Size, &f.MtimeNs, &f.Mode, &f.Hash, &f.Version); err != nil {
			return nil, fmt.Errorf("index: %s: %w", op, err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// putGroup collects the rows of concurrent PutFile calls (the agent
// uploads and downloads several files at once) so that one transaction,
// one fsync, makes them all durable: a group commit.
type putGroup struct {
	mu      sync.Mutex // guards pending and leader
	pending []*putReq
	leader  bool // a caller is writing groups
}

type putReq struct {
	f    File
	done chan error
}

// PutFile inserts or replaces a file row, durably: it returns once the
// transaction holding the row is committed. Rows of concurrent calls
// share a transaction; the first caller writes them, group after group,
// while the others wait for theirs.
func (d *DB) PutFile(ctx context.Context, f File) error {
	r := &putReq{f: f, done: make(chan error, 1)}
	g := &d.puts
	g.mu.Lock()
	g.pending = append(g.pending, r)
	if g.leader {
		g.mu.Unlock()
		return <-r.done
	}
	g.leader = true
	for len(g.pending) > 0 {
		group := g.pending
		g.pending = nil
		g.mu.Unlock()
		// Not cancelled with the leader's context: the group's other
		// callers wait for this transaction.
		ctx := context.WithoutCancel(ctx)
		err := d.tx(ctx, func(tx *sql.Tx) error {
			put := tx.StmtContext(ctx, d.putFile)
			for _, p := range group {
				if _, err := put.ExecContext(ctx, p.f.Matter, p.f.Path, p.f.FileID, p.f.Size, p.f.MtimeNs, p.f.Mode, p.f.Hash, p.f.Version); err != nil {
					return err
				}
			}
			return nil
		})
		for _, p := range group {
			if err != nil && len(group) > 1 {
				// One row's failure (its matter just removed, say) is
				// not the others': each is tried alone.
				p.done <- d.putOne(ctx, p.f)
				continue
			}
			if err != nil {
				err = fmt.Errorf("index: put file: %w", err)
			}
			p.done <- err
		}
		g.mu.Lock()
	}
	g.leader = false
	g.mu.Unlock()
	return <-r.done
}

const putFileSQL = `INSERT INTO files (matter, path, file_id, size, mtime_ns, mode, hash, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (matter, path) DO UPDATE SET file_id = excluded.file_id, size = excluded.size, mtime_ns = excluded.mtime_ns,
	mode = excluded.mode, hash = excluded.hash, version = excluded.version`

func (d *DB) putOne(ctx context.Context, f File) error {
	if _, err := d.putFile.ExecContext(ctx, f.Matter, f.Path, f.FileID, f.Size, f.MtimeNs, f.Mode, f.Hash, f.Version); err != nil {
		return fmt.Errorf("index: put file: %w", err)
	}
	return nil
}

// DeleteFile removes a file row; removing a missing row is not an error.
func (d *DB) DeleteFile(ctx context.Context, matter, path string) error {
	return d.exec(ctx, "delete file", `DELETE FROM files WHERE matter = ? AND path = ?`, matter, path)
}

// ResetMatter forgets every file row of a matter and rewinds its cursor, in
// one transaction: the next pull rebuilds the matter from the gateway.
func (d *DB) ResetMatter(ctx context.Context, id string) error {
	err := d.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM files WHERE matter = ?`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE matters SET cursor = 0 WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("index: reset matter %s: %w", id, err)
	}
	return nil
}

// DeleteMatter removes a matter and all its file rows.
func (d *DB) DeleteMatter(ctx context.Context, id string) error {
	return d.exec(ctx, "delete matter", `DELETE FROM matters WHERE id = ?`, id)
}

// AddConflict records a conflict copy.
func (d *DB) AddConflict(ctx context.Context, c Conflict) error {
	return d.exec(ctx, "add conflict", `INSERT OR REPLACE INTO conflicts (matter, path, copy, reason, created_unix) VALUES (?, ?, ?, ?, ?)`,
		c.Matter, c.Path, c.Copy, c.Reason, c.Created.Unix())
}

// ConflictCount returns how many conflict copies were recorded for a
// matter (status shows it after every pass; no need to read them all).
func (d *DB) ConflictCount(ctx context.Context, matter string) (int, error) {
	var n int
	if err := d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM conflicts WHERE matter = ?`, matter).Scan(&n); err != nil {
		return 0, fmt.Errorf("index: conflicts: %w", err)
	}
	return n, nil
}

// Conflicts lists recorded conflict copies, newest first.
func (d *DB) Conflicts(ctx context.Context) ([]Conflict, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT matter, path, copy, reason, created_unix FROM conflicts ORDER BY created_unix DESC, copy`)
	if err != nil {
		return nil, fmt.Errorf("index: conflicts: %w", err)
	}
	defer rows.Close()
	var out []Conflict
	for rows.Next() {
		var c Conflict
		var at int64
		if err := rows.Scan(&c.Matter, &c.Path, &c.Copy, &c.Reason, &at); err != nil {
			return nil, fmt.Errorf("index: conflicts: %w", err)
		}
		c.Created = time.Unix(at, 0)
		out = append(out, c)
	}
	return out, rows.Err()
}

// DeleteConflict forgets a conflict copy once the user settled it (kept
// one side or both, from the status page).
func (d *DB) DeleteConflict(ctx context.Context, matter, copy string) error {
	return d.exec(ctx, "delete conflict", `DELETE FROM conflicts WHERE matter = ? AND copy = ?`, matter, copy)
}

func (d *DB) exec(ctx context.Context, op, query string, args ...any) error {
	if _, err := d.db.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("index: %s: %w", op, err)
	}
	return nil
}

// MergeProblems applies changes to a matter's lasting problems (an empty
// message clears one) in one transaction and returns the messages now
// recorded, sorted.
func (d *DB) MergeProblems(ctx context.Context, matter string, changes map[string]string) ([]string, error) {
	err := d.tx(ctx, func(tx *sql.Tx) error {
		for key, msg := range changes {
			var err error
			if msg == "" {
				_, err = tx.ExecContext(ctx, `DELETE FROM problems WHERE matter = ? AND key = ?`, matter, key)
			} else {
				_, err = tx.ExecContext(ctx, `INSERT INTO problems (matter, key, message) VALUES (?, ?, ?)
					ON CONFLICT (matter, key) DO UPDATE SET message = excluded.message`, matter, key, msg)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index: problems: %w", err)
	}
	return d.problemColumn(ctx, "message", matter)
}

// RecordProblem records (or replaces) one lasting problem, saying whether
// it is an integrity event (see ProblemKeysToRetry). MergeProblems keeps
// that mark when it only updates the message.
func (d *DB) RecordProblem(ctx context.Context, matter, key, msg string, integrity bool) error {
	return d.exec(ctx, "record problem", `INSERT INTO problems (matter, key, message, integrity) VALUES (?, ?, ?, ?)
		ON CONFLICT (matter, key) DO UPDATE SET message = excluded.message, integrity = excluded.integrity`, matter, key, msg, integrity)
}

// ProblemKeys returns the keys (file IDs) of a matter's lasting problems.
func (d *DB) ProblemKeys(ctx context.Context, matter string) ([]string, error) {
	return d.problemColumn(ctx, "key", matter)
}

// ProblemKeysToRetry returns the keys of a matter's lasting problems that
// are not integrity events: those a later pass may fix (a folder in the
// way, a full disk).
func (d *DB) ProblemKeysToRetry(ctx context.Context, matter string) ([]string, error) {
	return d.problemColumn(ctx, "key", matter, "integrity = 0")
}

func (d *DB) problemColumn(ctx context.Context, col, matter string, where ...string) ([]string, error) {
	cond := ""
	for _, w := range where {
		cond += " AND " + w
	}
	rows, err := d.db.QueryContext(ctx, `SELECT `+col+` FROM problems WHERE matter = ?`+cond+` ORDER BY `+col, matter)
	if err != nil {
		return nil, fmt.Errorf("index: problems: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("index: problems: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
