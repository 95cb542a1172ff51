package sqlcore

// A matter's lifecycle: retention policies, purge and garbage collection
// batches, the queue of objects to delete from the bucket, the runner's
// lease and runs (docs/LIFECYCLE.md).

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/blob"
	"github.com/mattersync/mattersync/gateway/store"
)

// MatterRetention returns matter's own retention policy; ok is false when
// it has none (the firm's default applies).
func (s *Store) MatterRetention(ctx context.Context, matter string) (r store.MatterRetention, ok bool, err error) {
	r, err = scanRetention(s.db.Read().QueryRow(ctx, `SELECT `+retentionCols+` FROM retention WHERE matter = $1`, matter))
	if errors.Is(err, sql.ErrNoRows) {
		return store.MatterRetention{Matter: matter}, false, nil
	}
	if err != nil {
		return r, false, s.wrap("retention", err)
	}
	return r, true, nil
}

const retentionCols = `matter, versions_days, min_versions, deleted_days, reason, set_by, time_us`

func scanRetention(sc Scanner) (store.MatterRetention, error) {
	var r store.MatterRetention
	var us int64
	err := sc.Scan(&r.Matter, &r.VersionsDays, &r.MinVersions, &r.DeletedDays, &r.Reason, &r.SetBy, &us)
	r.Time = store.FromMicros(us)
	return r, err
}

// SetRetention gives a matter its own retention policy (rec is the
// change's audit record). A policy that makes no sense is refused.
func (s *Store) SetRetention(ctx context.Context, r store.MatterRetention, rec *audit.Record) error {
	if err := r.Validate(); err != nil {
		return err
	}
	err := s.db.Write(ctx, func(tx Querier) error {
		if _, err := tx.Exec(ctx, `INSERT INTO retention (`+retentionCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (matter) DO UPDATE SET versions_days = excluded.versions_days, min_versions = excluded.min_versions,
			deleted_days = excluded.deleted_days, reason = excluded.reason, set_by = excluded.set_by, time_us = excluded.time_us`,
			r.Matter, r.VersionsDays, r.MinVersions, r.DeletedDays, r.Reason, r.SetBy, store.Micros(r.Time)); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return s.wrap("set retention", err)
	}
	return nil
}

// ClearRetention returns a matter to the firm's default policy; removed
// is false (and nothing is written) if it had none of its own.
func (s *Store) ClearRetention(ctx context.Context, matter string, rec *audit.Record) (removed bool, err error) {
	err = s.db.Write(ctx, func(tx Querier) error {
		n, err := tx.Exec(ctx, `DELETE FROM retention WHERE matter = $1`, matter)
		if err != nil || n == 0 {
			return err
		}
		removed = true
		return s.appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return false, s.wrap("clear retention", err)
	}
	return removed, nil
}

// LifecycleMatters returns every matter the store knows anything of (a
// record, a chunk or a queued object), with its hold and own policy.
func (s *Store) LifecycleMatters(ctx context.Context) ([]store.MatterState, error) {
	out, err := queryAll(ctx, s.db.Read(), nil, func(sc Scanner) (store.MatterState, error) {
		var m store.MatterState
		var hold sql.NullBool
		var vd, mv, dd sql.NullInt64
		var reason, by sql.NullString
		var us, shredded sql.NullInt64
		err := sc.Scan(&m.Matter, &hold, &vd, &mv, &dd, &reason, &by, &us, &shredded)
		m.Hold = hold.Valid && hold.Bool
		if shredded.Valid && shredded.Int64 != 0 {
			m.Shredded = store.FromMicros(shredded.Int64)
		}
		if vd.Valid {
			m.Retention = &store.MatterRetention{Matter: m.Matter, Retention: store.Retention{VersionsDays: int(vd.Int64), MinVersions: int(mv.Int64),
				DeletedDays: int(dd.Int64)}, Reason: reason.String, SetBy: by.String, Time: store.FromMicros(us.Int64)}
		}
		return m, err
	}, `SELECT k.id, m.hold, r.versions_days, r.min_versions, r.deleted_days, r.reason, r.set_by, r.time_us, m.shredded_us
		FROM (SELECT id FROM matters UNION SELECT DISTINCT matter FROM chunks UNION SELECT DISTINCT matter FROM doomed_objects) AS k
		LEFT JOIN matters m ON m.id = k.id LEFT JOIN retention r ON r.matter = k.id ORDER BY k.id`)
	if err != nil {
		return nil, s.wrap("lifecycle matters", err)
	}
	return out, nil
}

// holdOn reads a matter's hold in tx, locking its row as lock says (the
// dialect's RowLock or ShareLock), so a hold set concurrently either
// precedes the transaction, and is seen, or follows it.
func holdOn(ctx context.Context, tx Querier, matter, lock string) (bool, error) {
	var hold bool
	err := tx.QueryRow(ctx, `SELECT hold FROM matters WHERE id = $1`+lock, matter).Scan(&hold)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return hold, err
}

// purgeVersion is one version as a purge sees it.
type purgeVersion struct {
	file     format.ID
	version  int64
	deleted  bool
	size     int64
	created  int64 // µs
	manifest string
}

// PurgeBatch purges, per p.Policy, the superseded versions and deleted
// files of one batch of a matter's files (store.Purge), appending rec with
// the change. Under legal hold it is refused (store.ErrLegalHold). The
// versions' records and the queue entries of their manifests are written
// in one transaction: nothing is half removed.
func (s *Store) PurgeBatch(ctx context.Context, p store.Purge, rec *audit.Record) (store.PurgeResult, error) {
	var res store.PurgeResult
	if err := p.Policy.Validate(); err != nil {
		return res, err
	}
	if p.Files <= 0 {
		p.Files = 500
	}
	type head struct {
		version int64
		deleted bool
	}
	heads := map[format.ID]head{}
	var files []format.ID
	_, err := queryAll(ctx, s.db.Read(), []struct{}(nil), func(sc Scanner) (struct{}, error) {
		var b []byte
		var h head
		if err := sc.Scan(&b, &h.version, &h.deleted); err != nil {
			return struct{}{}, err
		}
		id, err := s.id(b)
		heads[id] = h
		files = append(files, id)
		return struct{}{}, err
	}, `SELECT id, head, deleted FROM files WHERE matter = $1 AND id > $2 ORDER BY id LIMIT $3`, p.Matter, p.After[:], p.Files)
	if err != nil {
		return res, s.wrap("purge", err)
	}
	res.Done = len(files) < p.Files
	if len(files) == 0 {
		return res, nil
	}
	res.Next = files[len(files)-1]
	byFile := map[format.ID][]purgeVersion{}
	for _, batch := range s.batches(files) {
		in, args := s.d.InIDs("file", 2, batch)
		_, err := queryAll(ctx, s.db.Read(), []struct{}(nil), func(sc Scanner) (struct{}, error) {
			var v purgeVersion
			var b []byte
			if err := sc.Scan(&b, &v.version, &v.deleted, &v.size, &v.created, &v.manifest); err != nil {
				return struct{}{}, err
			}
			var err error
			v.file, err = s.id(b)
			byFile[v.file] = append(byFile[v.file], v)
			return struct{}{}, err
		}, `SELECT file, version, deleted, size, created_us, manifest_key FROM versions WHERE matter = $1 AND `+in+` ORDER BY file, version DESC`,
			append([]any{p.Matter}, args...)...)
		if err != nil {
			return res, s.wrap("purge", err)
		}
	}
	var victims []purgeVersion
	whole := map[format.ID]bool{}
	for _, f := range files {
		vs, gone := purgeable(byFile[f], heads[f].version, p.Policy, p.Now)
		if gone {
			whole[f] = true
		}
		victims = append(victims, vs...)
	}
	if len(victims) == 0 {
		return res, nil
	}
	count := func(vs []purgeVersion, whole map[format.ID]bool) store.PurgeResult {
		var r store.PurgeResult
		r.Files = int64(len(whole))
		for _, v := range vs {
			r.Versions++
			if v.deleted {
				r.Tombstones++
			}
			if v.size > 0 {
				r.Objects++
				r.Bytes += v.size
			}
		}
		return r
	}
	if p.DryRun {
		b := count(victims, whole)
		b.Next, b.Done = res.Next, res.Done
		for _, v := range victims {
			b.Gone = append(b.Gone, store.VersionRef{File: v.file, Version: v.version})
		}
		return b, nil
	}
	var done store.PurgeResult
	err = s.db.Write(ctx, func(tx Querier) error {
		held, err := holdOn(ctx, tx, p.Matter, s.d.RowLock)
		if err != nil {
			return err
		}
		if held {
			return store.ErrLegalHold
		}
		// A file whose head changed since it was read (a commit, a
		// restore) waits for the next run.
		current := map[format.ID]head{}
		for _, batch := range s.batches(files) {
			in, args := s.d.InIDs("id", 2, batch)
			_, err := queryAll(ctx, tx, []struct{}(nil), func(sc Scanner) (struct{}, error) {
				var b []byte
				var h head
				if err := sc.Scan(&b, &h.version, &h.deleted); err != nil {
					return struct{}{}, err
				}
				id, err := s.id(b)
				current[id] = h
				return struct{}{}, err
			}, `SELECT id, head, deleted FROM files WHERE matter = $1 AND `+in+s.d.RowLock, append([]any{p.Matter}, args...)...)
			if err != nil {
				return err
			}
		}
		var kept []purgeVersion
		keptWhole := map[format.ID]bool{}
		for _, v := range victims {
			if current[v.file] != heads[v.file] {
				continue
			}
			kept = append(kept, v)
			if whole[v.file] {
				keptWhole[v.file] = true
			}
		}
		now := store.Micros(time.Now())
		for _, v := range kept {
			for _, q := range []string{`DELETE FROM versions WHERE matter = $1 AND file = $2 AND version = $3`,
				`DELETE FROM version_chunks WHERE matter = $1 AND file = $2 AND version = $3`} {
				if _, err := tx.Exec(ctx, q, p.Matter, v.file[:], v.version); err != nil {
					return err
				}
			}
			if v.size == 0 {
				continue // a tombstone recorded without a manifest
			}
			key := v.manifest
			if key == "" {
				if key, err = blob.ManifestKey(p.Matter, v.file, v.version); err != nil {
					return err
				}
			}
			if err := doom(ctx, tx, store.DoomedObject{ObjectKey: store.ObjectKey{Key: key, Matter: p.Matter, Kind: store.KeyManifest,
				ID: v.file, Version: v.version, Plain: v.manifest == "", Size: v.size}, Why: store.DoomPurge}, now); err != nil {
				return err
			}
		}
		for f := range keptWhole {
			if _, err := tx.Exec(ctx, `DELETE FROM files WHERE matter = $1 AND id = $2`, p.Matter, f[:]); err != nil {
				return err
			}
		}
		done = count(kept, keptWhole)
		if done.Versions == 0 {
			return nil
		}
		rec.Object = fmt.Sprintf("purged versions=%d tombstones=%d files=%d manifests=%d bytes=%d", done.Versions, done.Tombstones, done.Files, done.Objects, done.Bytes)
		rec.Bytes = done.Bytes
		return s.appendAudit(ctx, tx, rec)
	})
	if errors.Is(err, store.ErrLegalHold) {
		return res, err
	}
	if err != nil {
		return res, s.wrap("purge", err)
	}
	done.Next, done.Done = res.Next, res.Done
	return done, nil
}

// purgeable returns which of a file's versions (newest first; head is the
// file's head) the policy lets go as of now, and whether that is the whole
// file (a deletion older than DeletedDays).
func purgeable(vs []purgeVersion, head int64, p store.Retention, now time.Time) ([]purgeVersion, bool) {
	if len(vs) == 0 || vs[0].version != head {
		return nil, false // the store changed under the read: next run
	}
	day := int64(24 * time.Hour / time.Microsecond)
	nowUS := store.Micros(now)
	if vs[0].deleted && vs[0].created <= nowUS-int64(p.DeletedDays)*day {
		return vs, true
	}
	var out []purgeVersion
	live := 0
	for i, v := range vs {
		keepByCount := !v.deleted && live < p.MinVersions
		if !v.deleted {
			live++
		}
		if i == 0 || keepByCount {
			continue
		}
		// Superseded when the next newer version was committed.
		if vs[i-1].created <= nowUS-int64(p.VersionsDays)*day {
			out = append(out, v)
		}
	}
	return out, false
}

// doom queues an object for deletion from the bucket, in tx.
func doom(ctx context.Context, tx Querier, o store.DoomedObject, now int64) error {
	_, err := tx.Exec(ctx, `INSERT INTO doomed_objects (key, matter, kind, ref, version, plain, size, why, queued_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (key) DO NOTHING`, o.Key, o.Matter, int(o.Kind), o.ID[:], o.Version, o.Plain, o.Size, o.Why, now)
	return err
}

// CollectBatch collects one batch of a matter's garbage (store.Collect):
// chunks no version references, stored before c.Before. Their records go
// and their objects are queued for deletion, with rec, in one transaction;
// under legal hold it is refused (store.ErrLegalHold). A commit that
// references a chunk while it is collected either locks it first, and the
// chunk stays, or finds it gone and is refused (missing chunks).
func (s *Store) CollectBatch(ctx context.Context, c store.Collect, rec *audit.Record) (store.CollectResult, error) {
	var res store.CollectResult
	if c.Limit <= 0 {
		c.Limit = 1000
	}
	cands, err := queryAll(ctx, s.db.Read(), nil, func(sc Scanner) (format.ID, error) {
		var b []byte
		if err := sc.Scan(&b); err != nil {
			return format.ID{}, err
		}
		return s.id(b)
	}, `SELECT c.id FROM chunks c WHERE c.matter = $1 AND c.id > $2 AND c.created_us < $3
		AND NOT EXISTS (SELECT 1 FROM version_chunks v WHERE v.matter = c.matter AND v.chunk = c.id)
		ORDER BY c.id LIMIT $4`, c.Matter, c.After[:], store.Micros(c.Before), c.Limit)
	if err != nil {
		return res, s.wrap("collect", err)
	}
	res.Done = len(cands) < c.Limit
	if len(cands) == 0 {
		return res, nil
	}
	res.Next = cands[len(cands)-1]
	var done store.CollectResult
	work := func(q Querier) error {
		type chunk struct {
			size int64
			key  string
		}
		// Lock the candidates, then look for references with a fresh
		// read: a commit that locked one first has committed by now.
		locked := map[format.ID]chunk{}
		for _, batch := range s.batches(cands) {
			in, args := s.d.InIDs("id", 3, batch)
			_, err := queryAll(ctx, q, []struct{}(nil), func(sc Scanner) (struct{}, error) {
				var b []byte
				var ch chunk
				if err := sc.Scan(&b, &ch.size, &ch.key); err != nil {
					return struct{}{}, err
				}
				id, err := s.id(b)
				locked[id] = ch
				return struct{}{}, err
			}, `SELECT id, size, object_key FROM chunks WHERE matter = $1 AND created_us < $2 AND `+in+` ORDER BY id`+s.d.RowLock,
				append([]any{c.Matter, store.Micros(c.Before)}, args...)...)
			if err != nil {
				return err
			}
		}
		ids := make([]format.ID, 0, len(locked))
		for id := range locked {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, func(a, b format.ID) int { return strings.Compare(string(a[:]), string(b[:])) })
		for _, batch := range s.batches(ids) {
			in, args := s.d.InIDs("chunk", 2, batch)
			refd, err := queryAll(ctx, q, nil, func(sc Scanner) (format.ID, error) {
				var b []byte
				if err := sc.Scan(&b); err != nil {
					return format.ID{}, err
				}
				return s.id(b)
			}, `SELECT DISTINCT chunk FROM version_chunks WHERE matter = $1 AND `+in, append([]any{c.Matter}, args...)...)
			if err != nil {
				return err
			}
			for _, id := range refd {
				delete(locked, id)
			}
		}
		if len(locked) == 0 {
			return nil
		}
		held, err := holdOn(ctx, q, c.Matter, s.d.ShareLock)
		if err != nil {
			return err
		}
		if held {
			return store.ErrLegalHold
		}
		victims := make([]format.ID, 0, len(locked))
		for _, id := range ids {
			if _, ok := locked[id]; ok {
				victims = append(victims, id)
			}
		}
		// Objects: the chunk's own, and every one its replacements named.
		objects := map[string]store.DoomedObject{}
		add := func(id format.ID, key string, size int64) error {
			plain := key == ""
			if plain {
				var err error
				if key, err = blob.ChunkKey(c.Matter, id); err != nil {
					return err
				}
			}
			if _, ok := objects[key]; !ok {
				objects[key] = store.DoomedObject{ObjectKey: store.ObjectKey{Key: key, Matter: c.Matter, Kind: store.KeyChunk, ID: id, Plain: plain, Size: size}, Why: store.DoomGC}
			}
			return nil
		}
		for _, id := range victims {
			if err := add(id, locked[id].key, locked[id].size); err != nil {
				return err
			}
			done.Chunks++
		}
		for _, batch := range s.batches(victims) {
			in, args := s.d.InIDs("id", 2, batch)
			type repl struct {
				id               format.ID
				oldKey, newKey   string
				oldSize, newSize int64
			}
			rs, err := queryAll(ctx, q, nil, func(sc Scanner) (repl, error) {
				var r repl
				var b []byte
				if err := sc.Scan(&b, &r.oldKey, &r.oldSize, &r.newKey, &r.newSize); err != nil {
					return r, err
				}
				var err error
				r.id, err = s.id(b)
				return r, err
			}, `SELECT id, old_key, old_size, new_key, new_size FROM chunk_replacements WHERE matter = $1 AND `+in, append([]any{c.Matter}, args...)...)
			if err != nil {
				return err
			}
			for _, r := range rs {
				if err := add(r.id, r.oldKey, r.oldSize); err != nil {
					return err
				}
				if err := add(r.id, r.newKey, r.newSize); err != nil {
					return err
				}
			}
			for _, table := range []string{"chunks", "chunk_replacements"} {
				if _, err := q.Exec(ctx, `DELETE FROM `+table+` WHERE matter = $1 AND `+in, append([]any{c.Matter}, args...)...); err != nil {
					return err
				}
			}
		}
		now := store.Micros(time.Now())
		for _, o := range objects {
			done.Objects++
			done.Bytes += o.Size
			if !c.DryRun {
				if err := doom(ctx, q, o, now); err != nil {
					return err
				}
			}
		}
		if c.DryRun {
			return nil
		}
		rec.Object = fmt.Sprintf("collected chunks=%d objects=%d bytes=%d", done.Chunks, done.Objects, done.Bytes)
		rec.Bytes = done.Bytes
		return s.appendAudit(ctx, q, rec)
	}
	if c.DryRun {
		// A dry run reads in a transaction it never commits.
		err = s.db.Snapshot(ctx, func(q Querier) error { return work(dryRun{q}) })
	} else {
		err = s.db.Write(ctx, work)
	}
	if errors.Is(err, store.ErrLegalHold) {
		return res, err
	}
	if err != nil {
		return res, s.wrap("collect", err)
	}
	done.Next, done.Done = res.Next, res.Done
	return done, nil
}

// FreedBy counts what purging gone (versions of matter a dry purge
// found) would leave for a collection: the chunks only they reference,
// stored before before, their objects (a replaced chunk has several) and
// bytes. It changes nothing: a dry run's collection cannot see these
// chunks, which the versions still reference.
func (s *Store) FreedBy(ctx context.Context, matter string, before time.Time, gone []store.VersionRef) (store.CollectResult, error) {
	var res store.CollectResult
	if len(gone) == 0 {
		return res, nil
	}
	isGone := make(map[store.VersionRef]bool, len(gone))
	var files []format.ID
	for _, v := range gone {
		if !isGone[store.VersionRef{File: v.File}] {
			isGone[store.VersionRef{File: v.File}] = true // marks the file seen (no version 0 exists)
			files = append(files, v.File)
		}
		isGone[v] = true
	}
	type ref struct {
		v     store.VersionRef
		chunk format.ID
	}
	scan := func(sc Scanner) (ref, error) {
		var f, c []byte
		var r ref
		if err := sc.Scan(&f, &r.v.Version, &c); err != nil {
			return r, err
		}
		var err error
		if r.v.File, err = s.id(f); err != nil {
			return r, err
		}
		r.chunk, err = s.id(c)
		return r, err
	}
	// The chunks the gone versions reference...
	cand := map[format.ID]bool{}
	for _, batch := range s.batches(files) {
		in, args := s.d.InIDs("file", 2, batch)
		refs, err := queryAll(ctx, s.db.Read(), nil, scan, `SELECT file, version, chunk FROM version_chunks WHERE matter = $1 AND `+in, append([]any{matter}, args...)...)
		if err != nil {
			return res, s.wrap("freed by purge", err)
		}
		for _, r := range refs {
			if isGone[r.v] {
				cand[r.chunk] = true
			}
		}
	}
	ids := make([]format.ID, 0, len(cand))
	for id := range cand {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b format.ID) int { return strings.Compare(string(a[:]), string(b[:])) })
	// ... that no version kept references.
	for _, batch := range s.batches(ids) {
		in, args := s.d.InIDs("chunk", 2, batch)
		refs, err := queryAll(ctx, s.db.Read(), nil, scan, `SELECT file, version, chunk FROM version_chunks WHERE matter = $1 AND `+in, append([]any{matter}, args...)...)
		if err != nil {
			return res, s.wrap("freed by purge", err)
		}
		for _, r := range refs {
			if !isGone[r.v] {
				delete(cand, r.chunk)
			}
		}
	}
	ids = slices.DeleteFunc(ids, func(id format.ID) bool { return !cand[id] })
	for _, batch := range s.batches(ids) {
		in, args := s.d.InIDs("c.id", 3, batch)
		// A replaced chunk's object is the replacement's; the object it
		// replaced goes too.
		for _, q := range []string{
			`SELECT c.size, 1 FROM chunks c WHERE c.matter = $1 AND c.created_us < $2 AND ` + in,
			`SELECT r.old_size, 0 FROM chunk_replacements r JOIN chunks c ON c.matter = r.matter AND c.id = r.id
				WHERE r.matter = $1 AND c.created_us < $2 AND ` + in,
		} {
			_, err := queryAll(ctx, s.db.Read(), []struct{}(nil), func(sc Scanner) (struct{}, error) {
				var size, own int64
				if err := sc.Scan(&size, &own); err != nil {
					return struct{}{}, err
				}
				res.Chunks += own
				res.Objects++
				res.Bytes += size
				return struct{}{}, nil
			}, q, append([]any{matter, store.Micros(before)}, args...)...)
			if err != nil {
				return res, s.wrap("freed by purge", err)
			}
		}
	}
	return res, nil
}

// dryRun runs the reads of a collection in a read-only transaction: its
// locks are dropped (a read-only transaction takes none) and its deletes
// never run.
type dryRun struct{ q Querier }

func (d dryRun) Exec(context.Context, string, ...any) (int64, error) { return 0, nil }
func (d dryRun) QueryRow(ctx context.Context, query string, args ...any) Scanner {
	return d.q.QueryRow(ctx, unlocked(query), args...)
}
func (d dryRun) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	return d.q.Query(ctx, unlocked(query), args...)
}

// unlocked drops a row-locking clause from the end of a query.
func unlocked(query string) string {
	for _, l := range []string{" FOR UPDATE", " FOR SHARE"} {
		query = strings.TrimSuffix(query, l)
	}
	return query
}

// namedShares marks in named the share objects of matter that their
// shares still name: those of shares that can be used, or ended at or
// after before (a download may still be streaming; the grace). A
// shredded matter's name none. An object no share names is an orphan:
// its share was never recorded (the object is stored first).
func (s *Store) namedShares(ctx context.Context, q Querier, matter string, before time.Time, named map[string]bool) error {
	var shredded int64
	err := q.QueryRow(ctx, `SELECT shredded_us FROM matters WHERE id = $1`, matter).Scan(&shredded)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if shredded > 0 {
		return nil
	}
	now, cut := store.Micros(time.Now()), store.Micros(before)
	_, err = queryAll(ctx, q, []struct{}(nil), func(sc Scanner) (struct{}, error) {
		var key string
		var revoked, expires, downloads, maxDownloads, lastUse int64
		if err := sc.Scan(&key, &revoked, &expires, &downloads, &maxDownloads, &lastUse); err != nil {
			return struct{}{}, err
		}
		var ended int64 // 0: can still be used
		switch {
		case revoked > 0:
			ended = revoked
		case expires <= now:
			ended = expires
		case downloads >= maxDownloads:
			ended = max(lastUse, 1)
		}
		if ended == 0 || ended >= cut {
			named[key] = true
		}
		return struct{}{}, nil
	}, `SELECT object_key, revoked_us, expires_us, downloads, max_downloads,
		(SELECT CAST(coalesce(max(used_us), 0) AS BIGINT) FROM share_grants g WHERE g.share = shares.id)
		FROM shares WHERE matter = $1`, matter)
	return err
}

// namedDrops marks in named the drop objects of matter that their drops
// still name: every drop not delivered (waiting for an agent, or left
// with a problem for an administrator: the client's only copy), and those
// delivered at or after before (the grace: another agent may still be
// reading it). A shredded matter's name none. An object no drop names is
// an orphan: its drop was never recorded (the object is stored first).
func (s *Store) namedDrops(ctx context.Context, q Querier, matter string, before time.Time, named map[string]bool) error {
	var shredded int64
	err := q.QueryRow(ctx, `SELECT shredded_us FROM matters WHERE id = $1`, matter).Scan(&shredded)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if shredded > 0 {
		return nil
	}
	_, err = queryAll(ctx, q, []struct{}(nil), func(sc Scanner) (struct{}, error) {
		var key string
		if err := sc.Scan(&key); err != nil {
			return struct{}{}, err
		}
		named[key] = true
		return struct{}{}, nil
	}, `SELECT object_key FROM drops WHERE matter = $1 AND (done_us = 0 OR done_us >= $2)`, matter, store.Micros(before))
	return err
}

// DoomOrphans queues for deletion, as why (store.DoomOrphan, or
// store.DoomShred for a shredded matter), those of objs (objects of matter
// found in the bucket, stored before the grace period) that no record
// names and that are not queued yet, appending rec; it returns how many
// and their bytes; a share object counts as named until its share ended
// before before, a drop object until its drop was delivered before before
// (unreferenced). Keys the gateway does not build
// (store.KeyOther) are never queued. Under legal hold it is refused
// (store.ErrLegalHold).
func (s *Store) DoomOrphans(ctx context.Context, matter, why string, before time.Time, objs []store.ObjectKey, rec *audit.Record) (n, bytes int64, err error) {
	err = s.db.Write(ctx, func(tx Querier) error {
		held, err := holdOn(ctx, tx, matter, s.d.ShareLock)
		if err != nil {
			return err
		}
		if held {
			return store.ErrLegalHold
		}
		orphans, err := s.unreferenced(ctx, tx, matter, before, objs)
		if err != nil {
			return err
		}
		now := store.Micros(time.Now())
		for _, o := range orphans {
			n2, err := tx.Exec(ctx, `INSERT INTO doomed_objects (key, matter, kind, ref, version, plain, size, why, queued_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
				ON CONFLICT (key) DO NOTHING`, o.Key, matter, int(o.Kind), o.ID[:], o.Version, o.Plain, o.Size, why, now)
			if err != nil {
				return err
			}
			n += n2
			bytes += o.Size * n2
		}
		if n == 0 {
			return nil
		}
		rec.Object = fmt.Sprintf("%s objects=%d bytes=%d", why, n, bytes)
		rec.Bytes = bytes
		return s.appendAudit(ctx, tx, rec)
	})
	if errors.Is(err, store.ErrLegalHold) {
		return 0, 0, err
	}
	if err != nil {
		return 0, 0, s.wrap("orphans", err)
	}
	return n, bytes, nil
}

// Unreferenced returns those of objs (of matter) that no record names and
// the gateway built (DoomOrphans' choice, without queueing: dry runs).
func (s *Store) Unreferenced(ctx context.Context, matter string, before time.Time, objs []store.ObjectKey) ([]store.ObjectKey, error) {
	out, err := s.unreferenced(ctx, s.db.Read(), matter, before, objs)
	if err != nil {
		return nil, s.wrap("unreferenced", err)
	}
	return out, nil
}

// unreferenced returns those of objs (of matter) that no record names:
// a chunk's key is named by its chunk's record (its object key, its plain
// key, the keys of its replacements); a manifest's by its version's
// record; a share object's by its share while the share can be used or
// ended (revoked, expired, used up) at or after before, and never once
// the matter is shredded; a drop object's by its drop until it was
// delivered before before (an undelivered drop is never collected), and
// never once the matter is shredded.
func (s *Store) unreferenced(ctx context.Context, q Querier, matter string, before time.Time, objs []store.ObjectKey) ([]store.ObjectKey, error) {
	var chunkIDs, fileIDs []format.ID
	named := map[string]bool{}
	shares, drops := false, false
	for _, o := range objs {
		switch o.Kind {
		case store.KeyChunk:
			chunkIDs = append(chunkIDs, o.ID)
		case store.KeyManifest:
			fileIDs = append(fileIDs, o.ID)
		case store.KeyShare:
			shares = true
		case store.KeyDrop:
			drops = true
		}
	}
	if shares {
		if err := s.namedShares(ctx, q, matter, before, named); err != nil {
			return nil, err
		}
	}
	if drops {
		if err := s.namedDrops(ctx, q, matter, before, named); err != nil {
			return nil, err
		}
	}
	chunkIDs, fileIDs = store.Dedup(chunkIDs), store.Dedup(fileIDs)
	chunkRows := map[format.ID]bool{}
	for _, batch := range s.batches(chunkIDs) {
		in, args := s.d.InIDs("id", 2, batch)
		_, err := queryAll(ctx, q, []struct{}(nil), func(sc Scanner) (struct{}, error) {
			var b []byte
			var key string
			if err := sc.Scan(&b, &key); err != nil {
				return struct{}{}, err
			}
			id, err := s.id(b)
			chunkRows[id] = true
			named[key] = true
			return struct{}{}, err
		}, `SELECT id, object_key FROM chunks WHERE matter = $1 AND `+in, append([]any{matter}, args...)...)
		if err != nil {
			return nil, err
		}
		_, err = queryAll(ctx, q, []struct{}(nil), func(sc Scanner) (struct{}, error) {
			var oldKey, newKey string
			err := sc.Scan(&oldKey, &newKey)
			named[oldKey], named[newKey] = true, true
			return struct{}{}, err
		}, `SELECT old_key, new_key FROM chunk_replacements WHERE matter = $1 AND `+in, append([]any{matter}, args...)...)
		if err != nil {
			return nil, err
		}
	}
	type ref struct {
		file    format.ID
		version int64
	}
	versions := map[ref]string{}
	for _, batch := range s.batches(fileIDs) {
		in, args := s.d.InIDs("file", 2, batch)
		_, err := queryAll(ctx, q, []struct{}(nil), func(sc Scanner) (struct{}, error) {
			var b []byte
			var r ref
			var key string
			if err := sc.Scan(&b, &r.version, &key); err != nil {
				return struct{}{}, err
			}
			var err error
			r.file, err = s.id(b)
			versions[r] = key
			return struct{}{}, err
		}, `SELECT file, version, manifest_key FROM versions WHERE matter = $1 AND `+in, append([]any{matter}, args...)...)
		if err != nil {
			return nil, err
		}
	}
	var out []store.ObjectKey
	for _, o := range objs {
		switch o.Kind {
		case store.KeyChunk:
			if chunkRows[o.ID] && (o.Plain || named[o.Key]) {
				continue
			}
		case store.KeyManifest:
			if key, ok := versions[ref{o.ID, o.Version}]; ok && (key == o.Key || key == "" && o.Plain) {
				continue
			}
		case store.KeyShare, store.KeyDrop:
			if named[o.Key] {
				continue
			}
		default:
			continue
		}
		out = append(out, o)
	}
	return out, nil
}

// keyLock is the lock key of an object key (Dialect.LockKeys).
func keyLock(key string) int64 {
	h := sha256.Sum256([]byte("mattersync-object\x00" + key))
	return int64(binary.BigEndian.Uint64(h[:8]))
}

// lockKeys takes the dialect's lock on each of keys, in tx.
func (s *Store) lockKeys(ctx context.Context, tx Querier, keys []string) error {
	if s.d.LockKeys == nil || len(keys) == 0 {
		return nil
	}
	ks := make([]int64, len(keys))
	for i, k := range keys {
		ks[i] = keyLock(k)
	}
	q, args := s.d.LockKeys(ks)
	_, err := tx.Exec(ctx, q, args...)
	return err
}

const doomedCols = `key, matter, kind, ref, version, plain, size, why, queued_us`

func (s *Store) scanDoomed(sc Scanner) (store.DoomedObject, error) {
	var o store.DoomedObject
	var kind int
	var ref []byte
	var us int64
	if err := sc.Scan(&o.Key, &o.Matter, &kind, &ref, &o.Version, &o.Plain, &o.Size, &o.Why, &us); err != nil {
		return o, err
	}
	o.Kind, o.Time = store.KeyKind(kind), store.FromMicros(us)
	var err error
	o.ID, err = s.id(ref)
	return o, err
}

// ClaimDoomed claims up to limit queued objects (of matter, or "" for
// all) for deletion by claim: those pending (and, if a deletion failed
// before, last tried before retryBefore), or claimed before stale by a
// runner that did not finish, of matters not on legal hold. An object that a record names again (a
// chunk uploaded anew took its pending key back) leaves the queue instead.
// Claimed objects are marked deleting: a chunk upload that finds its key
// deleting is refused until the object is gone.
func (s *Store) ClaimDoomed(ctx context.Context, claim, matter string, now, retryBefore, stale time.Time, limit int) ([]store.DoomedObject, error) {
	var out []store.DoomedObject
	err := s.db.Write(ctx, func(tx Querier) error {
		objs, err := queryAll(ctx, tx, nil, s.scanDoomed, `SELECT `+doomedCols+` FROM doomed_objects d
			WHERE ((state = 'pending' AND claimed_us < $1) OR (state = 'deleting' AND claimed_us < $2))
			AND ($3 = '' OR matter = $3)
			AND NOT EXISTS (SELECT 1 FROM matters m WHERE m.id = d.matter AND m.hold)
			ORDER BY key LIMIT $4`+s.d.ClaimLock, store.Micros(retryBefore), store.Micros(stale), matter, limit)
		if err != nil || len(objs) == 0 {
			return err
		}
		var plain []string
		for _, o := range objs {
			if o.Kind == store.KeyChunk && o.Plain {
				plain = append(plain, o.Key)
			}
		}
		if err := s.lockKeys(ctx, tx, plain); err != nil {
			return err
		}
		byMatter := map[string][]store.ObjectKey{}
		for _, o := range objs {
			byMatter[o.Matter] = append(byMatter[o.Matter], o.ObjectKey)
		}
		free := map[string]bool{}
		for m, keys := range byMatter {
			// A share that ended stays ended, a delivered drop stays
			// delivered: its object is still free whatever the grace was
			// when it was queued.
			un, err := s.unreferenced(ctx, tx, m, now, keys)
			if err != nil {
				return err
			}
			for _, o := range un {
				free[o.Key] = true
			}
		}
		for _, o := range objs {
			if !free[o.Key] {
				if _, err := tx.Exec(ctx, `DELETE FROM doomed_objects WHERE key = $1`, o.Key); err != nil {
					return err
				}
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE doomed_objects SET state = 'deleting', claim = $1, claimed_us = $2 WHERE key = $3`,
				claim, store.Micros(now), o.Key); err != nil {
				return err
			}
			out = append(out, o)
		}
		return nil
	})
	if err != nil {
		return nil, s.wrap("claim doomed objects", err)
	}
	return out, nil
}

// FinishDoomed ends claim's deletions: the objects of deleted are gone
// from the bucket and leave the queue, with rec (its Object and Bytes say
// how many); those of failed go back to pending, with the reason as a
// note and the time of the attempt. Keys no longer claimed by claim are
// left as they are.
func (s *Store) FinishDoomed(ctx context.Context, claim string, now time.Time, deleted []string, failed map[string]string, rec *audit.Record) error {
	err := s.db.Write(ctx, func(tx Querier) error {
		var n, bytes int64
		for _, k := range deleted {
			var size int64
			var matter, why string
			err := tx.QueryRow(ctx, `DELETE FROM doomed_objects WHERE key = $1 AND claim = $2 RETURNING size, matter, why`, k, claim).Scan(&size, &matter, &why)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			n++
			bytes += size
			if why == store.DoomShred {
				if _, err := tx.Exec(ctx, `UPDATE matters SET shred_objects = shred_objects + 1, shred_bytes = shred_bytes + $1 WHERE id = $2`, size, matter); err != nil {
					return err
				}
			}
		}
		for k, why := range failed {
			if _, err := tx.Exec(ctx, `UPDATE doomed_objects SET state = 'pending', claim = '', claimed_us = $1, note = $2 WHERE key = $3 AND claim = $4`,
				store.Micros(now), why, k, claim); err != nil {
				return err
			}
		}
		if n == 0 || rec == nil {
			return nil
		}
		if rec.Object == "" {
			rec.Object = fmt.Sprintf("deleted objects=%d bytes=%d", n, bytes)
		}
		rec.Bytes = bytes
		return s.appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return s.wrap("finish doomed objects", err)
	}
	return nil
}

// DoomedCount counts a matter's queued objects ("" for all) and their
// bytes, and how many carry a note (a deletion that failed).
func (s *Store) DoomedCount(ctx context.Context, matter string) (n, bytes, failed int64, err error) {
	q := `SELECT count(*), CAST(coalesce(sum(size), 0) AS BIGINT), count(CASE WHEN note <> '' THEN 1 END) FROM doomed_objects`
	args := []any{}
	if matter != "" {
		q += ` WHERE matter = $1`
		args = append(args, matter)
	}
	if err := s.db.Read().QueryRow(ctx, q, args...).Scan(&n, &bytes, &failed); err != nil {
		return 0, 0, 0, s.wrap("doomed objects", err)
	}
	return n, bytes, failed, nil
}

// TakeLease takes (or renews) the lease name for holder until until, if
// it is free, expired as of now, or holder's already.
func (s *Store) TakeLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	var got bool
	err := s.db.Write(ctx, func(tx Querier) error {
		n, err := tx.Exec(ctx, `INSERT INTO leases (name, holder, until_us) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_us = excluded.until_us
			WHERE leases.holder = excluded.holder OR leases.until_us < $4`, name, holder, store.Micros(until), store.Micros(now))
		got = n == 1
		return err
	})
	if err != nil {
		return false, s.wrap("lease", err)
	}
	return got, nil
}

// ReleaseLease gives the lease name up if holder holds it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	err := s.db.Write(ctx, func(tx Querier) error {
		_, err := tx.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder)
		return err
	})
	if err != nil {
		return s.wrap("release lease", err)
	}
	return nil
}

const runCols = `id, matter, dry_run, requested_by, state, replica, progress, summary, error, requested_us, started_us, updated_us`

func scanRun(sc Scanner) (store.LifecycleRun, error) {
	var r store.LifecycleRun
	var req, start, upd int64
	err := sc.Scan(&r.ID, &r.Matter, &r.DryRun, &r.RequestedBy, &r.State, &r.Replica, &r.Progress, &r.Summary, &r.Error, &req, &start, &upd)
	r.Requested = store.FromMicros(req)
	if start != 0 {
		r.Started = store.FromMicros(start)
	}
	if upd != 0 {
		r.Updated = store.FromMicros(upd)
	}
	return r, err
}

// AddRun records a run: requested by an administrator (state requested,
// appended with rec, the request's record), or begun by the schedule
// (state running, rec nil). It returns the run's ID.
func (s *Store) AddRun(ctx context.Context, r store.LifecycleRun, rec *audit.Record) (int64, error) {
	var id int64
	err := s.db.Write(ctx, func(tx Querier) error {
		var start int64
		if !r.Started.IsZero() {
			start = store.Micros(r.Started)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO lifecycle_runs (matter, dry_run, requested_by, state, replica, progress, requested_us, started_us, updated_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id`, r.Matter, r.DryRun, r.RequestedBy, r.State, r.Replica, r.Progress,
			store.Micros(r.Requested), start).Scan(&id); err != nil {
			return err
		}
		if rec == nil {
			return nil
		}
		rec.Object = fmt.Sprintf("run=%d", id)
		return s.appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return 0, s.wrap("add run", err)
	}
	return id, nil
}

// StartRun moves the oldest requested run to running on replica and
// returns it; ok is false if none is requested.
func (s *Store) StartRun(ctx context.Context, replica string, now time.Time) (r store.LifecycleRun, ok bool, err error) {
	err = s.db.Write(ctx, func(tx Querier) error {
		r, err = scanRun(tx.QueryRow(ctx, `SELECT `+runCols+` FROM lifecycle_runs WHERE state = $1 ORDER BY id LIMIT 1`+s.d.ClaimLock, store.RunRequested))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE lifecycle_runs SET state = $1, replica = $2, started_us = $3, updated_us = $3 WHERE id = $4`,
			store.RunRunning, replica, store.Micros(now), r.ID); err != nil {
			return err
		}
		r.State, r.Replica, r.Started, r.Updated = store.RunRunning, replica, now.UTC().Truncate(time.Microsecond), now.UTC().Truncate(time.Microsecond)
		ok = true
		return nil
	})
	if err != nil {
		return r, false, s.wrap("start run", err)
	}
	return r, ok, nil
}

// UpdateRun stores a run's state, progress, summary and error.
func (s *Store) UpdateRun(ctx context.Context, r store.LifecycleRun) error {
	err := s.db.Write(ctx, func(tx Querier) error {
		_, err := tx.Exec(ctx, `UPDATE lifecycle_runs SET state = $1, progress = $2, summary = $3, error = $4, updated_us = $5 WHERE id = $6`,
			r.State, r.Progress, r.Summary, r.Error, store.Micros(r.Updated), r.ID)
		return err
	})
	if err != nil {
		return s.wrap("update run", err)
	}
	return nil
}

// LifecycleRun returns one run, or store.ErrNotFound.
func (s *Store) LifecycleRun(ctx context.Context, id int64) (store.LifecycleRun, error) {
	r, err := scanRun(s.db.Read().QueryRow(ctx, `SELECT `+runCols+` FROM lifecycle_runs WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, store.ErrNotFound
	}
	if err != nil {
		return r, s.wrap("run", err)
	}
	return r, nil
}

// LifecycleRuns returns the latest limit runs, newest first.
func (s *Store) LifecycleRuns(ctx context.Context, limit int) ([]store.LifecycleRun, error) {
	out, err := queryAll(ctx, s.db.Read(), nil, scanRun, `SELECT `+runCols+` FROM lifecycle_runs ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, s.wrap("runs", err)
	}
	return out, nil
}

// LifecycleUsage says what a matter's bytes are kept for: the current
// versions, older versions and deleted files, garbage, and the queue.
func (s *Store) LifecycleUsage(ctx context.Context, matter string) (store.LifecycleUsage, error) {
	var u store.LifecycleUsage
	err := s.db.Snapshot(ctx, func(q Querier) error {
		// A chunk is live if a live file's head references it, old if
		// only other versions do, garbage if none does.
		if err := q.QueryRow(ctx, `SELECT
			count(CASE WHEN k.live THEN 1 END), CAST(coalesce(sum(CASE WHEN k.live THEN k.size END), 0) AS BIGINT),
			count(CASE WHEN NOT k.live AND k.refd THEN 1 END), CAST(coalesce(sum(CASE WHEN NOT k.live AND k.refd THEN k.size END), 0) AS BIGINT),
			count(CASE WHEN NOT k.refd THEN 1 END), CAST(coalesce(sum(CASE WHEN NOT k.refd THEN k.size END), 0) AS BIGINT)
			FROM (SELECT c.size,
				EXISTS (SELECT 1 FROM version_chunks v JOIN files f ON f.matter = v.matter AND f.id = v.file AND f.head = v.version
					WHERE v.matter = c.matter AND v.chunk = c.id AND NOT f.deleted) AS live,
				EXISTS (SELECT 1 FROM version_chunks v WHERE v.matter = c.matter AND v.chunk = c.id) AS refd
				FROM chunks c WHERE c.matter = $1) AS k`, matter).
			Scan(&u.LiveChunks, &u.LiveChunkBytes, &u.OldChunks, &u.OldChunkBytes, &u.Garbage, &u.GarbageBytes); err != nil {
			return err
		}
		if err := q.QueryRow(ctx, `SELECT
			count(CASE WHEN k.live THEN 1 END), CAST(coalesce(sum(CASE WHEN k.live THEN k.size END), 0) AS BIGINT),
			count(CASE WHEN NOT k.live THEN 1 END), CAST(coalesce(sum(CASE WHEN NOT k.live THEN k.size END), 0) AS BIGINT)
			FROM (SELECT v.size, (f.head = v.version AND NOT f.deleted) AS live
				FROM versions v JOIN files f ON f.matter = v.matter AND f.id = v.file WHERE v.matter = $1 AND v.size > 0) AS k`, matter).
			Scan(&u.LiveManifests, &u.LiveBytes, &u.OldManifests, &u.OldBytes); err != nil {
			return err
		}
		return q.QueryRow(ctx, `SELECT count(*), CAST(coalesce(sum(size), 0) AS BIGINT) FROM doomed_objects WHERE matter = $1`, matter).
			Scan(&u.Doomed, &u.DoomedBytes)
	})
	if err != nil {
		return u, s.wrap("lifecycle usage", err)
	}
	return u, nil
}

const wormCols = `id, hold, worm_state, worm_gen, worm_cursor, worm_objects, worm_error, worm_us`

func scanWorm(sc Scanner) (store.Worm, error) {
	var w store.Worm
	var state string
	var us int64
	err := sc.Scan(&w.Matter, &w.On, &state, &w.Gen, &w.Cursor, &w.Objects, &w.Error, &us)
	w.State = store.WormState(state)
	if us != 0 {
		w.Time = store.FromMicros(us)
	}
	return w, err
}

// Worm returns how far matter's objects carry the legal hold its hold
// asks for (nothing held if the matter is unknown).
func (s *Store) Worm(ctx context.Context, matter string) (store.Worm, error) {
	w, err := scanWorm(s.db.Read().QueryRow(ctx, `SELECT `+wormCols+` FROM matters WHERE id = $1`, matter))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Worm{Matter: matter}, nil
	}
	if err != nil {
		return w, s.wrap("worm", err)
	}
	return w, nil
}

// WormPending returns the matters whose objects' legal holds are to be
// set or cleared (applying, clearing, or failed and to be tried again).
func (s *Store) WormPending(ctx context.Context) ([]store.Worm, error) {
	out, err := queryAll(ctx, s.db.Read(), nil, scanWorm, `SELECT `+wormCols+` FROM matters WHERE worm_state IN ('applying', 'clearing', 'failed') ORDER BY id`)
	if err != nil {
		return nil, s.wrap("worm pending", err)
	}
	return out, nil
}

// WormProgress records a pass's progress (w.State, Cursor, Objects,
// Error, Time) if the matter's hold is still the one the pass follows
// (w.Gen), appending rec, if not nil, with it; ok is false, and nothing
// is written, if the hold changed meanwhile.
func (s *Store) WormProgress(ctx context.Context, w store.Worm, rec *audit.Record) (ok bool, err error) {
	err = s.db.Write(ctx, func(tx Querier) error {
		n, err := tx.Exec(ctx, `UPDATE matters SET worm_state = $1, worm_cursor = $2, worm_objects = $3, worm_error = $4, worm_us = $5
			WHERE id = $6 AND worm_gen = $7`, string(w.State), w.Cursor, w.Objects, w.Error, store.Micros(w.Time), w.Matter, w.Gen)
		if err != nil || n == 0 {
			return err
		}
		ok = true
		if rec == nil {
			return nil
		}
		return s.appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return false, s.wrap("worm progress", err)
	}
	return ok, nil
}

// ShredMatter removes every record of matter's storage (files, versions,
// chunks and their replacements, its retention policy), marks it shredded
// by by for reason, and appends rec, in one transaction; its objects are
// left for the lifecycle runner, which queues and deletes every object
// under the matter's prefix. A matter on legal hold is refused
// (store.ErrLegalHold). Shredding again removes what was recorded since
// and keeps the first time.
func (s *Store) ShredMatter(ctx context.Context, matter, by, reason string, now time.Time, rec *audit.Record) (store.Shred, error) {
	sh := store.Shred{Matter: matter, By: by, Reason: reason, Time: now.UTC().Truncate(time.Microsecond)}
	err := s.db.Write(ctx, func(tx Querier) error {
		if err := ensureMatter(ctx, tx, matter); err != nil {
			return err
		}
		held, err := holdOn(ctx, tx, matter, s.d.RowLock)
		if err != nil {
			return err
		}
		if held {
			return store.ErrLegalHold
		}
		var cb, vb, rb int64
		if err := tx.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM files WHERE matter = $1),
			(SELECT count(*) FROM versions WHERE matter = $1),
			(SELECT count(*) FROM chunks WHERE matter = $1),
			(SELECT CAST(coalesce(sum(size), 0) AS BIGINT) FROM chunks WHERE matter = $1),
			(SELECT count(*) FROM versions WHERE matter = $1 AND size > 0),
			(SELECT CAST(coalesce(sum(size), 0) AS BIGINT) FROM versions WHERE matter = $1),
			(SELECT CAST(coalesce(sum(old_size), 0) AS BIGINT) FROM chunk_replacements WHERE matter = $1)`, matter).
			Scan(&sh.Files, &sh.Versions, &sh.Chunks, &cb, &sh.Objects, &vb, &rb); err != nil {
			return err
		}
		var nr int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM chunk_replacements WHERE matter = $1`, matter).Scan(&nr); err != nil {
			return err
		}
		sh.Objects += sh.Chunks + nr
		sh.Bytes = cb + vb + rb
		// What was queued before is counted as destroyed by the shred too.
		if _, err := tx.Exec(ctx, `UPDATE doomed_objects SET why = $1 WHERE matter = $2`, store.DoomShred, matter); err != nil {
			return err
		}
		for _, table := range []string{"version_chunks", "versions", "files", "chunk_replacements", "chunks", "retention"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE matter = $1`, matter); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE matters SET shredded_us = CASE WHEN shredded_us = 0 THEN $1 ELSE shredded_us END,
			shredded_by = CASE WHEN shredded_by = '' THEN $2 ELSE shredded_by END,
			shred_reason = CASE WHEN shred_reason = '' THEN $3 ELSE shred_reason END WHERE id = $4`,
			store.Micros(sh.Time), by, reason, matter); err != nil {
			return err
		}
		rec.Object = fmt.Sprintf("matter=%s files=%d versions=%d chunks=%d objects=%d bytes=%d reason=%q", matter, sh.Files, sh.Versions, sh.Chunks, sh.Objects, sh.Bytes, reason)
		if len(rec.Object) > 512 {
			rec.Object = rec.Object[:512]
		}
		return s.appendAudit(ctx, tx, rec)
	})
	if errors.Is(err, store.ErrLegalHold) {
		return sh, err
	}
	if err != nil {
		return sh, s.wrap("shred", err)
	}
	return sh, nil
}

// ShredState returns how far matter's shredded storage is gone (Time zero
// if it was not shredded).
func (s *Store) ShredState(ctx context.Context, matter string) (store.ShredState, error) {
	st := store.ShredState{Matter: matter}
	var us int64
	err := s.db.Read().QueryRow(ctx, `SELECT shredded_us, shredded_by, shred_reason, shred_objects, shred_bytes FROM matters WHERE id = $1`, matter).
		Scan(&us, &st.By, &st.Reason, &st.Objects, &st.Bytes)
	if errors.Is(err, sql.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, s.wrap("shred state", err)
	}
	if us != 0 {
		st.Time = store.FromMicros(us)
	}
	return st, nil
}

// AddDestruction stores matter's signed destruction record, with rec,
// unless it has one: added is false then, and nothing is written.
func (s *Store) AddDestruction(ctx context.Context, d store.Destruction, rec *audit.Record) (added bool, err error) {
	err = s.db.Write(ctx, func(tx Querier) error {
		n, err := tx.Exec(ctx, `INSERT INTO destruction_records (matter, record, key_id, signature, time_us) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (matter) DO NOTHING`, d.Matter, string(d.Record), d.KeyID, d.Signature, store.Micros(d.Time))
		if err != nil || n == 0 {
			return err
		}
		added = true
		return s.appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return false, s.wrap("destruction record", err)
	}
	return added, nil
}

// Destruction returns matter's signed destruction record, or
// store.ErrNotFound.
func (s *Store) Destruction(ctx context.Context, matter string) (store.Destruction, error) {
	d := store.Destruction{Matter: matter}
	var rec string
	var us int64
	err := s.db.Read().QueryRow(ctx, `SELECT record, key_id, signature, time_us FROM destruction_records WHERE matter = $1`, matter).
		Scan(&rec, &d.KeyID, &d.Signature, &us)
	if errors.Is(err, sql.ErrNoRows) {
		return d, store.ErrNotFound
	}
	if err != nil {
		return d, s.wrap("destruction record", err)
	}
	d.Record, d.Time = []byte(rec), store.FromMicros(us)
	return d, nil
}
