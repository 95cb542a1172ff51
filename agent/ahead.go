package agent

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sync"
	"time"

	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
)

// A new device's first pull is hundreds of files, each a manifest request,
// its chunks and a temp file written and fsynced, one after another. The
// change loop stays sequential (every decision about the local folder, the
// index and conflicts is made in feed order, as before), but the files it
// is about to bring in are downloaded ahead of it, filesAhead at a time:
// the head version fetched and opened, every chunk verified and the temp
// file written and fsynced, exactly as fetch does. The loop then installs
// a prefetched temp file instead of downloading. Only files this device
// has no row for and no local file at are fetched ahead; anything else, and
// any prefetch that failed, takes the ordinary path, which does the work
// again and reports its errors as before.

// filesAhead is how many files are downloaded ahead of the change loop at
// once, and twice that how far ahead of it they may get. Each file is two
// round trips at least (manifest, chunk), each waiting for its audit
// record's commit on the gateway, so small files go as fast as requests
// are in flight (the audit records of concurrent reads share a commit):
// 8 instead of 4 (issue 22). Their chunks' bytes are bounded agent-wide
// (downloadBudget).
const filesAhead = 8

// prefetch is one file downloaded ahead.
type prefetch struct {
	c     api.Change
	done  chan struct{}
	head  api.FileVersion
	man   *format.Manifest
	epoch uint32
	tmp   string // "": not fetched; the loop takes the ordinary path
	slot  bool   // holds one of ahead.slots (set before it is started)
}

// ahead downloads the files of a page of changes ahead of the loop that
// applies them.
type ahead struct {
	m      *matterSync
	cancel context.CancelFunc
	wg     sync.WaitGroup
	slots  chan struct{} // bounds how far ahead of the loop prefetches get

	mu   sync.Mutex // guards byID
	byID map[string]*prefetch
}

// startAhead starts downloading the files of changes that are new to this
// device. Close it when the page is done.
func (m *matterSync) startAhead(ctx context.Context, mk *matterKeys, changes []api.Change) *ahead {
	ctx, cancel := context.WithCancel(ctx)
	a := &ahead{m: m, cancel: cancel, byID: map[string]*prefetch{}, slots: make(chan struct{}, 2*filesAhead)}
	var todo []*prefetch
	for _, c := range changes {
		if _, dup := a.byID[c.FileID]; dup || c.Deleted {
			continue
		}
		if _, err := m.a.idx.FileByID(ctx, m.id, c.FileID); !errors.Is(err, index.ErrNotFound) {
			continue // known here (or the index failed): the ordinary path
		}
		p := &prefetch{c: c, done: make(chan struct{})}
		a.byID[c.FileID] = p
		todo = append(todo, p)
	}
	if len(todo) == 0 {
		return a
	}
	work := make(chan *prefetch)
	for range min(filesAhead, len(todo)) {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			for p := range work {
				m.prefetch(ctx, mk, p)
				close(p.done)
			}
		}()
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer close(work)
		for i, p := range todo {
			select {
			case a.slots <- struct{}{}:
			case <-ctx.Done():
				for _, q := range todo[i:] {
					close(q.done)
				}
				return
			}
			p.slot = true
			work <- p
		}
	}()
	return a
}

// prefetch downloads p's file if it is absent here; on any failure it
// leaves p.tmp empty.
func (m *matterSync) prefetch(ctx context.Context, mk *matterKeys, p *prefetch) {
	fid, err := format.ParseID(p.c.FileID)
	if err != nil {
		return
	}
	head, err := m.a.remote.File(ctx, m.id, p.c.FileID, 0)
	if err != nil || head.Deleted || head.Version < p.c.Version {
		return
	}
	man, epoch, err := mk.openVersion(ctx, head, fid, uint64(head.Version))
	if err != nil || man.Deleted || m.a.ignore.MatchPath(man.Path) {
		return
	}
	if cur, err := m.fs.lstat(man.Path); err != nil || cur.exists {
		return
	}
	tmp, err := m.fetch(ctx, mk, man)
	if err != nil {
		return
	}
	p.head, p.man, p.epoch, p.tmp = head, man, epoch, tmp
}

// take hands the loop the prefetched download of fileID (its temp file is
// the caller's to install or remove), or nil.
func (a *ahead) take(fileID string) *prefetch {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	p := a.byID[fileID]
	delete(a.byID, fileID)
	a.mu.Unlock()
	if p == nil {
		return nil
	}
	<-p.done
	if p.slot {
		<-a.slots
	}
	if p.tmp == "" {
		return nil
	}
	return p
}

// drop forgets the prefetch of fileID the loop did not take.
func (a *ahead) drop(fileID string) {
	if p := a.take(fileID); p != nil {
		a.m.fs.remove(p.tmp)
	}
}

// close stops the prefetches and removes what the loop did not take.
func (a *ahead) close() {
	a.cancel()
	// Free the slots of untaken prefetches so the feeder is not stuck.
	go func() {
		for range a.slots {
		}
	}()
	a.wg.Wait()
	close(a.slots)
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, p := range a.byID {
		if p.tmp != "" {
			a.m.fs.remove(p.tmp)
		}
		delete(a.byID, id)
	}
}

// applyPage applies a page of changes in feed order, with the files new
// here downloaded ahead, and returns the cursor after the last change
// applied, and that change (nil if none). The cursor is stored once per
// page (and where the page stops on an error), not per change: after a
// crash the changes since are applied again, and a change already applied
// is a no-op (its row has the version) or, if the crash came between the
// install and the row, found to be the local file's content and recorded
// without a download.
func (m *matterSync) applyPage(ctx context.Context, mk *matterKeys, changes []api.Change, cursor uint64, res *passResult) (uint64, *api.Change, error) {
	a := m.startAhead(ctx, mk, changes)
	m.ahead = a
	m.installs = &installGroup{}
	defer func() {
		m.ahead = nil
		m.installs = nil
		a.close()
	}()
	var last *api.Change
	for i, c := range changes {
		if err := m.applyOrReport(ctx, mk, c, res); err != nil {
			// The installs before the failure are recorded first: the
			// cursor never passes a file that has no row.
			if ferr := m.flushInstalls(ctx); ferr != nil {
				return cursor, last, errors.Join(err, ferr)
			}
			if cerr := m.a.idx.SetCursor(context.WithoutCancel(ctx), m.id, cursor); cerr != nil {
				return cursor, last, errors.Join(err, cerr)
			}
			return cursor, last, err
		}
		a.drop(c.FileID)
		cursor, last = uint64(c.Seq), &changes[i]
		m.a.pulled(m.id, c.Seq)
	}
	if err := m.flushInstalls(ctx); err != nil {
		return cursor, last, err
	}
	return cursor, last, m.a.idx.SetCursor(ctx, m.id, cursor)
}

// A first pull installs hundreds of new files, and each used to cost two
// fsyncs in the change loop, one after the other: its folder's (so the
// rename survives a crash) and the index transaction of its row. Files
// fetched ahead are now installed in groups: renamed into place one by
// one as before (each temp file already fsynced, every chunk and the whole
// file verified), then each folder that took renames is fsynced once and
// the group's rows are written in one index transaction. The order that
// makes this crash-safe is kept for every file: data durable, rename,
// rename durable, then the row. A crash inside a group leaves installed
// files without rows, and the page's cursor not stored (the group is
// flushed before the cursor): the changes are applied again, and a file
// already in place is recognised by its content (sameContent) and
// recorded without a download — the path every crash between install and
// row already took.

// installGroupFiles is how many installs share one flush.
const installGroupFiles = 64

// installGroup is the installs of a page not yet flushed.
type installGroup struct {
	dirs  map[string]bool
	rows  []index.File
	files map[string]bool // file IDs of rows
}

// has reports whether fileID was installed and is not yet recorded.
func (g *installGroup) has(fileID string) bool { return g != nil && g.files[fileID] }

// installAhead installs a prefetched new file at rel and adds its row to
// the group; flushInstalls makes it durable and records it.
func (m *matterSync) installAhead(ctx context.Context, tmp, rel, fileID string, h [32]byte, v uint64, guard stat, mtime time.Time) error {
	g := m.installs
	if err := m.fs.installUnsynced(tmp, rel, guard, mtime); err != nil {
		return err
	}
	st, err := m.fs.lstat(rel)
	if err != nil {
		return err
	}
	if !st.exists {
		return fmt.Errorf("%s vanished", rel)
	}
	if g.dirs == nil {
		g.dirs, g.files = map[string]bool{}, map[string]bool{}
	}
	g.dirs[path.Dir(rel)] = true
	g.files[fileID] = true
	g.rows = append(g.rows, index.File{Matter: m.id, Path: rel, FileID: fileID, Size: st.size, MtimeNs: st.mtimeNs,
		Mode: uint32(st.mode.Perm()), Hash: h[:], Version: v})
	if len(g.rows) >= installGroupFiles {
		return m.flushInstalls(ctx)
	}
	return nil
}

// flushInstalls fsyncs each folder the group renamed into, then records
// its rows (concurrent PutFile calls share one index transaction).
func (m *matterSync) flushInstalls(ctx context.Context) error {
	g := m.installs
	if g == nil || len(g.rows) == 0 {
		return nil
	}
	rows, dirs := g.rows, g.dirs
	*g = installGroup{}
	for dir := range dirs {
		if err := m.fs.syncDir(dir); err != nil {
			return fmt.Errorf("sync folder %s: %w", dir, localErr(err))
		}
	}
	ctx = context.WithoutCancel(ctx) // the files are in place: record them
	errs := make([]error, len(rows))
	var wg sync.WaitGroup
	for i, r := range rows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.a.idx.PutFile(ctx, r)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
