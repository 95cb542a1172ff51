package agent

// Selective sync (docs/AGENT.md, "Which matters are on this laptop"). IT
// sets the default in the config (sync_matters: all, none or a list of
// matter IDs); the user adds or removes matters (`mattersync matters
// add|remove`), kept in matters.json in the data dir. A matter removed
// from this laptop keeps being synced until every local change in it is
// uploaded; only then is its folder deleted (the index forgets its files,
// so nothing is ever sent as a delete, and adding it back downloads it
// afresh).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/kms"
)

// MatterSelection is the firm's default of which matters a laptop syncs:
// all of the user's (the default), none, or those listed.
type MatterSelection struct {
	None bool
	List []string // with None false: only these; empty: all
}

// UnmarshalYAML accepts "all", "none" or a list of matter IDs.
func (s *MatterSelection) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.Value {
		case "all":
			*s = MatterSelection{}
		case "none":
			*s = MatterSelection{None: true}
		default:
			return fmt.Errorf("line %d: sync_matters %q must be all, none or a list of matter IDs", n.Line, n.Value)
		}
		return nil
	case yaml.SequenceNode:
		var ids []string
		if err := n.Decode(&ids); err != nil {
			return err
		}
		if len(ids) == 0 {
			return fmt.Errorf("line %d: sync_matters is an empty list: write none", n.Line)
		}
		*s = MatterSelection{List: ids}
		return nil
	}
	return fmt.Errorf("line %d: sync_matters must be all, none or a list of matter IDs", n.Line)
}

// MarshalYAML writes the selection back as UnmarshalYAML reads it.
func (s MatterSelection) MarshalYAML() (any, error) {
	switch {
	case s.None:
		return "none", nil
	case len(s.List) == 0:
		return "all", nil
	}
	return s.List, nil
}

func (s MatterSelection) validate() error {
	var errs []error
	for _, id := range s.List {
		if err := format.ValidateMatterID(id); err != nil {
			errs = append(errs, fmt.Errorf("sync_matters: %q: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// includes reports whether the default syncs matter.
func (s MatterSelection) includes(matter string) bool {
	switch {
	case s.None:
		return false
	case len(s.List) == 0:
		return true
	}
	return slices.Contains(s.List, matter)
}

// matterChoicesFile, in the data dir, holds the user's choices over the
// firm's default.
const matterChoicesFile = "matters.json"

// MatterChoices are the user's own choices: matters added to, or removed
// from, this laptop whatever the firm's default says.
type MatterChoices struct {
	Add    []string `json:"add"`
	Remove []string `json:"remove"`
}

// LoadMatterChoices reads the user's choices (none yet: empty).
func LoadMatterChoices(dataDir string) (MatterChoices, error) {
	var c MatterChoices
	b, err := os.ReadFile(filepath.Join(dataDir, matterChoicesFile))
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("matter choices: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("matter choices %s: %w", filepath.Join(dataDir, matterChoicesFile), err)
	}
	return c, nil
}

// ChooseMatter records that matter is to be on this laptop (on) or not,
// whatever the firm's default; a running agent acts on it within seconds.
func ChooseMatter(dataDir, matter string, on bool) error {
	if err := format.ValidateMatterID(matter); err != nil {
		return fmt.Errorf("matter %q: %w", matter, err)
	}
	c, err := LoadMatterChoices(dataDir)
	if err != nil {
		return err
	}
	c.Add = slices.DeleteFunc(c.Add, func(m string) bool { return m == matter })
	c.Remove = slices.DeleteFunc(c.Remove, func(m string) bool { return m == matter })
	if on {
		c.Add = append(c.Add, matter)
	} else {
		c.Remove = append(c.Remove, matter)
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dataDir, matterChoicesFile), b, 0o600)
}

// Selected reports whether matter is to be on this laptop.
func (c MatterChoices) Selected(def MatterSelection, matter string) bool {
	switch {
	case slices.Contains(c.Remove, matter):
		return false
	case slices.Contains(c.Add, matter):
		return true
	}
	return def.includes(matter)
}

// unselectedState is a matter's state (index and status) while it is not
// on this laptop by choice.
const unselectedState = "unselected"

// choicesChanged reports whether the choices file changed since the last
// call (its modification time), so Run lists the matters again at once.
func (a *Agent) choicesChanged() bool {
	var mt time.Time
	if fi, err := os.Stat(filepath.Join(a.cfg.DataDir, matterChoicesFile)); err == nil {
		mt = fi.ModTime()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	changed := !mt.Equal(a.choicesTime)
	a.choicesTime = mt
	return changed
}

// leave takes the matters the user no longer wants here off this laptop:
// a full pass first (every local change uploaded; a leaving matter's
// passes never send a delete), then, only if nothing in the folder is left
// unsynced, the folder goes and the index forgets the matter's files.
// Otherwise the folder stays and status says why; the next refresh tries
// again.
//
// The folder is first renamed to <root>/.mattersync-leaving-<id>, in one
// step: on Windows that fails while a file in it is open, so a removal
// never stops half-way in the folder the index describes (a later pass
// would see the files already gone as deletes). The renamed tree is
// checked again (a save between the check and the rename), the index rows
// reset, and only then is it deleted; a mismatch renames it back.
func (a *Agent) leave(ctx context.Context, ms []*matterSync) {
	for _, m := range ms {
		if ctx.Err() != nil {
			return
		}
		m.leaving = true
		if _, err := a.syncMatter(ctx, m, true, nil); err != nil {
			a.leaveRefused(ctx, m, fmt.Sprintf("its local changes could not be uploaded yet (%s)", explainOr(err)))
			continue
		}
		if why, err := a.leaveCheck(ctx, m, m.dir); err != nil || why != "" {
			if err != nil {
				why = "its folder could not be checked: " + err.Error()
			}
			a.leaveRefused(ctx, m, why)
			continue
		}
		gone := leavingDir(a.cfg.Root, m.id)
		if err := os.Rename(m.dir, gone); err != nil {
			a.leaveRefused(ctx, m, "its folder could not be moved away, a file in it may be open (close it first): "+err.Error())
			continue
		}
		why, err := a.leaveCheck(ctx, m, gone)
		if err == nil && why == "" {
			err = a.idx.ResetMatter(ctx, m.id)
		}
		if err != nil || why != "" {
			if err != nil {
				why = "its folder could not be checked: " + err.Error()
			}
			if rerr := os.Rename(gone, m.dir); rerr != nil {
				a.log.Error("matter folder could not be put back after a refused removal", "matter", m.id, "from", gone, "to", m.dir, "err", rerr)
				why += fmt.Sprintf("; the folder is now %q (putting it back failed: %v)", gone, rerr)
			}
			a.leaveRefused(ctx, m, why)
			continue
		}
		_ = a.idx.SetMatterState(ctx, m.id, unselectedState)
		if err := os.RemoveAll(gone); err != nil {
			// Nothing in it is unsynced and the index forgot it: what is
			// left is deleted on a later refresh (unselected).
			a.log.Warn("matter removed from this laptop but its folder not wholly deleted: retried", "matter", m.id, "folder", gone, "err", err)
		}
		a.log.Info("matter removed from this laptop: every local change was uploaded, the folder deleted", "matter", m.id, "folder", m.dir)
		a.board.matter(m.id, func(s *MatterStatus) {
			s.State, s.Queue, s.Errors = unselectedState, 0, nil
		})
	}
}

// leaveRefused says why a matter the user removed is still here.
func (a *Agent) leaveRefused(ctx context.Context, m *matterSync, why string) {
	msg := fmt.Sprintf("Matter %s: not removed from this laptop yet: %s; the folder is deleted once every local change is uploaded (mattersync tries again every minute)", m.id, why)
	a.log.Warn("matter not removed from this laptop yet", "matter", m.id, "why", why)
	_ = a.idx.SetSyncResult(context.WithoutCancel(ctx), m.id, time.Now(), msg)
	a.board.matter(m.id, func(s *MatterStatus) {
		s.State, s.Errors = "leaving", []string{msg}
	})
}

// leavingDir is where the folder of a matter being taken off this laptop
// is moved before it is deleted (hidden, and ignored by every pass).
func leavingDir(root, id string) string {
	return filepath.Join(root, ".mattersync-leaving-"+id)
}

// leaveCheck says, in words, why dir (m's folder) must not be deleted yet,
// or "" when everything in it is synced.
func (a *Agent) leaveCheck(ctx context.Context, m *matterSync, dir string) (string, error) {
	left, open, kept, err := a.unsyncedFiles(ctx, m, dir)
	if err != nil {
		return "", err
	}
	list := func(names []string) string {
		more := ""
		if len(names) > 3 {
			more = fmt.Sprintf(" and %d more", len(names)-3)
		}
		return strings.Join(names[:min(len(names), 3)], ", ") + more
	}
	switch {
	case len(open) > 0:
		return fmt.Sprintf("a document in it is open: close %s first", list(open)), nil
	case len(left) > 0:
		why := fmt.Sprintf("%d files are not uploaded (%s)", len(left), list(left))
		if m.role != kms.RoleRW {
			why += ": the matter is read-only for you, so they never will be; move them out of the folder"
		}
		return why, nil
	case len(kept) > 0:
		return fmt.Sprintf("%d files in it are never synced (temporary or excluded files: %s): move them out of the folder, or delete them if not needed", len(kept), list(kept)), nil
	}
	return "", nil
}

// removableIgnored are ignored names deleted with a folder without asking:
// the system's own metadata, and the agent's (trash, temp files: what the
// trash holds is kept on the gateway as versions).
func removableIgnored(name string) bool {
	ln := strings.ToLower(name)
	return ln == ".ds_store" || ln == "thumbs.db" || ln == "desktop.ini" || strings.HasPrefix(ln, "._") ||
		strings.HasPrefix(ln, ".mattersync")
}

// unsyncedFiles lists, relative to dir (m's folder, or where it was moved
// to be deleted), the files that are not as last synced (left: new,
// edited, conflict copies not uploaded), the documents open in an editor
// (open: the documents an owner or lock file stands for, unsaved work may
// be in it), and the ignored files never uploaded that would be lost with
// the folder (kept: temp files, Word autosaves, the firm's exclusions).
func (a *Agent) unsyncedFiles(ctx context.Context, m *matterSync, dir string) (left, open, kept []string, err error) {
	rows, err := a.idx.Files(ctx, m.id)
	if err != nil {
		return nil, nil, nil, err
	}
	known := make(map[string]index.File, len(rows))
	for _, f := range rows {
		known[f.Path] = f
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		name := d.Name()
		if a.ignore.Match(name) || strings.HasPrefix(name, ".mattersync") {
			switch {
			case removableIgnored(name):
			case strings.HasPrefix(name, "~$") || strings.HasPrefix(name, ".~lock."):
				doc := name
				if ents, rerr := os.ReadDir(filepath.Dir(p)); rerr == nil {
					var names []string
					for _, e := range ents {
						names = append(names, e.Name())
					}
					if t := lockTargets(name, names); len(t) > 0 {
						doc = t[0]
					}
				}
				open = append(open, path.Join(path.Dir(rel), doc))
			default:
				kept = append(kept, rel)
			}
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		norm, err := format.NormalizePath(rel)
		f, ok := known[norm]
		if err != nil || !ok || f.Size != fi.Size() || f.MtimeNs != fi.ModTime().UnixNano() {
			left = append(left, rel)
		}
		return nil
	})
	slices.Sort(left)
	slices.Sort(open)
	slices.Sort(kept)
	return left, open, kept, err
}

// unselected handles a matter of the user's that is not to be on this
// laptop: it returns the matter to take off (leave) if its folder is still
// here, else nil after showing it in status as not on this laptop.
func (a *Agent) unselected(ctx context.Context, m kms.Matter, known index.Matter) *matterSync {
	folder := known.Folder
	if folder == "" {
		folder = MatterFolder(m.ID, m.Name)
	}
	dir := filepath.Join(a.cfg.Root, folder)
	gone := leavingDir(a.cfg.Root, m.ID)
	if _, err := os.Lstat(gone); err == nil {
		if known.State == unselectedState {
			// Checked, and the index forgot it, before its deletion failed.
			if err := os.RemoveAll(gone); err != nil {
				a.log.Warn("the folder of a matter removed from this laptop is not wholly deleted yet: retried", "matter", m.ID, "folder", gone, "err", err)
			}
		} else if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) && known.ID != "" {
			// A removal interrupted before the check: put it back.
			if err := os.Rename(gone, dir); err != nil {
				a.log.Error("the folder of a matter being removed could not be put back", "matter", m.ID, "from", gone, "err", err)
			}
		}
	}
	if _, err := os.Lstat(dir); err == nil && known.ID != "" && known.State != unselectedState {
		return &matterSync{a: a, id: m.ID, name: m.Name, role: m.Role, dir: dir, leaving: true}
	}
	if known.ID != "" && known.State != unselectedState {
		_ = a.idx.ResetMatter(ctx, m.ID)
		_ = a.idx.SetMatterState(ctx, m.ID, unselectedState)
	}
	a.board.matter(m.ID, func(s *MatterStatus) {
		s.Name, s.Role, s.Folder, s.State, s.Queue, s.Errors = m.Name, string(m.Role), "", unselectedState, 0, nil
	})
	return nil
}

// MatterInfo is one of the user's matters as `mattersync matters` lists
// it.
type MatterInfo struct {
	ID, Name, Role string
	// Selected: the matter is to be on this laptop (the firm's default and
	// the user's choices); Here: its folder is on this laptop now.
	Selected, Here bool
	State          string // the agent's state for it (unselected, leaving, idle, ...)
	Files          int    // synced files here
	Bytes          int64  // their size
}

// MatterList lists the user's matters (from Vault) with whether each is on
// this laptop and the size of what is synced here.
func (a *Agent) MatterList(ctx context.Context) ([]MatterInfo, error) {
	list, err := a.keys.Matters(ctx)
	if err != nil {
		return nil, fmt.Errorf("list matters: %w", err)
	}
	known, err := a.idx.Matters(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[string]index.Matter{}
	for _, m := range known {
		byID[m.ID] = m
	}
	choices, err := LoadMatterChoices(a.cfg.DataDir)
	if err != nil {
		return nil, err
	}
	var out []MatterInfo
	for _, m := range list {
		mi := MatterInfo{ID: m.ID, Name: m.Name, Role: string(m.Role), Selected: choices.Selected(a.cfg.SyncMatters, m.ID)}
		if k, ok := byID[m.ID]; ok {
			mi.State = k.State
			if _, err := os.Lstat(filepath.Join(a.cfg.Root, k.Folder)); err == nil && k.Folder != "" && k.State != unselectedState {
				mi.Here = true
			}
			files, err := a.idx.Files(ctx, m.ID)
			if err != nil {
				return nil, err
			}
			for _, f := range files {
				mi.Files++
				mi.Bytes += f.Size
			}
		}
		out = append(out, mi)
	}
	slices.SortFunc(out, func(x, y MatterInfo) int { return strings.Compare(x.ID, y.ID) })
	return out, nil
}
