package sqlcore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

// writeError is the WriteFunc's error, which Commit returns as it is.
type writeError struct{ err error }

func (e writeError) Error() string { return e.err.Error() }

// Commit implements gateway.FileStore. The rules are checked before the
// blob is written, so a refused commit writes none, and the matter's are
// checked again in the write transaction, under the matter's row lock (or
// the engine's one writer): a concurrent SetEpoch or SetHold either
// precedes the commit, and refuses it, or follows it. CommitBatch runs
// the same steps (check, write, insertVersion) for each of its commits.
func (s *Store) Commit(ctx context.Context, c store.Commit, write store.WriteFunc, rec *audit.Record) (store.Version, error) {
	p := newPending(c, write, rec)
	err := s.db.CommitFiles(ctx, c.Matter, []format.ID{c.File}, func(check Querier, apply func(func(Querier) error) error) error {
		if err := s.checkCommit(ctx, check, p, nil, nil); err != nil {
			return err
		}
		if err := p.writeBlob(ctx); err != nil {
			return err
		}
		return apply(func(tx Querier) error {
			if err := s.insertVersion(ctx, tx, p, nil); err != nil {
				return err
			}
			return s.appendAudit(ctx, tx, rec)
		})
	})
	var we writeError
	switch {
	case err == nil:
		return p.v, nil
	case errors.As(err, &we):
		return store.Version{}, we.err
	case refusal(err):
		return store.Version{}, err
	}
	return store.Version{}, s.wrap("commit", err)
}

// refusal reports whether err is a commit refused by the store's rules
// (not a failure of the store).
func refusal(err error) bool {
	var mismatch *store.VersionMismatchError
	var missing *store.MissingChunksError
	var stale *store.StaleEpochError
	var present *store.PresentChunksError
	return errors.As(err, &mismatch) || errors.As(err, &missing) || errors.As(err, &stale) || errors.As(err, &present) ||
		errors.Is(err, store.ErrAlreadyDeleted) || errors.Is(err, store.ErrLegalHold) || errors.Is(err, store.ErrMatterClosed)
}

// pending is a commit on its way through the store.
type pending struct {
	c      store.Commit
	chunks []format.ID // c.Chunks without repeats
	v      store.Version
	write  store.WriteFunc
	rec    *audit.Record
}

func newPending(c store.Commit, write store.WriteFunc, rec *audit.Record) *pending {
	if c.Deleted {
		c.Chunks = nil
	}
	// The list exactly as committed, bound to the version: readers check
	// their manifest lists the same (api.FileVersion.ChunkListSHA256).
	sum := api.ChunkListSum(c.Chunks)
	return &pending{c: c, chunks: store.Dedup(c.Chunks), write: write, rec: rec,
		v: store.Version{Matter: c.Matter, File: c.File, Version: c.Base + 1, Deleted: c.Deleted, Size: c.Size, Epoch: c.Epoch,
			ChunkListSum: sum[:], Entity: c.Entity, User: c.User, Device: c.Device, Time: c.Time.UTC().Truncate(time.Microsecond)}}
}

// checkCommit applies the commit rules to p through check (see
// DB.CommitFiles). In a batch, sent holds the chunks whose bodies the batch
// carries (they are recorded in the write transaction, so they count as
// present) and before those of them the matter had already: a commit on
// one of those is refused (store.PresentChunksError).
func (s *Store) checkCommit(ctx context.Context, check Querier, p *pending, sent, before map[format.ID]struct{}) error {
	c := p.c
	if err := checkHead(ctx, check, c); err != nil {
		return err
	}
	// Where rows can be locked, a delete locks its matter's row before
	// reading the hold: a hold set concurrently either precedes the
	// delete or follows it, and a refused delete writes no blob.
	lock := ""
	if c.Deleted && s.d.RowLock != "" {
		if err := ensureMatter(ctx, check, c.Matter); err != nil {
			return err
		}
		lock = s.d.RowLock
	}
	if err := checkMatter(ctx, check, c, lock); err != nil {
		return err
	}
	if err := refuseSeen(p.chunks, before); err != nil {
		return err
	}
	var stored []format.ID
	for _, id := range p.chunks {
		if _, ok := sent[id]; !ok {
			stored = append(stored, id)
		}
	}
	if len(stored) > 0 {
		// Where check is the commit's transaction, the chunks found
		// stay locked until it ends: a collection cannot take them.
		present, err := s.presentChunks(ctx, check, c.Matter, stored, s.d.ShareLock)
		if err != nil {
			return err
		}
		if missing := missing(stored, present); len(missing) > 0 {
			return &store.MissingChunksError{IDs: missing}
		}
	}
	return nil
}

// refuseSeen refuses a commit of chunks some of which are in seen (sent
// with the batch but stored before it).
func refuseSeen(chunks []format.ID, seen map[format.ID]struct{}) error {
	var ids []format.ID
	for _, id := range chunks {
		if _, ok := seen[id]; ok {
			ids = append(ids, id)
		}
	}
	if len(ids) > 0 {
		return &store.PresentChunksError{IDs: ids}
	}
	return nil
}

// writeBlob stores p's manifest (its WriteFunc) and records its key.
func (p *pending) writeBlob(ctx context.Context) error {
	if p.write == nil {
		return nil
	}
	key, err := p.write(ctx, p.v.Version)
	if err != nil {
		return writeError{err}
	}
	p.v.ManifestKey = key
	return nil
}

// insertVersion checks the matter's rules again and stores p's version
// with its chunk references (not its audit record: the caller appends it).
// seen, in a batch, are the chunks the batch sent that turned out stored
// already when it recorded them (see checkCommit).
func (s *Store) insertVersion(ctx context.Context, tx Querier, p *pending, seen map[format.ID]struct{}) error {
	c, v, chunks := p.c, &p.v, p.chunks
	if err := ensureMatter(ctx, tx, c.Matter); err != nil {
		return err
	}
	if err := checkMatter(ctx, tx, c, s.d.RowLock); err != nil {
		return err
	}
	if err := refuseSeen(chunks, seen); err != nil {
		return err
	}
	if s.d.ShareLock == "" && len(chunks) > 0 {
		// The chunks were checked outside this transaction: a collection
		// may have taken one since (this engine's writers take turns, so
		// what is read here stays until the commit).
		present, err := s.presentChunks(ctx, tx, c.Matter, chunks, "")
		if err != nil {
			return err
		}
		if missing := missing(chunks, present); len(missing) > 0 {
			return &store.MissingChunksError{IDs: missing}
		}
	}
	// Only the admin raises the matter's epoch: if commits did, one member
	// sealing a huge epoch could lock every writer out.
	if err := tx.QueryRow(ctx, `UPDATE matters SET seq = seq + 1 WHERE id = $1 RETURNING seq`, c.Matter).Scan(&v.Seq); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO versions (matter, file, version, seq, deleted, size, epoch, entity, device, created_us, manifest_key, chunk_list_sha256, username) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		c.Matter, c.File[:], v.Version, v.Seq, v.Deleted, v.Size, int64(v.Epoch), v.Entity, v.Device, store.Micros(v.Time), v.ManifestKey, v.ChunkListSum, v.User); err != nil {
		return err
	}
	for _, batch := range s.batches(chunks) {
		rows, args := s.d.IDRows("$1, $2, $3", 4, batch)
		if _, err := tx.Exec(ctx, `INSERT INTO version_chunks (matter, file, version, chunk) `+rows,
			append([]any{c.Matter, c.File[:], v.Version}, args...)...); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO files (matter, id, head, deleted) VALUES ($1, $2, $3, $4) ON CONFLICT (matter, id) DO UPDATE SET head = excluded.head, deleted = excluded.deleted`,
		c.Matter, c.File[:], v.Version, v.Deleted); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'changes'`)
	return err
}

// checkHead refuses c unless its base is the file's head, and a delete of
// a tombstone.
func checkHead(ctx context.Context, q Querier, c store.Commit) error {
	var cur int64
	var deleted bool
	err := q.QueryRow(ctx, `SELECT head, deleted FROM files WHERE matter = $1 AND id = $2`, c.Matter, c.File[:]).Scan(&cur, &deleted)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if cur != c.Base {
		return &store.VersionMismatchError{Current: cur, Deleted: deleted}
	}
	if c.Deleted && deleted {
		return store.ErrAlreadyDeleted
	}
	return nil
}

// checkMatter refuses c if its matter is closed, if its epoch is below
// its matter's, and a delete under legal hold; lock is "" or the
// dialect's RowLock.
func checkMatter(ctx context.Context, q Querier, c store.Commit, lock string) error {
	var hold bool
	var epoch, closed int64
	err := q.QueryRow(ctx, `SELECT hold, epoch, closed_us FROM matters WHERE id = $1`+lock, c.Matter).Scan(&hold, &epoch, &closed)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if closed > 0 {
		return store.ErrMatterClosed
	}
	if int64(c.Epoch) < epoch {
		return &store.StaleEpochError{Current: uint32(epoch), Got: c.Epoch}
	}
	if c.Deleted && hold {
		return store.ErrLegalHold
	}
	return nil
}

// ensureMatter creates a matter's row if it has none.
func ensureMatter(ctx context.Context, tx Querier, matter string) error {
	_, err := tx.Exec(ctx, `INSERT INTO matters (id) VALUES ($1) ON CONFLICT DO NOTHING`, matter)
	return err
}

// Version implements gateway.FileStore.
func (s *Store) Version(ctx context.Context, matter string, file format.ID, version int64) (store.Version, error) {
	v := store.Version{Matter: matter, File: file}
	var row Scanner
	if version == 0 {
		row = s.db.Read().QueryRow(ctx, `SELECT `+versionCols+` FROM versions WHERE matter = $1 AND file = $2 ORDER BY version DESC LIMIT 1`, matter, file[:])
	} else {
		row = s.db.Read().QueryRow(ctx, `SELECT `+versionCols+` FROM versions WHERE matter = $1 AND file = $2 AND version = $3`, matter, file[:], version)
	}
	err := scanVersion(row, &v)
	if errors.Is(err, sql.ErrNoRows) {
		return v, store.ErrNotFound
	}
	if err != nil {
		return v, s.wrap("version", err)
	}
	return v, nil
}

// Versions implements gateway.FileStore.
func (s *Store) Versions(ctx context.Context, matter string, file format.ID, before int64, limit int) ([]store.Version, error) {
	if before <= 0 {
		before = 1 << 62
	}
	out, err := queryAll(ctx, s.db.Read(), nil, func(sc Scanner) (store.Version, error) {
		v := store.Version{Matter: matter, File: file}
		return v, scanVersion(sc, &v)
	}, `SELECT `+versionCols+` FROM versions WHERE matter = $1 AND file = $2 AND version < $3 ORDER BY version DESC LIMIT $4`, matter, file[:], before, limit)
	if err != nil {
		return nil, s.wrap("versions", err)
	}
	if len(out) == 0 {
		if _, err := s.Version(ctx, matter, file, 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Changes implements gateway.FileStore.
func (s *Store) Changes(ctx context.Context, matter string, since int64, limit int) ([]store.Version, int64, error) {
	out := []store.Version{}
	var headSeq int64
	// One snapshot, so the head and the changes agree.
	err := s.db.Snapshot(ctx, func(q Querier) error {
		if err := q.QueryRow(ctx, `SELECT seq FROM matters WHERE id = $1`, matter).Scan(&headSeq); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var err error
		out, err = queryAll(ctx, q, out, func(sc Scanner) (store.Version, error) {
			v := store.Version{Matter: matter}
			var fb []byte
			if err := scanVersion(sc, &v, &fb); err != nil {
				return v, err
			}
			v.File, err = s.id(fb)
			return v, err
		}, `SELECT file, `+versionCols+` FROM versions WHERE matter = $1 AND seq > $2 ORDER BY seq LIMIT $3`, matter, since, limit)
		return err
	})
	if err != nil {
		return nil, 0, s.wrap("changes", err)
	}
	return out, headSeq, nil
}

// Heads implements gateway.FileStore: one query for all the matters (an
// agent's combined feed asks for every matter it syncs at each wake-up).
func (s *Store) Heads(ctx context.Context, matters []string) (map[string]int64, error) {
	out := make(map[string]int64, len(matters))
	if len(matters) == 0 {
		return out, nil
	}
	args := make([]any, len(matters))
	in := make([]string, len(matters))
	for i, m := range matters {
		args[i] = m
		in[i] = "$" + strconv.Itoa(i+1)
	}
	type head struct {
		matter string
		seq    int64
	}
	hs, err := queryAll(ctx, s.db.Read(), nil, func(sc Scanner) (head, error) {
		var h head
		return h, sc.Scan(&h.matter, &h.seq)
	}, `SELECT id, seq FROM matters WHERE id IN (`+strings.Join(in, ", ")+`)`, args...)
	if err != nil {
		return nil, s.wrap("heads", err)
	}
	for _, h := range hs {
		out[h.matter] = h.seq
	}
	return out, nil
}
