package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/kms"
)

// scan compares the disk with the index at prefix ("" for the whole matter)
// and uploads or deletes what changed.
func (m *matterSync) scan(ctx context.Context, mk *matterKeys, prefix string, res *passResult) error {
	// One query for the rows, then only stat calls: an unchanged scan of a
	// large matter touches the disk's metadata and nothing else.
	rows, err := m.a.idx.FilesUnder(ctx, m.id, prefix)
	if err != nil {
		return err
	}
	known := make(map[string]index.File, len(rows))
	for _, r := range rows {
		known[r.Path] = r
	}
	start := "."
	if prefix != "" {
		start = prefix
	}
	seen := map[string]bool{}
	var changed []string
	err = fs.WalkDir(m.fs.root.FS(), start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				res.skip(p, "%v", err)
			}
			return nil
		}
		if p == "." {
			return nil
		}
		if m.a.ignore.Match(d.Name()) || strings.HasPrefix(d.Name(), ".mattersync") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil // folders are implied by files; links are not followed
		}
		norm, err := format.NormalizePath(p)
		if err != nil {
			res.skip(p, "not synced: %v", err)
			return nil
		}
		if norm != p {
			// A decomposed (NFD) name, e.g. copied from a Mac: syncing it
			// under its NFC name would make a second file here.
			res.skip(p, "not synced: the name is not in Unicode NFC form; rename the file")
			return nil
		}
		seen[norm] = true
		info, err := d.Info()
		if err != nil {
			return nil // vanished
		}
		if row, ok := known[norm]; ok && statOf(info).matches(row.Size, row.MtimeNs) {
			return nil
		}
		changed = append(changed, norm)
		return nil
	})
	if err != nil {
		return err
	}
	if err := m.uploadAll(ctx, mk, changed, res); err != nil {
		return err
	}
	for _, row := range rows {
		if seen[row.Path] || m.leaving {
			continue
		}
		if st, err := m.fs.lstat(row.Path); err != nil || st.exists {
			continue // unreadable, or present but not walked (ignored name)
		}
		if err := m.deleteRemote(ctx, mk, row, res); err != nil {
			if !perFile(err) {
				return err
			}
			res.skip(row.Path, "delete not propagated: %v", err)
		}
	}
	return nil
}

// fileWorkers is how many files of one matter of a chunk or more (small
// files go in batches, batch.go) are uploaded at once: two keep both cores
// busy reading, chunking and sealing while the other waits on the
// network, and bound memory (each holds a chunker's 16 MiB buffer and up
// to batchBytes of pending chunks; sealed chunks in flight are bounded
// agent-wide, sealedInFlight). Four held 96 MiB for this alone.
const fileWorkers = 2

// uploadAll uploads the changed files, fileWorkers at a time. Each file is
// independent (its own index row and commit); the first hard error stops
// the pass, and files that changed while read or are unsafe are reported.
func (m *matterSync) uploadAll(ctx context.Context, mk *matterKeys, changed []string, res *passResult) error {
	m.a.progress(m.id, len(changed))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex // guards res and firstErr
		firstErr error
		wg       sync.WaitGroup
	)
	// Small files go in batches (batch.go), alongside the others.
	var small, large []string
	for _, rel := range changed {
		if st, err := m.fs.lstat(rel); err == nil && st.exists && st.mode.IsRegular() && st.size <= smallFileBytes && m.role == kms.RoleRW {
			small = append(small, rel)
		} else {
			large = append(large, rel)
		}
	}
	if len(small) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.uploadSmall(ctx, mk, small, res, &mu); err != nil && !errors.Is(err, context.Canceled) {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
	changed = large
	work := make(chan string)
	for range min(fileWorkers, len(changed)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rel := range work {
				var r passResult
				err := m.upload(ctx, mk, rel, &r)
				mu.Lock()
				res.add(r)
				switch {
				case err == nil:
				case perFile(err):
					res.skip(rel, "%v", err)
				case firstErr == nil:
					firstErr = err
					cancel()
				}
				mu.Unlock()
				m.a.progressStep(m.id)
			}
		}()
	}
feed:
	for _, rel := range changed {
		select {
		case work <- rel:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	return firstErr
}

// upload sends a local file that differs from the index.
func (m *matterSync) upload(ctx context.Context, mk *matterKeys, rel string, res *passResult) error {
	row, err := m.a.idx.File(ctx, m.id, rel)
	hasRow := err == nil
	if err != nil && !errors.Is(err, index.ErrNotFound) {
		return err
	}
	before, err := m.fs.lstat(rel)
	if err != nil || !before.exists || !before.mode.IsRegular() {
		return err // gone since the scan: the next scan sees a delete
	}
	if m.role != kms.RoleRW {
		return m.readOnlyEdit(ctx, mk, rel, row, hasRow, res)
	}
	if before.size > int64(m.a.cfg.MaxFileSize) {
		// Colleagues' agents would refuse it: keep it local and say so.
		return fmt.Errorf("%d bytes, more than max_file_size (%v); not uploaded: %w", before.size, m.a.cfg.MaxFileSize, errTooLarge)
	}
	f, err := m.fs.open(rel)
	if err != nil {
		return err
	}
	enc, err := m.a.encode(ctx, m.id, mk.current, f)
	f.Close()
	if err != nil {
		return err
	}
	after, err := m.fs.lstat(rel)
	if err != nil {
		return err
	}
	if !after.same(before) || after.size != int64(enc.size) {
		return errFileChanging
	}
	if hasRow && [32]byte(row.Hash) == enc.hash {
		// Touched, not changed: remember the new mtime, send nothing.
		row.Size, row.MtimeNs = after.size, after.mtimeNs
		return m.a.idx.PutFile(ctx, row)
	}
	fid, err := mk.fileIDs.FileID(rel)
	if err != nil {
		return err
	}
	base := int64(0)
	if hasRow {
		base = int64(row.Version)
	}
	for range 3 {
		man := &format.Manifest{Path: rel, Version: uint64(base) + 1, Size: enc.size, ModTime: time.Unix(0, before.mtimeNs),
			Mode: uint32(before.mode.Perm()), ContentHash: enc.hash, Chunks: enc.refs, Author: m.a.entity,
			Device: m.a.cfg.DeviceName, Created: time.Now()}
		sealed, _, err := mk.current.SealManifest(nil, man)
		if err != nil {
			return err
		}
		c, err := m.a.remote.Commit(ctx, m.id, fid.String(), base, api.CommitRequest{Manifest: sealed, Chunks: enc.ids})
		if err == nil {
			if c.Version != base+1 {
				// A gateway that answers another version could make
				// this agent ignore every later change to the file.
				return fmt.Errorf("commit %s: gateway answered version %d for version %d: %w", rel, c.Version, base+1, errTampered)
			}
			res.uploaded++
			m.a.log.Info("file uploaded", "matter", m.id, "path", rel, "version", c.Version, "bytes", after.size)
			return m.a.idx.PutFile(ctx, index.File{Matter: m.id, Path: rel, FileID: fid.String(), Size: after.size,
				MtimeNs: after.mtimeNs, Mode: uint32(after.mode.Perm()), Hash: enc.hash[:], Version: uint64(c.Version)})
		}
		apiErr := remoteError(err)
		if apiErr == nil || apiErr.Code != api.CodeVersionMismatch || apiErr.CurrentVersion == nil {
			return fmt.Errorf("commit %s: %w", rel, err)
		}
		if apiErr.CurrentDeleted || *apiErr.CurrentVersion == 0 {
			base = *apiErr.CurrentVersion // edit beats delete: commit on top of the tombstone
			continue
		}
		// A colleague committed first.
		head, err := m.a.remote.File(ctx, m.id, fid.String(), 0)
		if err != nil {
			return err
		}
		hm, epoch, err := mk.openVersion(ctx, head, fid, uint64(head.Version))
		if err != nil {
			return err
		}
		if hm.Deleted {
			base = head.Version
			continue
		}
		if epoch == mk.current.Epoch() && sameRefs(hm.Chunks, enc.refs) {
			m.a.log.Info("file matches the version a colleague committed: nothing to upload", "matter", m.id, "path", rel, "version", head.Version)
			return m.record(ctx, rel, fid.String(), enc.hash, uint64(head.Version)) // the same edit on both sides
		}
		// The remote version takes the name; this edit becomes the copy,
		// uploaded by the next scan. Fetch and verify it first, so a
		// failed download never leaves the name empty.
		tmp, err := m.fetch(ctx, mk, hm)
		if err != nil {
			return err
		}
		if err := m.moveAside(ctx, rel, "edited at the same time as "+m.a.authorName(hm.Author, head.AuthorEntity, head.AuthorName)+" on "+SafeText(hm.Device), res); err != nil {
			m.fs.remove(tmp)
			return err
		}
		if err := m.fs.install(tmp, rel, stat{}, hm.ModTime); err != nil {
			m.fs.remove(tmp)
			return err
		}
		res.downloaded++
		m.a.log.Info("file downloaded", "matter", m.id, "path", rel, "version", head.Version, "why", "a colleague's concurrent edit took the name")
		return m.record(ctx, rel, fid.String(), hm.ContentHash, uint64(head.Version))
	}
	return fmt.Errorf("commit %s: the file keeps changing on the gateway; will retry", rel)
}

func sameRefs(a, b []format.ChunkRef) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// readOnlyEdit handles a local change in a matter the user may only read:
// nothing is uploaded; an edit of a synced file is kept as a local conflict
// copy and the synced version restored, so neither is lost.
func (m *matterSync) readOnlyEdit(ctx context.Context, mk *matterKeys, rel string, row index.File, hasRow bool, res *passResult) error {
	if !hasRow {
		if !IsConflictCopy(rel) {
			res.skip(rel, "not uploaded: read-only access to this matter")
		}
		return nil
	}
	h, err := m.fs.hash(rel)
	if err != nil {
		return err
	}
	if h == [32]byte(row.Hash) {
		return m.record(ctx, rel, row.FileID, h, row.Version)
	}
	if err := m.moveAside(ctx, rel, "edited in a read-only matter (not uploaded)", res); err != nil {
		return err
	}
	res.skip(rel, "read-only matter: your edit was kept as a local copy and not uploaded")
	return m.restore(ctx, mk, row)
}

// restore downloads the synced version of row again (after a refused local
// delete or a read-only edit).
func (m *matterSync) restore(ctx context.Context, mk *matterKeys, row index.File) error {
	fid, err := format.ParseID(row.FileID)
	if err != nil {
		return err
	}
	fv, err := m.a.remote.File(ctx, m.id, row.FileID, int64(row.Version))
	if err != nil {
		return err
	}
	man, _, err := mk.openVersion(ctx, fv, fid, row.Version)
	if err != nil {
		return err
	}
	if man.Deleted || man.Path != row.Path {
		return fmt.Errorf("restore %s: version %d is not this file's content: %w", row.Path, row.Version, errTampered)
	}
	tmp, err := m.fetch(ctx, mk, man)
	if err != nil {
		return err
	}
	defer m.fs.remove(tmp)
	cur, err := m.fs.lstat(row.Path)
	if err != nil {
		return err
	}
	if err := m.fs.install(tmp, row.Path, cur, man.ModTime); err != nil {
		return err
	}
	m.a.log.Info("file restored from the gateway", "matter", m.id, "path", row.Path, "version", row.Version)
	return m.record(ctx, man.Path, row.FileID, man.ContentHash, row.Version)
}

// deleteRemote propagates a local delete as a sealed tombstone.
func (m *matterSync) deleteRemote(ctx context.Context, mk *matterKeys, row index.File, res *passResult) error {
	if m.role != kms.RoleRW {
		res.skip(row.Path, "deleted locally in a read-only matter: restored")
		return m.restore(ctx, mk, row)
	}
	// The tombstone is sealed like any version, so members can tell a
	// member's delete from one forged by the gateway or storage.
	tomb := &format.Manifest{Path: row.Path, Version: row.Version + 1, Deleted: true, ModTime: time.Now(),
		Author: m.a.entity, Device: m.a.cfg.DeviceName, Created: time.Now()}
	sealed, _, err := mk.current.SealManifest(nil, tomb)
	if err != nil {
		return err
	}
	c, err := m.a.remote.Delete(ctx, m.id, row.FileID, int64(row.Version), sealed)
	if err == nil && c.Version != int64(row.Version)+1 {
		return fmt.Errorf("delete %s: gateway answered version %d for version %d: %w", row.Path, c.Version, row.Version+1, errTampered)
	}
	if err == nil || remoteCode(err) == api.CodeAlreadyDeleted {
		m.a.log.Info("local delete sent", "matter", m.id, "path", row.Path, "version", row.Version+1)
		res.deleted++
		return m.a.idx.DeleteFile(ctx, m.id, row.Path)
	}
	switch remoteCode(err) {
	case api.CodeVersionMismatch:
		// Changed remotely since: edit beats delete. Bring the newer
		// version back now (the cursor may already be past its change).
		m.a.log.Info("local delete dropped: the file changed on the gateway since (edit beats delete)", "matter", m.id, "path", row.Path)
		return m.applyOrReport(ctx, mk, api.Change{FileID: row.FileID, Version: math.MaxInt64}, res)
	case api.CodeLegalHold:
		m.a.log.Info("local delete refused by a legal hold: file restored", "matter", m.id, "path", row.Path)
		res.skip(row.Path, "the matter is on legal hold, deletes are refused: restored")
		return m.restore(ctx, mk, row)
	}
	return fmt.Errorf("delete %s: %w", row.Path, err)
}
