package agent

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/kms"
)

// matterSync syncs one matter. A pass (pull, scan, pull) runs on one
// goroutine at a time (the matter's loop, or SyncOnce); within a pass,
// uploads of different files run in parallel.
type matterSync struct {
	a    *Agent
	id   string
	name string
	role kms.Role
	dir  string   // absolute matter folder
	fs   *localFS // open during a pass
	// leaving: the user removed the matter from this laptop; its passes
	// upload and download but never send a local delete (a file missing
	// from a folder being taken off this laptop is not a delete for the
	// firm: a removal that failed part-way leaves exactly that).
	leaving bool
	// ahead downloads the files of the page being pulled ahead of
	// applyChange (ahead.go); nil outside applyPage.
	ahead *ahead
	// installs are the files fetched ahead installed but not yet
	// recorded (ahead.go); nil outside applyPage.
	installs *installGroup
}

// passResult counts what a pass did, for status and `sync --once`.
type passResult struct {
	uploaded, downloaded, deleted, conflicts int
	skipped                                  []string   // problems reported and left alone
	skips                                    []fileSkip // the same, for the log
	// problems are set (key: file ID) or cleared ("" message) by this
	// pass; they stay in status, and are retried by full passes, until a
	// later pass clears them.
	problems map[string]string
}

// fileSkip is one file left alone by a pass, and why.
type fileSkip struct{ path, reason string }

// skip reports that the file at rel ("" for none) was left alone, and why.
// Status shows it; syncMatter logs it.
func (r *passResult) skip(rel, format string, args ...any) {
	reason := fmt.Sprintf(format, args...)
	r.skips = append(r.skips, fileSkip{rel, reason})
	if rel != "" {
		reason = rel + ": " + reason
	}
	r.skipped = append(r.skipped, reason)
}

// add merges the counts and reports of another result into r.
func (r *passResult) add(o passResult) {
	r.uploaded += o.uploaded
	r.downloaded += o.downloaded
	r.deleted += o.deleted
	r.conflicts += o.conflicts
	r.skipped = append(r.skipped, o.skipped...)
	r.skips = append(r.skips, o.skips...)
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

// pull applies the matter's change feed from the stored cursor on. A change
// that cannot be applied (tampered, unsafe, or not writable here) is
// reported as a problem with its file and skipped; the rest of the matter
// keeps syncing.
func (m *matterSync) pull(ctx context.Context, mk *matterKeys, res *passResult) error {
	cursor, err := m.a.idx.Cursor(ctx, m.id)
	if err != nil {
		return err
	}
	// The newest change applied is what this agent witnessed of the feed
	// (witness.go), recorded once the pull stops.
	var last *api.Change
	defer func() {
		if last != nil {
			if err := m.a.idx.Witnessed(context.WithoutCancel(ctx), m.id, last.Seq, last.FileID, last.Version); err != nil {
				m.a.log.Warn("witness: newest change not recorded", "matter", m.id, "err", err)
			}
		}
	}()
	start := cursor
	for {
		page, err := m.a.remote.Changes(ctx, m.id, int64(cursor), 0)
		if err != nil {
			return fmt.Errorf("change feed: %w", err)
		}
		m.a.pullProgress(m.id, start, page.Head)
		var applied *api.Change
		cursor, applied, err = m.applyPage(ctx, mk, page.Changes, cursor, res)
		if applied != nil {
			last = applied
		}
		if err != nil {
			return err
		}
		if !page.More {
			return nil
		}
	}
}

// applyOrReport applies a change; an error with this one file becomes a
// problem, anything else (network, gateway) is returned.
func (m *matterSync) applyOrReport(ctx context.Context, mk *matterKeys, c api.Change, res *passResult) error {
	err := m.applyChange(ctx, mk, c, res)
	switch {
	case err == nil:
		res.problem(c.FileID, "")
		return nil
	case perFile(err):
		bad := integrity(err)
		m.a.log.Error("remote change not applied: local file left untouched", "matter", m.id, "file_id", c.FileID, "version", c.Version, "integrity", bad, "err", err)
		msg := fmt.Sprintf("remote version %d of file %s not applied, local copy kept: %v", c.Version, c.FileID, err)
		if bad {
			msg = m.integrityMessage(ctx, c, err)
			kind, object := integrityEvent(err, c.FileID)
			v := c.Version
			if v == math.MaxInt64 {
				v = 0
			}
			m.a.reportIntegrity(ctx, m.id, kind, object, v)
		}
		res.problem(c.FileID, msg)
		// Recorded before the cursor moves past the change, so a crash or a
		// restart cannot forget that this file still needs it.
		return m.a.idx.RecordProblem(ctx, m.id, c.FileID, msg, bad)
	}
	return err
}

// retryProblems applies the heads of files whose last change failed (a
// folder in the way, a full disk): full passes give them another chance.
// Integrity events (a forged or absurd version) are tried again only by the
// first full pass after the agent starts (a changed max_file_size, a
// repaired object); otherwise a dedup bomb would cost every pass.
func (m *matterSync) retryProblems(ctx context.Context, mk *matterKeys, res *passResult) error {
	list := m.a.idx.ProblemKeysToRetry
	if m.a.firstRecheck(m.id) {
		list = m.a.idx.ProblemKeys
	}
	keys, err := list(ctx, m.id)
	if err != nil {
		return err
	}
	for _, id := range keys {
		if _, err := format.ParseID(id); err != nil {
			continue
		}
		if err := m.applyOrReport(ctx, mk, api.Change{FileID: id, Version: math.MaxInt64}, res); err != nil {
			return err
		}
	}
	return nil
}

// applyChange brings one remote change to disk. It looks at the file's head
// rather than the change's version, so a burst of versions is one download.
func (m *matterSync) applyChange(ctx context.Context, mk *matterKeys, c api.Change, res *passResult) error {
	if m.installs.has(c.FileID) {
		// Installed by this page, row not yet written: record it first.
		if err := m.flushInstalls(ctx); err != nil {
			return err
		}
	}
	row, err := m.a.idx.FileByID(ctx, m.id, c.FileID)
	hasRow := err == nil
	if err != nil && !errors.Is(err, index.ErrNotFound) {
		return err
	}
	if hasRow && row.Version >= uint64(c.Version) {
		return nil // our own commit, or already applied
	}
	fid, err := format.ParseID(c.FileID)
	if err != nil {
		return fmt.Errorf("%w: %w", format.ErrMalformed, err)
	}
	pre := m.ahead.take(c.FileID)
	var head api.FileVersion
	if pre != nil {
		defer m.fs.remove(pre.tmp) // gone once installed
		head = pre.head
	} else if head, err = m.a.remote.File(ctx, m.id, c.FileID, 0); err != nil {
		return fmt.Errorf("fetch %s: %w", c.FileID, err)
	}
	if c.Version != math.MaxInt64 && head.Version < c.Version {
		return fmt.Errorf("gateway answered version %d for a change to version %d: %w", head.Version, c.Version, errTampered)
	}
	if hasRow && row.Version >= uint64(head.Version) {
		return nil
	}
	// Every version, deletes included, is a sealed manifest: a delete the
	// gateway or storage made up opens to nothing and is refused.
	var man *format.Manifest
	var epoch uint32
	if pre != nil {
		man, epoch = pre.man, pre.epoch
	} else if man, epoch, err = mk.openVersion(ctx, head, fid, uint64(head.Version)); err != nil {
		return err
	}
	if man.Deleted != head.Deleted {
		return fmt.Errorf("gateway says deleted=%v, the sealed manifest says %v: %w", head.Deleted, man.Deleted, errTampered)
	}
	if m.a.ignore.MatchPath(man.Path) {
		m.a.log.Info("remote file matches the ignore list: not written", "matter", m.id, "path", man.Path)
		return nil
	}
	if man.Deleted {
		if !hasRow {
			return m.staleCopyOfDeleted(ctx, mk, fid, man.Path, head.Version, res)
		}
		return m.applyDelete(ctx, row, uint64(head.Version), res)
	}
	cur, err := m.fs.lstat(man.Path)
	if err != nil {
		return err
	}
	switch {
	case cur.exists && cur.mode.IsDir():
		return fmt.Errorf("%s: a local folder has the name of a remote file; rename the folder: %w", man.Path, errLocalWrite)
	case cur.exists && !hasRow && m.fs.caseVariant(man.Path):
		// On a case-insensitive disk (Windows, macOS) "brief.docx" from a
		// colleague would land on our "Brief.docx", a different file.
		return fmt.Errorf("%s: a local file whose name differs only in case is in the way; rename one of them: %w", man.Path, errLocalWrite)
	case cur.exists && !(hasRow && cur.matches(row.Size, row.MtimeNs)):
		// Local content we have not synced. The same content (same
		// chunks under the manifest's keys, not merely a claimed hash)
		// is no conflict.
		if same, err := m.sameContent(ctx, mk, epoch, man); err != nil {
			return err
		} else if same {
			m.a.log.Info("local file already holds the remote version: recorded, nothing downloaded", "matter", m.id, "path", man.Path, "version", head.Version)
			return m.record(ctx, man.Path, c.FileID, man.ContentHash, uint64(head.Version))
		}
	}
	// Fetch and verify everything before touching the local file (done
	// already if it was fetched ahead).
	var tmp string
	if pre != nil {
		tmp = pre.tmp
	} else if tmp, err = m.fetch(ctx, mk, man); err != nil {
		return err
	}
	defer m.fs.remove(tmp)
	guard := cur
	if cur.exists && !(hasRow && cur.matches(row.Size, row.MtimeNs)) {
		if err := m.moveAside(ctx, man.Path, "edited here while "+m.a.authorName(man.Author, head.AuthorEntity, head.AuthorName)+" changed it on "+SafeText(man.Device), res); err != nil {
			return err
		}
		guard = stat{}
	}
	if pre != nil && !cur.exists && m.installs != nil {
		// A new file fetched ahead: installed now, its folder synced and
		// its row written with the group's (flushInstalls).
		if err := m.installAhead(ctx, tmp, man.Path, c.FileID, man.ContentHash, uint64(head.Version), guard, man.ModTime); err != nil {
			return err
		}
		res.downloaded++
		m.a.log.Info("file downloaded", "matter", m.id, "path", man.Path, "version", head.Version, "bytes", man.Size)
		return nil
	}
	if err := m.fs.install(tmp, man.Path, guard, man.ModTime); err != nil {
		return err
	}
	res.downloaded++
	m.a.log.Info("file downloaded", "matter", m.id, "path", man.Path, "version", head.Version, "bytes", man.Size)
	return m.record(ctx, man.Path, c.FileID, man.ContentHash, uint64(head.Version))
}

// staleCopyOfDeleted handles a tombstone for a file this agent has no row
// for (a rebuilt index): a local copy equal to the version the delete
// replaced goes to the trash, as if it had been synced; anything else is a
// local edit and stays (edit beats delete: the next scan uploads it).
func (m *matterSync) staleCopyOfDeleted(ctx context.Context, mk *matterKeys, fid format.ID, rel string, tombstone int64, res *passResult) error {
	cur, err := m.fs.lstat(rel)
	if err != nil || !cur.exists || !cur.mode.IsRegular() || tombstone < 2 {
		return err
	}
	if m.fs.caseVariant(rel) {
		// A case-insensitive disk found another file ("Brief.docx" for a
		// deleted "brief.docx"): not the deleted file, whatever it holds
		// (issue 19: an insider copies a file under a name differing in
		// case, deletes the copy, and colleagues' agents trash the
		// original and delete it for everyone).
		m.a.log.Info("remote delete not applied: the local file's name differs in case", "matter", m.id, "path", rel)
		return nil
	}
	prev, err := m.a.remote.File(ctx, m.id, fid.String(), tombstone-1)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", rel, err)
	}
	if prev.Deleted {
		return nil
	}
	man, epoch, err := mk.openVersion(ctx, prev, fid, uint64(tombstone-1))
	if err != nil {
		return err
	}
	if same, err := m.sameContent(ctx, mk, epoch, man); err != nil || !same {
		return err
	}
	res.deleted++
	return m.trash(rel)
}

// sameContent reports whether the local file at man.Path is exactly the
// content of man: cut into the same chunks with the same IDs under the keys
// of the manifest's epoch.
func (m *matterSync) sameContent(ctx context.Context, mk *matterKeys, epoch uint32, man *format.Manifest) (bool, error) {
	k, err := mk.epoch(ctx, epoch)
	if err != nil {
		return false, err
	}
	f, err := m.fs.open(man.Path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	ch := m.a.chunkers.Get().(*format.Chunker)
	defer m.a.chunkers.Put(ch)
	ch.Reset(f)
	defer ch.Reset(nil)
	for i := 0; ; i++ {
		chunk, err := ch.Next()
		if errors.Is(err, io.EOF) {
			return i == len(man.Chunks), nil
		}
		if err != nil {
			return false, err
		}
		if i >= len(man.Chunks) || man.Chunks[i].Size != uint32(len(chunk)) || man.Chunks[i].ID != k.ChunkID(chunk) {
			return false, nil
		}
	}
}

// applyDelete handles a remote tombstone: an unchanged local file goes to
// the matter's trash; a locally edited one stays (edit beats delete) and is
// uploaded on top of the tombstone.
func (m *matterSync) applyDelete(ctx context.Context, row index.File, version uint64, res *passResult) error {
	cur, err := m.fs.lstat(row.Path)
	if err != nil {
		return err
	}
	if cur.exists && m.fs.caseVariant(row.Path) {
		// The file this row named is gone (renamed to another case); what
		// a case-insensitive disk finds under its name is another file,
		// which keeps its own row. Forget the deleted one only.
		m.a.log.Info("remote delete: the local file's name now differs in case; it is kept", "matter", m.id, "path", row.Path)
		return m.a.idx.DeleteFile(ctx, m.id, row.Path)
	}
	if cur.exists && !cur.matches(row.Size, row.MtimeNs) {
		// Only an edit beats the delete: a file merely touched (same
		// content) goes to the trash like an unchanged one.
		h, err := m.fs.hash(row.Path)
		if err != nil {
			return err
		}
		if h != [32]byte(row.Hash) {
			m.a.log.Info("remote delete not applied: the file was edited here (edit beats delete); the edit is uploaded", "matter", m.id, "path", row.Path)
			row.Version = version // the edit is committed on top of the tombstone
			return m.a.idx.PutFile(ctx, row)
		}
	}
	if cur.exists {
		if err := m.trash(row.Path); err != nil {
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
func (m *matterSync) trash(rel string) error {
	n, err := m.fs.name(rel)
	if err != nil {
		return err
	}
	if m.fs.caseVariant(rel) {
		// Never move a file the disk merely found under another spelling.
		return fmt.Errorf("%s: a local file whose name differs only in case is in its place; not moved to the trash: %w", rel, errLocalWrite)
	}
	// Under the agent's own folder, which manifests may not name; a second
	// trashing of the same path in the same second gets its own folder.
	stamp := time.Now().Format("2006-01-02 15.04.05")
	dn := filepath.FromSlash(path.Join(trashDir, stamp, rel))
	for i := 2; ; i++ {
		if _, err := m.fs.root.Lstat(dn); errors.Is(err, fs.ErrNotExist) {
			break
		}
		dn = filepath.FromSlash(path.Join(trashDir, fmt.Sprintf("%s (%d)", stamp, i), rel))
	}
	if err := m.fs.root.MkdirAll(filepath.Dir(dn), 0o700); err != nil {
		return localErr(err)
	}
	if err := m.fs.root.Rename(n, dn); err != nil {
		return localErr(err)
	}
	m.a.log.Info("file moved to the trash: deleted on the gateway", "matter", m.id, "path", rel, "trash", filepath.ToSlash(dn))
	return nil
}

const trashDir = ".mattersync/trash"

// moveAside renames a local file to a conflict-copy name next to it and
// records it; in a read/write matter the copy is uploaded by the next scan.
func (m *matterSync) moveAside(ctx context.Context, rel, reason string, res *passResult) error {
	copyRel, err := ConflictName(rel, m.a.user, m.a.cfg.DeviceName, time.Now(), func(p string) (bool, error) {
		st, err := m.fs.lstat(p)
		return st.exists, err
	})
	if err != nil {
		return err
	}
	if err := m.fs.rename(rel, copyRel); err != nil {
		return fmt.Errorf("keep local edit as %s: %w", copyRel, err)
	}
	m.fs.private(copyRel)
	res.conflicts++
	m.a.log.Warn("conflict: local edit kept as a copy", "matter", m.id, "path", rel, "copy", copyRel, "reason", reason)
	// The copy exists now: record it even if the pass is being cancelled.
	return m.a.idx.AddConflict(context.WithoutCancel(ctx), index.Conflict{Matter: m.id, Path: rel, Copy: copyRel, Reason: reason, Created: time.Now()})
}

// record stores that the local file rel, with content hash h, is remote
// version v.
func (m *matterSync) record(ctx context.Context, rel, fileID string, h [32]byte, v uint64) error {
	st, err := m.fs.lstat(rel)
	if err != nil {
		return err
	}
	if !st.exists {
		return fmt.Errorf("%s vanished", rel)
	}
	return m.a.idx.PutFile(ctx, index.File{Matter: m.id, Path: rel, FileID: fileID, Size: st.size, MtimeNs: st.mtimeNs,
		Mode: uint32(st.mode.Perm()), Hash: h[:], Version: v})
}

// fetch downloads the file of man into a temp file next to its path:
// every chunk fetched and verified (authenticity, chunk ID, size), the
// total size and content hash checked, fsynced. It returns the temp name;
// the caller installs or removes it.
func (m *matterSync) fetch(ctx context.Context, mk *matterKeys, man *format.Manifest) (string, error) {
	if err := m.roomFor(man); err != nil {
		return "", err
	}
	f, tmp, err := m.fs.createTemp(man.Path)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", man.Path, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			m.fs.remove(tmp)
		}
	}()
	h := sha256.New()
	total, err := m.writeChunks(ctx, mk, man, f, h)
	if err != nil {
		return "", err
	}
	if total != man.Size || [32]byte(h.Sum(nil)) != man.ContentHash {
		return "", fmt.Errorf("%s: %w", man.Path, errTampered)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("write %s: %w", man.Path, localErr(err))
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", man.Path, localErr(err))
	}
	ok = true
	return tmp, nil
}

// keepFree is what a download must leave free on a disk with free bytes
// free: the user's other programs (and the index) need room too. A
// sixteenth of the free space, at most 256 MiB.
func keepFree(free uint64) uint64 { return min(free/16, 256<<20) }

// roomFor refuses, before anything is written, a file larger than the
// firm's limit (an integrity event: a dedup bomb declares terabytes with a
// few kilobytes of chunks) or than the free disk space allows (this disk's
// problem, retried by later passes).
func (m *matterSync) roomFor(man *format.Manifest) error {
	if limit := uint64(m.a.cfg.MaxFileSize); man.Size > limit {
		return fmt.Errorf("%s: the manifest declares %d bytes in %d chunk references, more than max_file_size (%v); not downloaded: %w",
			man.Path, man.Size, len(man.Chunks), m.a.cfg.MaxFileSize, errTooLarge)
	}
	free, err := freeSpace(m.dir)
	if err != nil {
		return nil // unknown: the limit above still bounds the download
	}
	if keep := keepFree(free); man.Size > free || free-man.Size < keep {
		return fmt.Errorf("%s: no space left: %d bytes do not fit in the %d bytes free on this disk (keeping %d free); not downloaded: %w",
			man.Path, man.Size, free, keep, errLocalWrite)
	}
	return nil
}

// relUnder returns the matter-relative '/' path of abs, or false.
func relUnder(dir, abs string) (string, bool) {
	rel, err := filepath.Rel(dir, abs)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return "", false
	}
	return path.Clean(filepath.ToSlash(rel)), true
}

// openFolder opens the matter folder for a pass. A missing folder is never
// "the user deleted everything": a copy renamed by the user gets its name
// back (see reclaimFolder); otherwise it is recreated and the matter's
// index reset, so the next pull brings the files back.
func (m *matterSync) openFolder(ctx context.Context, res *passResult) error {
	if _, err := os.Stat(m.dir); errors.Is(err, fs.ErrNotExist) {
		// Renamed by the lawyer, most likely: give it its name back.
		renamed, err := m.a.reclaimFolder(m.id, m.dir)
		if err != nil {
			return fmt.Errorf("matter folder missing: %w", err)
		}
		if renamed != "" {
			res.skip("", "%s", m.a.folderRenamed(m.id, renamed, filepath.Base(m.dir)))
		}
	}
	if _, err := os.Stat(m.dir); errors.Is(err, fs.ErrNotExist) {
		m.a.log.Warn("matter folder missing: recreating it, files come back from the gateway", "matter", m.id, "folder", m.dir)
		if err := privateDir(m.dir); err != nil {
			return err
		}
		if err := m.a.idx.ResetMatter(ctx, m.id); err != nil {
			return err
		}
	}
	l, err := openLocal(m.dir)
	if err != nil {
		return fmt.Errorf("matter folder: %w", err)
	}
	l.fold = m.a.foldCase
	m.fs = l
	return nil
}

func (m *matterSync) closeFolder() {
	if m.fs != nil {
		m.fs.Close()
		m.fs = nil
	}
}
