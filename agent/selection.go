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
// a full pass first (every local change uploaded), then, only if nothing
// in the folder is left unsynced, the folder goes and the index forgets
// the matter's files. Otherwise the folder stays and status says why; the
// next refresh tries again.
func (a *Agent) leave(ctx context.Context, ms []*matterSync) {
	for _, m := range ms {
		if ctx.Err() != nil {
			return
		}
		if _, err := a.syncMatter(ctx, m, true, nil); err != nil {
			a.leaveRefused(ctx, m, fmt.Sprintf("its local changes could not be uploaded yet (%s)", explainOr(err)))
			continue
		}
		left, err := a.unsyncedFiles(ctx, m)
		if err != nil {
			a.leaveRefused(ctx, m, "its folder could not be checked: "+err.Error())
			continue
		}
		if len(left) > 0 {
			shown := left[:min(len(left), 3)]
			more := ""
			if len(left) > 3 {
				more = fmt.Sprintf(" and %d more", len(left)-3)
			}
			why := fmt.Sprintf("%d files are not uploaded (%s%s)", len(left), strings.Join(shown, ", "), more)
			if m.role != kms.RoleRW {
				why += ": the matter is read-only for you, so they never will be; move them out of the folder"
			}
			a.leaveRefused(ctx, m, why)
			continue
		}
		if err := os.RemoveAll(m.dir); err != nil {
			a.leaveRefused(ctx, m, "its folder could not be deleted: "+err.Error())
			continue
		}
		if err := a.idx.ResetMatter(ctx, m.id); err != nil {
			a.log.Error("matter removed from this laptop but its index rows not", "matter", m.id, "err", err)
		}
		_ = a.idx.SetMatterState(ctx, m.id, unselectedState)
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

// unsyncedFiles lists, relative to the folder, the files in m's folder
// that are not as last synced (new, edited, conflict copies not uploaded).
func (a *Agent) unsyncedFiles(ctx context.Context, m *matterSync) ([]string, error) {
	rows, err := a.idx.Files(ctx, m.id)
	if err != nil {
		return nil, err
	}
	known := make(map[string]index.File, len(rows))
	for _, f := range rows {
		known[f.Path] = f
	}
	var out []string
	err = filepath.WalkDir(m.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == m.dir {
			return nil
		}
		if a.ignore.Match(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(m.dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		norm, err := format.NormalizePath(rel)
		f, ok := known[norm]
		if err != nil || !ok || f.Size != fi.Size() || f.MtimeNs != fi.ModTime().UnixNano() {
			out = append(out, rel)
		}
		return nil
	})
	slices.Sort(out)
	return out, err
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
	if _, err := os.Lstat(dir); err == nil && known.ID != "" && known.State != unselectedState {
		return &matterSync{a: a, id: m.ID, name: m.Name, role: m.Role, dir: dir}
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
