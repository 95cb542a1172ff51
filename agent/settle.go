package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/kms"
)

// Keep is how a conflict is settled: which side keeps the file's name.
type Keep string

const (
	// KeepMine: the conflict copy (the edit made on this computer) becomes
	// the file's newest version; the copy goes.
	KeepMine Keep = "mine"
	// KeepTheirs: the version that kept the name stays; the copy goes to
	// the matter's trash (and, if it was synced, is deleted for everyone).
	KeepTheirs Keep = "theirs"
	// KeepBoth: both files stay as they are; the conflict is only marked
	// settled.
	KeepBoth Keep = "both"
)

// ConflictInfo is a conflict copy this agent made, for the status page.
type ConflictInfo struct {
	index.Conflict
	// CopyExists: the copy is still in the matter folder (the user may
	// have deleted or renamed it since).
	CopyExists bool
	// ReadOnly: the user may only read the matter, so "keep mine" cannot
	// be committed.
	ReadOnly bool
}

// Conflicts lists the conflict copies not yet settled in the matters this
// computer syncs, newest first.
func (a *Agent) Conflicts(ctx context.Context) ([]ConflictInfo, error) {
	cs, err := a.idx.Conflicts(ctx)
	if err != nil {
		return nil, err
	}
	ms, err := a.idx.Matters(ctx)
	if err != nil {
		return nil, err
	}
	active := map[string]index.Matter{}
	for _, m := range ms {
		if m.State == "active" {
			active[m.ID] = m
		}
	}
	var out []ConflictInfo
	for _, c := range cs {
		m, ok := active[c.Matter]
		if !ok {
			continue
		}
		_, err := os.Lstat(filepath.Join(a.matterDir(m), filepath.FromSlash(c.Copy)))
		out = append(out, ConflictInfo{Conflict: c, CopyExists: err == nil, ReadOnly: roleOf(m) != kms.RoleRW})
	}
	return out, nil
}

// SettleConflict settles the conflict copy copyRel of matter the way keep
// says and returns a sentence saying what was done. It is an ordinary
// edit of the folder, done under the matter's lock with the same
// safeguards as a sync pass: keeping mine commits the copy's content on
// top of the file's newest version (a colleague's edit arriving meanwhile
// makes a new conflict copy, never a loss), and a copy that goes is moved
// to the matter's trash first. Every version stays on the gateway.
func (a *Agent) SettleConflict(ctx context.Context, matter, copyRel string, keep Keep) (string, error) {
	if keep != KeepMine && keep != KeepTheirs && keep != KeepBoth {
		return "", fmt.Errorf("unknown choice %q: keep mine, theirs or both", keep)
	}
	m, err := a.matterByID(ctx, matter)
	if err != nil {
		return "", err
	}
	cs, err := a.idx.Conflicts(ctx)
	if err != nil {
		return "", err
	}
	var c *index.Conflict
	for i := range cs {
		if cs[i].Matter == matter && cs[i].Copy == copyRel {
			c = &cs[i]
		}
	}
	if c == nil {
		return "", fmt.Errorf("%s is not an open conflict copy in matter %s (settled already?)", SafeText(copyRel), SafeText(matter))
	}
	if keep == KeepMine && m.role != kms.RoleRW {
		return "", errors.New("you may only read this matter: your copy cannot replace the file; keep both, or keep theirs")
	}
	done, err := a.settle(ctx, m, *c, keep)
	if err != nil {
		return "", err
	}
	if err := a.idx.DeleteConflict(ctx, matter, copyRel); err != nil {
		return "", err
	}
	if n, err := a.idx.ConflictCount(ctx, matter); err == nil {
		a.board.matter(matter, func(s *MatterStatus) { s.Conflicts = n })
	}
	a.log.Info("conflict settled", "matter", matter, "path", c.Path, "copy", copyRel, "keep", string(keep))
	return done, nil
}

func (a *Agent) settle(ctx context.Context, m *matterSync, c index.Conflict, keep Keep) (string, error) {
	name, cp := SafeText(c.Path), SafeText(c.Copy)
	if keep == KeepBoth {
		return fmt.Sprintf("Both kept: %s and %s stay as they are.", name, cp), nil
	}
	defer a.passes.lock(m.id)()
	var res passResult
	if err := m.openFolder(ctx, &res); err != nil {
		return "", err
	}
	defer m.closeFolder()
	mk, err := loadMatterKeys(ctx, a.keys, m.id)
	if err != nil {
		return "", err
	}
	// Bring the folder to the gateway's newest versions first, so
	// "theirs" is the newest and "mine" is committed on top of it.
	if err := m.pull(ctx, mk, &res); err != nil {
		return "", err
	}
	st, err := m.fs.lstat(c.Copy)
	if err != nil {
		return "", err
	}
	if !st.exists {
		return fmt.Sprintf("%s is no longer in the folder: nothing to do.", cp), nil
	}
	if keep == KeepMine {
		cur, err := m.fs.lstat(c.Path)
		if err != nil {
			return "", err
		}
		row, rowErr := a.idx.File(ctx, m.id, c.Path)
		if cur.exists && (rowErr != nil || !cur.matches(row.Size, row.MtimeNs)) {
			return "", fmt.Errorf("%s was changed on this computer after the conflict and is not synced yet: open both files and merge by hand, then choose keep both", name)
		}
		// The version that held the name stays on the gateway as the
		// version before this one: nothing is lost.
		if err := m.fs.rename(c.Copy, c.Path); err != nil {
			return "", err
		}
		if err := m.upload(ctx, mk, c.Path, &res); err != nil {
			return "", fmt.Errorf("your copy is now %s but was not synced yet (the next sync retries): %w", name, err)
		}
	} else if err := m.trash(c.Copy); err != nil {
		return "", err
	}
	// The copy is gone from the folder: if it was synced, delete it for
	// everyone (a legal hold refuses, and the copy comes back).
	if err := m.scan(ctx, mk, c.Copy, &res); err != nil {
		return "", err
	}
	back, err := m.fs.lstat(c.Copy)
	if err != nil {
		return "", err
	}
	msg := fmt.Sprintf("Kept theirs: %s stays; your copy %s went to the matter's trash (.mattersync/trash).", name, cp)
	if keep == KeepMine {
		msg = fmt.Sprintf("Kept yours: your copy is now %s, synced as its newest version; the other version stays restorable.", name)
		if res.conflicts > 0 {
			msg += " A colleague changed the file again meanwhile: their edit is now the file and yours a new conflict copy."
		}
	}
	if back.exists {
		msg += fmt.Sprintf(" The matter is on legal hold, which keeps every file: %s could not be deleted and stays.", cp)
	}
	return msg, nil
}
