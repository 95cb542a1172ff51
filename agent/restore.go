package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
)

// matterLocks serializes, per matter, the passes of its loop with what the
// status page does to the same folder (a restore, a conflict settled): one
// writer per matter folder, always.
type matterLocks struct {
	mu sync.Mutex // guards m
	m  map[string]*sync.Mutex
}

// lock takes the matter's lock and returns its release.
func (l *matterLocks) lock(matter string) func() {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*sync.Mutex{}
	}
	mu := l.m[matter]
	if mu == nil {
		mu = &sync.Mutex{}
		l.m[matter] = mu
	}
	l.mu.Unlock()
	mu.Lock()
	return mu.Unlock
}

// matterByID returns a synced matter by ID, for the actions that name a
// matter rather than a local path (the status page).
func (a *Agent) matterByID(ctx context.Context, id string) (*matterSync, error) {
	ms, err := a.idx.Matters(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if m.ID == id && m.State == "active" {
			return &matterSync{a: a, id: m.ID, name: m.Name, role: roleOf(m), dir: a.matterDir(m)}, nil
		}
	}
	return nil, fmt.Errorf("matter %s is not synced on this computer", SafeText(id))
}

func (a *Agent) matterDir(m index.Matter) string { return filepath.Join(a.cfg.Root, m.Folder) }

// cleanRel normalizes a matter-relative path given by a person or a form:
// "" (or "/", ".") is the matter folder itself.
func cleanRel(rel string) (string, error) {
	rel = strings.Trim(strings.ReplaceAll(rel, "\\", "/"), "/")
	if rel == "" || rel == "." {
		return "", nil
	}
	return format.NormalizePath(rel)
}

// FileVersions lists the stored versions of a file named by matter and
// matter-relative path (it need not exist locally), newest first.
func (a *Agent) FileVersions(ctx context.Context, matter, rel string) ([]VersionInfo, error) {
	m, err := a.matterByID(ctx, matter)
	if err != nil {
		return nil, err
	}
	if rel, err = cleanRel(rel); err != nil || rel == "" {
		return nil, fmt.Errorf("%q does not name a file: %w", rel, err)
	}
	return a.versionsOf(ctx, m, rel)
}

// RestoreVersion brings back version of the file at rel in matter as its
// newest version (see Restore), serialized with the matter's sync passes.
func (a *Agent) RestoreVersion(ctx context.Context, matter, rel string, version int64) (int64, error) {
	m, err := a.matterByID(ctx, matter)
	if err != nil {
		return 0, err
	}
	if rel, err = cleanRel(rel); err != nil || rel == "" {
		return 0, fmt.Errorf("%q does not name a file: %w", rel, err)
	}
	return a.restoreIn(ctx, m, rel, version)
}

// FolderEntry is one file of a folder as it was at a time (FolderAt).
type FolderEntry struct {
	Path   string // matter-relative, '/'-separated, as sealed (display with SafeText)
	FileID string
	// Version is the file's version at the time; Deleted: that version
	// is a delete (the file did not exist then, but had before).
	Version int64
	Deleted bool
	Time    time.Time // when Version was committed
	Size    uint64    // 0 when Deleted
	// Name and Device are who wrote Version (SafeText applied); "" when
	// the listing did not open the version (a file as it is now, equal to
	// this computer's copy).
	Name, Device string
	// Head is the file's newest version now; HeadDeleted: it is a delete.
	Head        int64
	HeadDeleted bool
}

// Changed reports whether the file differs now from how it was at the
// time of the listing.
func (e FolderEntry) Changed() bool { return e.Version != e.Head }

// FolderView is a folder of a matter (and everything below it) as it was
// at a time.
type FolderView struct {
	Matter, Dir string
	At          time.Time // zero: now
	// Files are the files below Dir that had a version at At, live or
	// deleted, sorted by path.
	Files []FolderEntry
	// Later are the paths of files below Dir made after At.
	Later []string
}

// FolderAt lists the files below dir ("" for the whole matter) of matter as
// they were at at (zero: now), deleted files included: the gateway keeps
// every version, so a folder can be browsed as it was on any date. The
// gateway knows files only by ID: the change feed names every file of the
// matter, and each file's path comes from this computer's index or from
// its sealed manifest.
func (a *Agent) FolderAt(ctx context.Context, matter, dir string, at time.Time) (FolderView, error) {
	view := FolderView{Matter: matter, At: at}
	m, err := a.matterByID(ctx, matter)
	if err != nil {
		return view, err
	}
	if view.Dir, err = cleanRel(dir); err != nil {
		return view, fmt.Errorf("folder %q: %w", dir, err)
	}
	mk, err := loadMatterKeys(ctx, a.keys, m.id)
	if err != nil {
		return view, err
	}
	heads, err := a.fileHeads(ctx, m.id)
	if err != nil {
		return view, err
	}
	for _, fid := range slices.Sorted(func(yield func(string) bool) {
		for k := range heads {
			if !yield(k) {
				return
			}
		}
	}) {
		c := heads[fid]
		e, err := a.folderEntry(ctx, m, mk, c, view.Dir, at)
		switch {
		case errors.Is(err, errNotBelow):
			continue
		case errors.Is(err, errNotYet):
			view.Later = append(view.Later, e.Path)
			continue
		case err != nil:
			return view, fmt.Errorf("file %s: %w", fid, err)
		}
		view.Files = append(view.Files, e)
	}
	slices.SortFunc(view.Files, func(x, y FolderEntry) int { return strings.Compare(x.Path, y.Path) })
	slices.Sort(view.Later)
	return view, nil
}

var (
	errNotBelow = errors.New("not below the folder")
	errNotYet   = errors.New("made after the time asked for")
)

// fileHeads reads the matter's whole change feed: the newest change of every
// file the matter ever had, by file ID.
func (a *Agent) fileHeads(ctx context.Context, matter string) (map[string]api.Change, error) {
	heads := map[string]api.Change{}
	since := int64(0)
	for {
		page, err := a.remote.Changes(ctx, matter, since, 0)
		if err != nil {
			return nil, fmt.Errorf("change feed: %w", err)
		}
		for _, c := range page.Changes {
			if c.Version >= heads[c.FileID].Version {
				heads[c.FileID] = c
			}
			since = max(since, c.Seq)
		}
		if !page.More || len(page.Changes) == 0 {
			return heads, nil
		}
	}
}

// folderEntry describes the file of change c as it was at at, or returns
// errNotBelow (not in dir) or errNotYet (made after at; e.Path set).
func (a *Agent) folderEntry(ctx context.Context, m *matterSync, mk *matterKeys, c api.Change, dir string, at time.Time) (FolderEntry, error) {
	e := FolderEntry{FileID: c.FileID, Head: c.Version, HeadDeleted: c.Deleted}
	fid, err := format.ParseID(c.FileID)
	if err != nil {
		return e, fmt.Errorf("%w: %w", format.ErrMalformed, err)
	}
	// The path: this computer's index knows every file it has; others
	// (deleted, or not yet pulled) from the head's sealed manifest.
	var headMan *format.Manifest
	var headFV api.FileVersion
	row, err := a.idx.FileByID(ctx, m.id, c.FileID)
	switch {
	case err == nil:
		e.Path = row.Path
	case errors.Is(err, index.ErrNotFound):
		if headFV, err = a.remote.File(ctx, m.id, c.FileID, c.Version); err != nil {
			return e, err
		}
		if headMan, _, err = mk.openVersion(ctx, headFV, fid, uint64(c.Version)); err != nil {
			return e, err
		}
		e.Path = headMan.Path
	default:
		return e, err
	}
	if dir != "" && !strings.HasPrefix(e.Path, dir+"/") {
		return e, errNotBelow
	}
	e.Version, e.Deleted = c.Version, c.Deleted
	if !at.IsZero() {
		vs, err := a.remote.Versions(ctx, m.id, c.FileID)
		if err != nil {
			return e, err
		}
		e.Version = 0
		for _, v := range vs.Versions {
			if !v.Time.After(at) && v.Version > e.Version {
				e.Version, e.Deleted, e.Time = v.Version, v.Deleted, v.Time
			}
		}
		if e.Version == 0 {
			return e, errNotYet
		}
	}
	if at.IsZero() && err == nil && headMan == nil && row.Version == uint64(c.Version) && !c.Deleted {
		// As it is now, equal to this computer's copy: no need to ask.
		e.Size = uint64(row.Size)
		return e, nil
	}
	fv, man := headFV, headMan
	if man == nil || e.Version != c.Version {
		if fv, err = a.remote.File(ctx, m.id, c.FileID, e.Version); err != nil {
			return e, err
		}
		if man, _, err = mk.openVersion(ctx, fv, fid, uint64(e.Version)); err != nil {
			return e, err
		}
	}
	e.Time, e.Deleted = fv.Time, man.Deleted
	e.Name, e.Device = a.authorName(man.Author, fv.AuthorEntity, fv.AuthorName), SafeText(man.Device)
	if !man.Deleted {
		e.Size = man.Size
	}
	return e, nil
}

// FolderRestore is what RestoreFolderAt did.
type FolderRestore struct {
	Restored  []string // "path: version N restored as version M"
	Unchanged int      // files the same now as then
	// Left are files left alone: made after the time (or deleted then and
	// made again since). A restore never deletes.
	Left   []string
	Failed []string // "path: why"
}

// RestoreFolderAt brings every file below dir back to how it was at at:
// each file changed or deleted since is restored as a new version (an
// ordinary commit, see Restore). Files made since are left alone: a
// restore adds versions and never deletes, so a legal hold does not
// stop it and nothing of the newer work is lost.
func (a *Agent) RestoreFolderAt(ctx context.Context, matter, dir string, at time.Time) (FolderRestore, error) {
	var out FolderRestore
	if at.IsZero() {
		return out, errors.New("restore of a folder needs the date and time to go back to")
	}
	view, err := a.FolderAt(ctx, matter, dir, at)
	if err != nil {
		return out, err
	}
	out.Left = view.Later
	for _, e := range view.Files {
		switch {
		case e.Deleted:
			if !e.HeadDeleted {
				out.Left = append(out.Left, e.Path)
			}
			continue
		case !e.Changed():
			out.Unchanged++
			continue
		}
		v, err := a.RestoreVersion(ctx, matter, e.Path, e.Version)
		if err != nil {
			if ctx.Err() != nil {
				return out, err
			}
			out.Failed = append(out.Failed, fmt.Sprintf("%s: %v", SafeText(e.Path), err))
			continue
		}
		out.Restored = append(out.Restored, fmt.Sprintf("%s: version %d restored as version %d", SafeText(e.Path), e.Version, v))
	}
	if len(out.Failed) > 0 {
		return out, fmt.Errorf("%d of the folder's files could not be restored", len(out.Failed))
	}
	return out, nil
}

// childOf returns the name of the entry directly below dir on the way to
// rel, and whether it is a folder.
func childOf(dir, rel string) (string, bool) {
	rest := rel
	if dir != "" {
		rest = strings.TrimPrefix(rel, dir+"/")
	}
	name, _, more := strings.Cut(rest, "/")
	return name, more
}

// FolderAtPath is FolderAt for a local folder path: a matter folder or a
// folder in one (it need not exist locally any more).
func (a *Agent) FolderAtPath(ctx context.Context, dir string, at time.Time) (FolderView, error) {
	matter, rel, err := a.folderOf(ctx, dir)
	if err != nil {
		return FolderView{}, err
	}
	return a.FolderAt(ctx, matter, rel, at)
}

// RestoreFolderAtPath is RestoreFolderAt for a local folder path.
func (a *Agent) RestoreFolderAtPath(ctx context.Context, dir string, at time.Time) (FolderRestore, error) {
	matter, rel, err := a.folderOf(ctx, dir)
	if err != nil {
		return FolderRestore{}, err
	}
	return a.RestoreFolderAt(ctx, matter, rel, at)
}

// folderOf finds the matter and matter-relative folder of a local path.
func (a *Agent) folderOf(ctx context.Context, dir string) (string, string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", "", err
	}
	rel, err := filepath.Rel(a.cfg.Root, abs)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return "", "", fmt.Errorf("%s is not a folder inside the matters folder %s", abs, a.cfg.Root)
	}
	folder, rest, _ := strings.Cut(filepath.ToSlash(rel), "/")
	ms, err := a.idx.Matters(ctx)
	if err != nil {
		return "", "", err
	}
	for _, m := range ms {
		if m.Folder == folder && m.State == "active" {
			rest, err := cleanRel(rest)
			return m.ID, rest, err
		}
	}
	return "", "", fmt.Errorf("%s is not in a synced matter folder", abs)
}
