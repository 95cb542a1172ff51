package agent

// Office presence (docs/AGENT.md, "Documents open elsewhere"). When Word,
// Excel or PowerPoint opens a document it writes an owner file next to it
// ("~$Brief.docx"), LibreOffice a lock file (".~lock.Brief.odt#"). The
// agent sees them through the watcher (they are never synced), and tells
// the gateway that the document's file ID is open on this device: never a
// name. It refreshes that presence while the lock file exists, so a
// crashed laptop's presence expires. Colleagues' agents learn of it from a
// long poll (GET /v1/presence), mark their copy read-only, so Word opens
// it read-only instead of making a conflict later, and restore the
// previous mode when it is closed.
//
// One goroutine (presenceMgr.run) owns all of this state; the long poll
// runs beside it and hands it each answer.

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/agent/watch"
	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/kms"
)

// presenceRemote is the part of the gateway API presence uses
// (gateway/client implements it); a Remote without it has no presence.
type presenceRemote interface {
	OpenPresence(ctx context.Context, matter, file string, ttl time.Duration) (api.PresenceAnswer, error)
	ClosePresence(ctx context.Context, matter, file string) error
	Presence(ctx context.Context, since string, wait time.Duration) (api.PresenceList, error)
}

// OpenFile is a document open on another device (or, with Mine, on this
// one), as status shows it: "open by alice on LAPTOP-7 since 10:42".
type OpenFile struct {
	Matter string    `json:"matter"`
	Path   string    `json:"path"` // relative to the matter folder, slash-separated
	User   string    `json:"user"` // the gateway's user name of the opener
	Device string    `json:"device"`
	Since  time.Time `json:"since"`
	// ReadOnly: this agent marked the local copy read-only for it.
	ReadOnly bool `json:"read_only,omitempty"`
	// Mine: open in an editor on this device (reported to colleagues).
	Mine bool `json:"mine,omitempty"`
}

// Sentence is the line status shows for o, e.g. "Brief.docx: open by
// alice on LAPTOP-7 since 10:42 (read-only here until it is closed)".
func (o OpenFile) Sentence() string {
	if o.Mine {
		return SafeText(o.Path) + ": open here (colleagues get it read-only)"
	}
	since := o.Since.Local().Format("15:04")
	if y, d := o.Since.Local().YearDay(), time.Now().YearDay(); y != d {
		since = o.Since.Local().Format("2006-01-02 15:04")
	}
	s := SafeText(o.Path) + ": open by " + SafeText(o.User) + " on " + SafeText(o.Device) + " since " + since
	if o.ReadOnly {
		s += " (read-only here until it is closed)"
	}
	return s
}

// OpenDocuments returns the documents open elsewhere on this user's
// matters and those open here, as status shows them.
func (a *Agent) OpenDocuments() []OpenFile { return a.Status().Open }

// presenceMarksFile, in the data dir, lists the copies this agent marked
// read-only and their previous mode, so a crash never leaves a copy
// read-only for good: the next start restores what is no longer open.
const presenceMarksFile = "presence-marks.json"

// fileMark is a copy this agent made read-only.
type fileMark struct {
	Path   string `json:"path"` // absolute
	Matter string `json:"matter"`
	FileID string `json:"file_id"`
	Prev   uint32 `json:"prev"` // mode bits (Windows: attributes) before
	// Confirmed is when a gateway list last said the document is open
	// elsewhere: a mark a crashed run left is restored once that is older
	// than markStale, whether or not the gateway answers now (offline, or
	// a gateway without presence).
	Confirmed time.Time `json:"confirmed"`
	// fi identifies the file marked: another file at Path (a download
	// replaced it) is marked again, the same file made writable by the
	// user is left alone.
	fi fs.FileInfo
}

// ownDoc is a synced document an owner or lock file names.
type ownDoc struct {
	Matter, Rel, FileID string
	Since               time.Time
	open                bool // the gateway has the presence
}

type presenceMgr struct {
	a     *Agent
	r     presenceRemote
	ttl   time.Duration
	locks chan string // from the watcher

	own    map[string][]ownDoc // lock file path -> the documents it names
	others []api.OpenDocument  // the gateway's last list, without this device
	listAt time.Time           // when it came; zero: none yet
	marks  map[string]*fileMark
}

func newPresence(a *Agent, r presenceRemote) *presenceMgr {
	return &presenceMgr{a: a, r: r, ttl: a.cfg.PresenceTTL, locks: make(chan string, 256),
		own: map[string][]ownDoc{}, marks: map[string]*fileMark{}}
}

// run does presence until ctx ends; then it gives every copy it marked its
// mode back (the next start marks again what is still open).
func (p *presenceMgr) run(ctx context.Context) {
	p.loadMarks()
	lists := make(chan api.PresenceList)
	pollDone := make(chan struct{})
	go func() { defer close(pollDone); p.poll(ctx, lists) }()
	defer func() { <-pollDone }()
	p.findLocks(ctx)
	refresh := time.NewTicker(max(p.ttl/3, 500*time.Millisecond))
	defer refresh.Stop()
	// The safety net: events dropped, downloads that replaced a marked
	// copy, a document synced after its presence arrived.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	rescan := time.NewTicker(p.a.cfg.RescanInterval)
	defer rescan.Stop()
	for {
		select {
		case <-ctx.Done():
			p.reconcile(context.WithoutCancel(ctx), true)
			return
		case lock := <-p.locks:
			p.lockChanged(ctx, lock)
		case <-refresh.C:
			for lock := range p.own {
				p.lockChanged(ctx, lock)
			}
		case <-rescan.C:
			p.findLocks(ctx)
		case l := <-lists:
			p.others = p.others[:0]
			for _, d := range l.Open {
				if d.Entity != p.a.entity || d.Device != p.a.cfg.DeviceName {
					p.others = append(p.others, d)
				}
			}
			p.listAt = time.Now()
			p.reconcile(ctx, false)
		case <-tick.C:
			p.reconcile(ctx, false)
		}
	}
}

// poll long-polls the gateway's list of open documents and hands each
// answer to run.
func (p *presenceMgr) poll(ctx context.Context, out chan<- api.PresenceList) {
	tag := ""
	backoff := time.Second
	for ctx.Err() == nil {
		l, err := p.r.Presence(ctx, tag, 30*time.Second)
		if err != nil {
			if errors.Is(p.a.checkRevoked(err), ErrRevoked) || ctx.Err() != nil {
				return
			}
			p.a.log.Debug("presence poll failed", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff/2 + rand.N(backoff/2+1)):
			}
			backoff = min(2*backoff, time.Minute)
			continue
		}
		backoff, tag = time.Second, l.Tag
		select {
		case out <- l:
		case <-ctx.Done():
			return
		}
	}
}

// activeMatters returns the matters synced here, by folder name.
func (p *presenceMgr) activeMatters(ctx context.Context) map[string]index.Matter {
	ms, err := p.a.idx.Matters(ctx)
	if err != nil {
		return nil
	}
	out := map[string]index.Matter{}
	for _, m := range ms {
		if m.State != "removed" && m.State != closedState && m.Folder != "" {
			out[m.Folder] = m
		}
	}
	return out
}

// findLocks looks for owner and lock files in every matter folder: at
// start (documents opened before), and at every rescan (events lost).
func (p *presenceMgr) findLocks(ctx context.Context) {
	for folder := range p.activeMatters(ctx) {
		root := filepath.Join(p.a.cfg.Root, folder)
		_ = filepath.WalkDir(root, func(q string, d fs.DirEntry, err error) error {
			if err != nil || ctx.Err() != nil {
				return filepath.SkipDir
			}
			if d.IsDir() && q != root && p.a.ignore.Match(d.Name()) {
				return filepath.SkipDir
			}
			if !d.IsDir() && watch.IsLockFile(d.Name()) {
				if _, known := p.own[q]; !known {
					p.lockChanged(ctx, q)
				}
			}
			return nil
		})
	}
}

// lockChanged opens (or refreshes) the presence of the documents lock
// names while it exists, and closes them once it is gone.
func (p *presenceMgr) lockChanged(ctx context.Context, lock string) {
	var docs []ownDoc
	if _, err := os.Lstat(lock); err == nil {
		docs = p.lockDocs(ctx, lock)
	}
	prev := p.own[lock]
	for _, d := range prev {
		if !slices.ContainsFunc(docs, func(n ownDoc) bool { return n.Matter == d.Matter && n.FileID == d.FileID }) && d.open {
			if err := p.r.ClosePresence(ctx, d.Matter, d.FileID); err != nil {
				p.a.log.Warn("presence not closed at the gateway (it expires by itself)", "matter", d.Matter, "path", d.Rel, "err", err)
			} else {
				p.a.log.Info("document closed here: colleagues may edit it again", "matter", d.Matter, "path", d.Rel)
			}
		}
	}
	for i, d := range docs {
		if j := slices.IndexFunc(prev, func(o ownDoc) bool { return o.Matter == d.Matter && o.FileID == d.FileID }); j >= 0 {
			docs[i].Since = prev[j].Since
		}
		ans, err := p.r.OpenPresence(ctx, d.Matter, d.FileID, p.ttl)
		if err != nil {
			p.a.log.Warn("cannot tell colleagues the document is open; retried", "matter", d.Matter, "path", d.Rel, "err", err)
			continue
		}
		docs[i].open = true
		if ans.Opened {
			docs[i].Since = ans.Since
			p.a.log.Info("document open here: colleagues see it read-only", "matter", d.Matter, "path", d.Rel)
		}
	}
	if len(docs) == 0 {
		delete(p.own, lock)
	} else {
		p.own[lock] = docs
	}
	p.publish()
}

// lockDocs returns the synced documents the owner or lock file names.
func (p *presenceMgr) lockDocs(ctx context.Context, lock string) []ownDoc {
	rel, err := filepath.Rel(p.a.cfg.Root, lock)
	if err != nil || !filepath.IsLocal(rel) {
		return nil
	}
	rel = filepath.ToSlash(rel)
	folder, inMatter, ok := strings.Cut(rel, "/")
	if !ok {
		return nil
	}
	m, ok := p.activeMatters(ctx)[folder]
	// A read-only member's open makes no one's copy read-only (the
	// gateway refuses it: only editors can lock editors out).
	if !ok || m.Role != string(kms.RoleRW) || p.a.ignore.MatchPath(path.Dir(inMatter)) && path.Dir(inMatter) != "." {
		return nil
	}
	entries, err := os.ReadDir(filepath.Dir(lock))
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && !p.a.ignore.Match(e.Name()) {
			names = append(names, e.Name())
		}
	}
	var out []ownDoc
	for _, name := range lockTargets(filepath.Base(lock), names) {
		docRel := path.Join(path.Dir(inMatter), name)
		f, err := p.a.idx.File(ctx, m.ID, docRel)
		if err != nil || f.FileID == "" {
			continue // not synced (yet): nothing colleagues could open
		}
		out = append(out, ownDoc{Matter: m.ID, Rel: docRel, FileID: f.FileID, Since: time.Now()})
	}
	return out
}

// lockTargets returns which of names (the files next to it) the owner or
// lock file lock stands for. LibreOffice's ".~lock.<name>#" names the
// document whole. Office's owner file is "~$" and the document's name,
// but Word shortens it: for a name of 7 characters before the extension
// the first is replaced by "~$", from 8 on the first two ("Document.docx"
// → "~$cument.docx"); Excel and PowerPoint keep the whole name. So an
// exact match wins, else every file whose name is the owner file's after
// one or two more characters is taken (two such files are both marked:
// Word's owner file cannot tell them apart either). Matching ignores
// case, as Windows and macOS do.
func lockTargets(lock string, names []string) []string {
	if rest, ok := strings.CutPrefix(lock, ".~lock."); ok {
		target := strings.TrimSuffix(rest, "#")
		for _, n := range names {
			if n == target {
				return []string{n}
			}
		}
		return nil
	}
	rest, ok := strings.CutPrefix(lock, "~$")
	if !ok || rest == "" {
		return nil
	}
	for _, n := range names {
		if strings.EqualFold(n, rest) {
			return []string{n}
		}
	}
	var out []string
	lrest := strings.ToLower(rest)
	for _, n := range names {
		extra := len(n) - len(rest)
		base := strings.TrimSuffix(n, path.Ext(n))
		if (extra == 1 && len(base) == 7 || extra == 2 && len(base) >= 8) && strings.HasSuffix(strings.ToLower(n), lrest) {
			out = append(out, n)
		}
	}
	return out
}

// ownFiles is the documents open in an editor here, by matter and file ID.
func (p *presenceMgr) ownFiles() map[[2]string]bool {
	out := map[[2]string]bool{}
	for _, docs := range p.own {
		for _, d := range docs {
			out[[2]string{d.Matter, d.FileID}] = true
		}
	}
	return out
}

// openElsewhere is a document open on another device, at its local path.
type openElsewhere struct {
	doc  api.OpenDocument // the earliest open, if several
	file index.File
}

// wanted returns the documents of p.others that have a local copy, by
// local path.
func (p *presenceMgr) wanted(ctx context.Context) map[string]openElsewhere {
	others := p.others
	// Offline for long: nothing says the documents are still open, and a
	// copy must not stay read-only for good.
	if !p.listAt.IsZero() && time.Since(p.listAt) > p.markStale() {
		others = nil
	}
	folders := map[string]index.Matter{}
	for _, m := range p.activeMatters(ctx) {
		folders[m.ID] = m
	}
	want := map[string]openElsewhere{}
	for _, d := range others {
		m, ok := folders[d.Matter]
		if !ok {
			continue
		}
		f, err := p.a.idx.FileByID(ctx, d.Matter, d.FileID)
		if err != nil {
			continue
		}
		lp, err := localPath(filepath.Join(p.a.cfg.Root, m.Folder), f.Path)
		if err != nil {
			continue
		}
		if cur, ok := want[lp]; !ok || d.Since.Before(cur.doc.Since) {
			want[lp] = openElsewhere{doc: d, file: f}
		}
	}
	return want
}

// markStale is how old the last word that a document is open elsewhere
// may be before its copy is made writable again: two TTLs (a presence not
// refreshed is gone by then) and a minute.
func (p *presenceMgr) markStale() time.Duration { return 2*p.ttl + time.Minute }

// restoreLeftMarks gives back their mode to the copies a previous run left
// marked read-only, for an agent without presence (its Remote has none):
// nothing would ever restore them else.
func (a *Agent) restoreLeftMarks(ctx context.Context) {
	p := newPresence(a, nil)
	p.loadMarks()
	if len(p.marks) > 0 {
		p.reconcile(ctx, true)
	}
}

// reconcile marks read-only the local copies of documents open elsewhere
// and gives the others their mode back (all of them when final: the agent
// is stopping). It never fights the user or the sync engine: a copy with
// local edits not yet uploaded, or open in an editor here, is not marked;
// a marked copy the user made writable again is left so; a copy a
// download replaced is marked again.
func (p *presenceMgr) reconcile(ctx context.Context, final bool) {
	want := map[string]openElsewhere{}
	if !final {
		want = p.wanted(ctx)
	}
	own := p.ownFiles()
	for lp, o := range want {
		if mk, marked := p.marks[lp]; marked {
			p.keepMarked(ctx, mk, o.file)
		} else if !own[[2]string{o.doc.Matter, o.doc.FileID}] {
			p.mark(lp, o.doc, o.file)
		}
	}
	changed := false
	for lp, mk := range p.marks {
		if _, ok := want[lp]; ok {
			// Still open: saved when confirmed a while after the last
			// save, so a crash leaves a time to judge the mark by.
			if p.listAt.Sub(mk.Confirmed) > p.ttl {
				mk.Confirmed, changed = p.listAt, true
			}
			continue
		}
		if p.listAt.IsZero() && !final && time.Since(mk.Confirmed) <= p.markStale() {
			// Not known yet (a start before the first answer): a mark the
			// last run confirmed recently stays until then.
			continue
		}
		// Closed (or expired): the previous mode back, unless the file is
		// another one now (then it is not ours to change).
		fi, err := os.Lstat(lp)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			p.a.log.Warn("cannot restore a copy's mode after a colleague closed it", "path", lp, "err", err)
			continue
		case mk.fi == nil || os.SameFile(fi, mk.fi) || p.isSynced(ctx, mk.Matter, mk.FileID, fi):
			if err := restoreWritable(lp, mk.Prev); err != nil {
				p.a.log.Warn("cannot restore a copy's mode after a colleague closed it", "path", lp, "err", err)
				continue
			}
			p.a.log.Info("document closed elsewhere: local copy writable again", "matter", mk.Matter, "path", lp)
		}
		delete(p.marks, lp)
		changed = true
	}
	if changed {
		p.saveMarks()
	}
	p.publishWith(want)
}

// mark makes the copy at lp read-only for d, unless it must not be.
func (p *presenceMgr) mark(lp string, d api.OpenDocument, f index.File) {
	fi, err := os.Lstat(lp)
	if err != nil || !fi.Mode().IsRegular() {
		return
	}
	if fi.Size() != f.Size || fi.ModTime().UnixNano() != f.MtimeNs {
		return // edited here and not uploaded yet: the user's work comes first
	}
	prev, marked, err := markReadOnly(lp)
	if err != nil {
		p.a.log.Warn("cannot mark a copy read-only while a colleague has it open", "path", lp, "err", err)
		return
	}
	if !marked {
		return // read-only already: nothing to restore later
	}
	fi, _ = os.Lstat(lp)
	p.marks[lp] = &fileMark{Path: lp, Matter: d.Matter, FileID: d.FileID, Prev: prev, fi: fi, Confirmed: p.listAt}
	p.saveMarks()
	p.a.log.Info("document open elsewhere: local copy read-only until it is closed", "matter", d.Matter, "path", f.Path, "user", d.User, "device", d.Device)
}

// keepMarked marks again a copy a download replaced; a copy the user made
// writable again is theirs (the mark is dropped, nothing restored later).
func (p *presenceMgr) keepMarked(ctx context.Context, mk *fileMark, f index.File) {
	fi, err := os.Lstat(mk.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			delete(p.marks, mk.Path)
			p.saveMarks()
		}
		return
	}
	ro, err := readOnlyNow(mk.Path)
	if err != nil {
		return
	}
	same := mk.fi != nil && os.SameFile(fi, mk.fi)
	switch {
	case ro:
		mk.fi = fi // still marked (a download keeps the mark, local.go)
	case same || mk.fi == nil || !p.isSynced(ctx, f.Matter, f.FileID, fi):
		// Made writable by the user, or replaced by the user's own edit.
		p.a.log.Info("a copy marked read-only was made writable here: left so", "path", mk.Path)
		delete(p.marks, mk.Path)
		p.saveMarks()
	default:
		// Replaced by a download: the new content is marked too.
		if _, _, err := markReadOnly(mk.Path); err == nil {
			mk.fi, _ = os.Lstat(mk.Path)
		}
	}
}

// isSynced reports whether fi is the synced version of the file (the
// index's size and time), not a local edit.
func (p *presenceMgr) isSynced(ctx context.Context, matter, fileID string, fi fs.FileInfo) bool {
	f, err := p.a.idx.FileByID(ctx, matter, fileID)
	return err == nil && fi.Size() == f.Size && fi.ModTime().UnixNano() == f.MtimeNs
}

// localPath is the absolute local path of rel in the matter folder dir.
func localPath(dir, rel string) (string, error) {
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		return "", errors.New("not a local path")
	}
	return filepath.Join(dir, filepath.FromSlash(rel)), nil
}

// publish puts the open documents on the status board.
func (p *presenceMgr) publish() { p.publishWith(p.wanted(context.Background())) }

func (p *presenceMgr) publishWith(want map[string]openElsewhere) {
	var out []OpenFile
	for lp, o := range want {
		_, marked := p.marks[lp]
		out = append(out, OpenFile{Matter: o.doc.Matter, Path: o.file.Path, User: o.doc.User, Device: o.doc.Device, Since: o.doc.Since, ReadOnly: marked})
	}
	for _, docs := range p.own {
		for _, d := range docs {
			if d.open {
				out = append(out, OpenFile{Matter: d.Matter, Path: d.Rel, User: p.a.user, Device: p.a.cfg.DeviceName, Since: d.Since, Mine: true})
			}
		}
	}
	slices.SortFunc(out, func(x, y OpenFile) int {
		return strings.Compare(x.Matter+"\x00"+x.Path, y.Matter+"\x00"+y.Path)
	})
	p.a.board.update(func(s *Status) { s.Open = out })
}

// loadMarks reads the marks a previous run left (a crash, or a stop
// before it could restore them).
func (p *presenceMgr) loadMarks() {
	b, err := os.ReadFile(filepath.Join(p.a.cfg.DataDir, presenceMarksFile))
	if err != nil {
		return
	}
	var marks []*fileMark
	if err := json.Unmarshal(b, &marks); err != nil {
		p.a.log.Warn("presence marks unreadable: copies a crash left read-only stay so", "err", err)
		return
	}
	for _, mk := range marks {
		if filepath.IsAbs(mk.Path) {
			p.marks[mk.Path] = mk
		}
	}
}

// saveMarks writes the marks whole (temp file, fsync, rename).
func (p *presenceMgr) saveMarks() {
	marks := make([]*fileMark, 0, len(p.marks))
	for _, mk := range p.marks {
		marks = append(marks, mk)
	}
	b, _ := json.Marshal(marks)
	if err := WriteFileAtomic(filepath.Join(p.a.cfg.DataDir, presenceMarksFile), b, 0o600); err != nil {
		p.a.log.Warn("presence marks not saved", "err", err)
	}
}
