package agent

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/kms"
)

// matterSync syncs one matter. Its methods are called from one goroutine
// at a time (the matter's loop, or SyncOnce), so each matter's index rows
// have a single writer and upload and download never race on a file.
type matterSync struct {
	a    *Agent
	id   string
	name string
	role kms.Role
	dir  string // absolute matter folder
}

// passResult counts what a pass did, for status and `sync --once`.
type passResult struct {
	uploaded, downloaded, deleted, conflicts int
	skipped                                  []string // problems reported and left alone
	// problems are set (key: file ID or path) or cleared ("" message) by
	// this pass; they stay in status until a later pass clears them.
	problems map[string]string
}

func (r *passResult) skip(format string, args ...any) {
	r.skipped = append(r.skipped, fmt.Sprintf(format, args...))
}

// add merges the counts and reports of another result into r.
func (r *passResult) add(o passResult) {
	r.uploaded += o.uploaded
	r.downloaded += o.downloaded
	r.deleted += o.deleted
	r.conflicts += o.conflicts
	r.skipped = append(r.skipped, o.skipped...)
	for k, v := range o.problems {
		r.problem(k, v)
	}
}

// problem records a lasting problem with one file (key), or clears it.
func (r *passResult) problem(key, msg string) {
	if r.problems == nil {
		r.problems = map[string]string{}
	}
	r.problems[key] = msg
}

// stat is the part of a file's metadata that says "unchanged".
type stat struct {
	exists  bool
	size    int64
	mtimeNs int64
	mode    fs.FileMode
}

func lstat(p string) (stat, error) {
	st, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return stat{}, nil
	}
	if err != nil {
		return stat{}, err
	}
	return stat{exists: true, size: st.Size(), mtimeNs: st.ModTime().UnixNano(), mode: st.Mode()}, nil
}

func (s stat) matches(row index.File) bool {
	return s.exists && s.mode.IsRegular() && s.size == row.Size && s.mtimeNs == row.MtimeNs
}

func (s stat) same(t stat) bool {
	return s.exists == t.exists && s.size == t.size && s.mtimeNs == t.mtimeNs
}

// local returns the absolute local path of a matter-relative path, refusing
// any path that would leave the matter folder on any OS.
func (m *matterSync) local(rel string) (string, error) {
	return format.SafeLocalPath(m.dir, rel)
}

// pull applies the matter's change feed from the stored cursor on.
func (m *matterSync) pull(ctx context.Context, mk *matterKeys, res *passResult) error {
	cursor, err := m.a.cursor(ctx, m.id)
	if err != nil {
		return err
	}
	for {
		page, err := m.a.remote.Changes(ctx, m.id, int64(cursor), 0)
		if err != nil {
			return fmt.Errorf("change feed: %w", err)
		}
		for _, c := range page.Changes {
			if err := m.applyChange(ctx, mk, c, res); err != nil {
				if !permanent(err) {
					return err
				}
				m.a.log.Error("remote change not applied: left the local file untouched", "matter", m.id, "file_id", c.FileID, "version", c.Version, "err", err)
				res.skip("file %s version %d: %v", c.FileID, c.Version, err)
				res.problem(c.FileID, fmt.Sprintf("remote version %d of file %s not applied, local copy kept: %v", c.Version, c.FileID, err))
			} else {
				res.problem(c.FileID, "")
			}
			cursor = uint64(c.Seq)
			if err := m.a.idx.SetCursor(ctx, m.id, cursor); err != nil {
				return err
			}
		}
		if !page.More {
			return nil
		}
	}
}

// applyChange brings one remote change to disk. It looks at the file's head
// rather than the change's version, so a burst of versions is one download.
func (m *matterSync) applyChange(ctx context.Context, mk *matterKeys, c api.Change, res *passResult) error {
	row, err := m.a.idx.FileByID(ctx, m.id, c.FileID)
	hasRow := err == nil
	if err != nil && !errors.Is(err, index.ErrNotFound) {
		return err
	}
	if hasRow && row.Version >= uint64(c.Version) {
		return nil // our own commit, or already applied
	}
	head, err := m.a.remote.File(ctx, m.id, c.FileID, 0)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", c.FileID, err)
	}
	if hasRow && row.Version >= uint64(head.Version) {
		return nil
	}
	if head.Deleted {
		if !hasRow {
			return nil // never had it
		}
		return m.applyDelete(ctx, row, uint64(head.Version), res)
	}
	fid, err := format.ParseID(c.FileID)
	if err != nil {
		return fmt.Errorf("%w: %w", format.ErrMalformed, err)
	}
	man, err := mk.openManifest(ctx, head.Manifest, fid, uint64(head.Version))
	if err != nil {
		return err
	}
	abs, err := m.local(man.Path)
	if err != nil {
		return err
	}
	cur, err := lstat(abs)
	if err != nil {
		return err
	}
	switch {
	case !cur.exists, hasRow && cur.matches(row):
		// Nothing local to lose: write the remote version.
	case cur.mode.IsDir():
		return fmt.Errorf("%s: a local folder has the name of a remote file; rename the folder", man.Path)
	default:
		// Local content we have not synced: identical content is no
		// conflict; anything else moves aside as a conflict copy.
		h, err := hashFile(abs)
		if err != nil {
			return err
		}
		if h == man.ContentHash {
			return m.record(ctx, man.Path, c.FileID, abs, h, uint64(head.Version))
		}
		if err := m.moveAside(ctx, man.Path, abs, "edited here while "+man.Author+" changed it on "+man.Device, res); err != nil {
			return err
		}
		cur = stat{}
	}
	if err := m.download(ctx, mk, man, abs, cur); err != nil {
		return err
	}
	res.downloaded++
	return m.record(ctx, man.Path, c.FileID, abs, man.ContentHash, uint64(head.Version))
}

// applyDelete handles a remote tombstone: an unchanged local file goes to
// the matter's trash; a locally edited one stays (edit beats delete) and is
// uploaded on top of the tombstone.
func (m *matterSync) applyDelete(ctx context.Context, row index.File, version uint64, res *passResult) error {
	abs, err := m.local(row.Path)
	if err != nil {
		return err
	}
	cur, err := lstat(abs)
	if err != nil {
		return err
	}
	if cur.exists && !cur.matches(row) {
		row.Version = version // the edit is committed on top of the tombstone
		return m.a.idx.PutFile(ctx, row)
	}
	if cur.exists {
		if err := m.trash(abs, row.Path); err != nil {
			return err
		}
	}
	res.deleted++
	return m.a.idx.DeleteFile(ctx, m.id, row.Path)
}

// trash moves a file the remote deleted to .mattersync/trash/<time>/<path>
// in the matter folder, so a delete made by a colleague never destroys the
// only local copy. (The OS trash is per user and per volume; a folder in the
// matter is the same on every OS and easy for IT to explain.)
func (m *matterSync) trash(abs, rel string) error {
	dst := filepath.Join(m.dir, ".mattersync", "trash", time.Now().Format("2006-01-02 15.04.05"), filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	return os.Rename(abs, dst)
}

// moveAside renames a local file to a conflict-copy name next to it and
// records it; in a read/write matter the copy is uploaded by the next scan.
func (m *matterSync) moveAside(ctx context.Context, rel, abs, reason string, res *passResult) error {
	copyRel := ConflictName(rel, m.a.user, m.a.cfg.DeviceName, time.Now(), func(p string) bool {
		a, err := m.local(p)
		if err != nil {
			return true
		}
		_, err = os.Lstat(a)
		return err == nil
	})
	copyAbs, err := m.local(copyRel)
	if err != nil {
		return err
	}
	if err := os.Rename(abs, copyAbs); err != nil {
		return fmt.Errorf("keep local edit as %s: %w", copyRel, err)
	}
	res.conflicts++
	m.a.log.Warn("conflict: local edit kept as a copy", "matter", m.id, "path", rel, "copy", copyRel, "reason", reason)
	return m.a.idx.AddConflict(ctx, index.Conflict{Matter: m.id, Path: rel, Copy: copyRel, Reason: reason, Created: time.Now()})
}

// record stores that the file at abs, with content hash h, is remote
// version v.
func (m *matterSync) record(ctx context.Context, rel, fileID, abs string, h [32]byte, v uint64) error {
	st, err := lstat(abs)
	if err != nil {
		return err
	}
	if !st.exists {
		return fmt.Errorf("%s vanished", rel)
	}
	return m.a.idx.PutFile(ctx, index.File{Matter: m.id, Path: rel, FileID: fileID, Size: st.size, MtimeNs: st.mtimeNs,
		Mode: uint32(st.mode.Perm()), Hash: h[:], Version: v})
}

// download writes the file of man to abs: every chunk fetched and verified
// into a temp file in the same folder, fsync, mtime and mode set, and a
// rename only if abs is still as the caller saw it (guard).
func (m *matterSync) download(ctx context.Context, mk *matterKeys, man *format.Manifest, abs string, guard stat) error {
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return fmt.Errorf("create folder for %s: %w", man.Path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(abs), ".mattersync-tmp-*")
	if err != nil {
		return fmt.Errorf("download %s: %w", man.Path, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	codec := m.a.getCodec()
	defer m.a.putCodec(codec)
	h := sha256.New()
	var plain []byte
	var total uint64
	for i, ref := range man.Chunks {
		sealed, err := m.a.remote.GetChunk(ctx, m.id, ref.ID.String())
		if err != nil {
			return fmt.Errorf("download %s chunk %d: %w", man.Path, i, err)
		}
		m.a.waitDownload(ctx, len(sealed))
		hdr, err := format.ParseHeader(sealed)
		if err != nil {
			return fmt.Errorf("%s chunk %d: %w", man.Path, i, err)
		}
		k, err := mk.epoch(ctx, hdr.Epoch)
		if err != nil {
			return err
		}
		plain, err = codec.OpenChunk(plain[:0], k, ref.ID, sealed)
		if err != nil {
			return fmt.Errorf("%s chunk %d: %w", man.Path, i, err)
		}
		if len(plain) != int(ref.Size) {
			return fmt.Errorf("%s chunk %d: %d bytes, manifest says %d: %w", man.Path, i, len(plain), ref.Size, errTampered)
		}
		h.Write(plain)
		if _, err := tmp.Write(plain); err != nil {
			return fmt.Errorf("write %s: %w", man.Path, err) // disk full lands here; the old file is untouched
		}
		total += uint64(len(plain))
	}
	if total != man.Size || [32]byte(h.Sum(nil)) != man.ContentHash {
		return fmt.Errorf("%s: %w", man.Path, errTampered)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", man.Path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", man.Path, err)
	}
	// Owner read/write always; the executable bit only if the writer's was.
	mode := fs.FileMode(0o644)
	if man.Mode&0o100 != 0 {
		mode = 0o755
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return err
	}
	if err := os.Chtimes(tmp.Name(), man.ModTime, man.ModTime); err != nil {
		return err
	}
	now, err := lstat(abs)
	if err != nil {
		return err
	}
	if !now.same(guard) {
		return errLocalChanged
	}
	if err := os.Rename(tmp.Name(), abs); err != nil {
		return fmt.Errorf("replace %s: %w", man.Path, err)
	}
	done = true
	return syncDir(filepath.Dir(abs))
}

// scan compares the disk with the index at prefix ("" for the whole matter)
// and uploads or deletes what changed.
func (m *matterSync) scan(ctx context.Context, mk *matterKeys, prefix string, res *passResult) error {
	if _, err := os.Stat(m.dir); err != nil {
		// A missing matter folder is never "the user deleted everything":
		// recreate it and let the next pull bring the files back.
		if errors.Is(err, fs.ErrNotExist) {
			m.a.log.Warn("matter folder missing: recreating it, files come back from the gateway", "matter", m.id, "folder", m.dir)
			if err := os.MkdirAll(m.dir, 0o755); err != nil {
				return err
			}
			return m.a.idx.ResetMatter(ctx, m.id)
		}
		return err
	}
	start := m.dir
	if prefix != "" {
		start = filepath.Join(m.dir, filepath.FromSlash(prefix))
	}
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
	seen := map[string]bool{}
	var changed []string
	err = filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			res.skip("%s: %v", p, err)
			return nil
		}
		if p == m.dir {
			return nil
		}
		if m.a.ignore.Match(d.Name()) || strings.HasPrefix(d.Name(), ".mattersync") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil // folders are implied by files; links are not followed
		}
		rel, err := filepath.Rel(m.dir, p)
		if err != nil {
			return err
		}
		norm, err := format.NormalizePath(filepath.ToSlash(rel))
		if err != nil {
			res.skip("%s: not synced: %v", filepath.ToSlash(rel), err)
			return nil
		}
		seen[norm] = true
		info, err := d.Info()
		if err != nil {
			return nil // vanished
		}
		if row, ok := known[norm]; ok && row.Size == info.Size() && row.MtimeNs == info.ModTime().UnixNano() {
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
		if seen[row.Path] {
			continue
		}
		abs, err := m.local(row.Path)
		if err != nil {
			continue
		}
		if st, err := lstat(abs); err != nil || st.exists {
			continue // unreadable, or present but not walked (ignored name)
		}
		if err := m.deleteRemote(ctx, mk, row, res); err != nil {
			return err
		}
	}
	return nil
}

// fileWorkers is how many files of one matter are uploaded at once: enough
// to hide request latency on small files, few enough to bound memory (each
// holds up to batchBytes) and to leave CPU to the rest of the machine.
const fileWorkers = 4

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
				case errors.Is(err, errFileChanging) || permanent(err):
					res.skip("%s: %v", rel, err)
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
	abs, err := m.local(rel)
	if err != nil {
		return err
	}
	row, err := m.a.idx.File(ctx, m.id, rel)
	hasRow := err == nil
	if err != nil && !errors.Is(err, index.ErrNotFound) {
		return err
	}
	before, err := lstat(abs)
	if err != nil || !before.exists || !before.mode.IsRegular() {
		return err
	}
	if m.role != kms.RoleRW {
		return m.readOnlyEdit(ctx, mk, rel, abs, row, hasRow, res)
	}
	enc, err := m.a.encode(ctx, m.id, mk.current, abs)
	if err != nil {
		return err
	}
	after, err := lstat(abs)
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
			res.uploaded++
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
		if head.Deleted {
			base = head.Version
			continue
		}
		hm, err := mk.openManifest(ctx, head.Manifest, fid, uint64(head.Version))
		if err != nil {
			return err
		}
		if hm.ContentHash == enc.hash {
			return m.record(ctx, rel, fid.String(), abs, enc.hash, uint64(head.Version)) // same edit on both sides
		}
		// The remote version takes the name; this edit becomes the copy,
		// uploaded by the next scan.
		if err := m.moveAside(ctx, rel, abs, "edited at the same time as "+hm.Author+" on "+hm.Device, res); err != nil {
			return err
		}
		if err := m.download(ctx, mk, hm, abs, stat{}); err != nil {
			return err
		}
		res.downloaded++
		return m.record(ctx, rel, fid.String(), abs, hm.ContentHash, uint64(head.Version))
	}
	return fmt.Errorf("commit %s: the file keeps changing on the gateway; will retry", rel)
}

// readOnlyEdit handles a local change in a matter the user may only read:
// nothing is uploaded; an edit of a synced file is kept as a local conflict
// copy and the synced version restored, so neither is lost.
func (m *matterSync) readOnlyEdit(ctx context.Context, mk *matterKeys, rel, abs string, row index.File, hasRow bool, res *passResult) error {
	if !hasRow {
		if !IsConflictCopy(rel) {
			res.skip("%s: not uploaded: read-only access to this matter", rel)
		}
		return nil
	}
	h, err := hashFile(abs)
	if err != nil {
		return err
	}
	if h == [32]byte(row.Hash) {
		return m.record(ctx, rel, row.FileID, abs, h, row.Version)
	}
	if err := m.moveAside(ctx, rel, abs, "edited in a read-only matter (not uploaded)", res); err != nil {
		return err
	}
	res.skip("%s: read-only matter: your edit was kept as a local copy and not uploaded", rel)
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
	man, err := mk.openManifest(ctx, fv.Manifest, fid, row.Version)
	if err != nil {
		return err
	}
	abs, err := m.local(man.Path)
	if err != nil {
		return err
	}
	if err := m.download(ctx, mk, man, abs, stat{}); err != nil {
		return err
	}
	return m.record(ctx, man.Path, row.FileID, abs, man.ContentHash, row.Version)
}

// deleteRemote propagates a local delete as a tombstone.
func (m *matterSync) deleteRemote(ctx context.Context, mk *matterKeys, row index.File, res *passResult) error {
	if m.role != kms.RoleRW {
		res.skip("%s: deleted locally in a read-only matter: restored", row.Path)
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
	_, err = m.a.remote.Delete(ctx, m.id, row.FileID, int64(row.Version), sealed)
	if err == nil || remoteCode(err) == api.CodeAlreadyDeleted {
		res.deleted++
		return m.a.idx.DeleteFile(ctx, m.id, row.Path)
	}
	switch remoteCode(err) {
	case api.CodeVersionMismatch:
		// Changed remotely since: edit beats delete. The next pull brings
		// the newer version back.
		return nil
	case api.CodeLegalHold:
		res.skip("%s: the matter is on legal hold, deletes are refused: restored", row.Path)
		return m.restore(ctx, mk, row)
	}
	return fmt.Errorf("delete %s: %w", row.Path, err)
}

// hashFile returns the SHA-256 of a file's content.
func hashFile(p string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(p)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// relUnder returns the matter-relative '/' path of abs, or false.
func relUnder(dir, abs string) (string, bool) {
	rel, err := filepath.Rel(dir, abs)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return "", false
	}
	return path.Clean(filepath.ToSlash(rel)), true
}
