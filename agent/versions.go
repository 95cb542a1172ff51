package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattersync/mattersync/agent/index"
	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/kms"
)

// VersionInfo describes one stored version of a file.
type VersionInfo struct {
	Version int64
	Deleted bool
	Time    time.Time // when the gateway committed it
	Size    uint64
	ModTime time.Time
	Author  string // Vault entity ID, as the writer sealed it (SafeText applied)
	Mine    bool   // Author is this agent's own entity
	// Name is how to show the author: "you", the committer's user name
	// the gateway recorded when it agrees with the sealed entity, else
	// the entity ID (SafeText applied).
	Name   string
	Device string // as the writer sealed it (SafeText applied)
}

// matterOf finds the matter and matter-relative path of a local path.
func (a *Agent) matterOf(ctx context.Context, abs string) (*matterSync, string, error) {
	abs, err := filepath.Abs(abs)
	if err != nil {
		return nil, "", err
	}
	rel, err := filepath.Rel(a.cfg.Root, abs)
	if err != nil || strings.HasPrefix(rel, "..") {
		return nil, "", fmt.Errorf("%s is not inside the matters folder %s", abs, a.cfg.Root)
	}
	folder, rest, _ := strings.Cut(filepath.ToSlash(rel), "/")
	ms, err := a.idx.Matters(ctx)
	if err != nil {
		return nil, "", err
	}
	for _, m := range ms {
		if m.Folder == folder && m.State == "active" {
			if rest == "" {
				return nil, "", fmt.Errorf("%s is a matter folder, not a file", abs)
			}
			norm, err := format.NormalizePath(rest)
			if err != nil {
				return nil, "", err
			}
			return &matterSync{a: a, id: m.ID, name: m.Name, role: roleOf(m), dir: filepath.Join(a.cfg.Root, m.Folder)}, norm, nil
		}
	}
	return nil, "", fmt.Errorf("%s is not in a synced matter folder", abs)
}

// Versions lists the stored versions of the file at a local path, newest
// first.
func (a *Agent) Versions(ctx context.Context, path string) ([]VersionInfo, error) {
	m, rel, err := a.matterOf(ctx, path)
	if err != nil {
		return nil, err
	}
	return a.versionsOf(ctx, m, rel)
}

// versionsOf lists the stored versions of the file at rel, newest first.
func (a *Agent) versionsOf(ctx context.Context, m *matterSync, rel string) ([]VersionInfo, error) {
	mk, err := loadMatterKeys(ctx, a.keys, m.id)
	if err != nil {
		return nil, err
	}
	fid, err := mk.fileIDs.FileID(rel)
	if err != nil {
		return nil, err
	}
	vs, err := a.remote.Versions(ctx, m.id, fid.String())
	if err != nil {
		return nil, err
	}
	var out []VersionInfo
	for _, v := range vs.Versions {
		info := VersionInfo{Version: v.Version, Deleted: v.Deleted, Time: v.Time}
		if v.Deleted {
			// No manifest is opened for a tombstone listed here: the
			// gateway's record is all there is.
			info.Name = a.authorName(v.AuthorEntity, v.AuthorEntity, v.AuthorName)
		}
		if !v.Deleted {
			fv, err := a.remote.File(ctx, m.id, fid.String(), v.Version)
			if err != nil {
				return nil, err
			}
			man, _, err := mk.openVersion(ctx, fv, fid, uint64(v.Version))
			if err != nil {
				return nil, fmt.Errorf("version %d: %w", v.Version, err)
			}
			// Author and device are whatever the writer sealed: never raw to a terminal.
			info.Size, info.ModTime, info.Author, info.Device = man.Size, man.ModTime, SafeText(man.Author), SafeText(man.Device)
			info.Mine = man.Author == a.entity
			info.Name = a.authorName(man.Author, fv.AuthorEntity, fv.AuthorName)
		}
		out = append(out, info)
	}
	return out, nil
}

// Restore brings back an old version of a file: its content is written to
// the path (a local edit not yet synced is kept as a conflict copy first)
// and committed as the newest version, so every member gets it. It returns
// the new version number.
func (a *Agent) Restore(ctx context.Context, path string, version int64) (int64, error) {
	m, rel, err := a.matterOf(ctx, path)
	if err != nil {
		return 0, err
	}
	return a.restoreIn(ctx, m, rel, version)
}

// restoreIn restores version of rel in m as its newest version. It holds
// the matter's lock: in a running agent (the status page) the matter's
// loop waits meanwhile.
func (a *Agent) restoreIn(ctx context.Context, m *matterSync, rel string, version int64) (int64, error) {
	defer a.passes.lock(m.id)()
	mk, err := loadMatterKeys(ctx, a.keys, m.id)
	if err != nil {
		return 0, err
	}
	fid, err := mk.fileIDs.FileID(rel)
	if err != nil {
		return 0, err
	}
	fv, err := a.remote.File(ctx, m.id, fid.String(), version)
	if err != nil {
		return 0, err
	}
	if fv.Deleted {
		return 0, fmt.Errorf("version %d of %s is a delete; pick an earlier version", version, rel)
	}
	man, _, err := mk.openVersion(ctx, fv, fid, uint64(version))
	if err != nil {
		return 0, err
	}
	var res passResult
	if err := m.openFolder(ctx, &res); err != nil {
		return 0, err
	}
	defer m.closeFolder()
	// Bring the local copy to the head first, so the restore is an edit of
	// the newest version and a local edit is not overwritten unseen.
	if err := m.pull(ctx, mk, &res); err != nil {
		return 0, err
	}
	tmp, err := m.fetch(ctx, mk, man)
	if err != nil {
		return 0, err
	}
	defer m.fs.remove(tmp)
	cur, err := m.fs.lstat(rel)
	if err != nil {
		return 0, err
	}
	row, rowErr := a.idx.File(ctx, m.id, rel)
	if cur.exists && (rowErr != nil || !cur.matches(row.Size, row.MtimeNs)) {
		if err := m.moveAside(ctx, rel, "kept before restoring version "+fmt.Sprint(version), &res); err != nil {
			return 0, err
		}
		cur = stat{}
	}
	if err := m.fs.install(tmp, rel, cur, man.ModTime); err != nil {
		return 0, err
	}
	if err := m.upload(ctx, mk, rel, &res); err != nil {
		return 0, err
	}
	row, err = a.idx.File(ctx, m.id, rel)
	if errors.Is(err, index.ErrNotFound) {
		return 0, fmt.Errorf("restore of %s was not committed", rel)
	}
	if err != nil {
		return 0, err
	}
	a.log.Info("version restored", "matter", m.id, "path", rel, "version", version, "as", row.Version)
	return int64(row.Version), nil
}

// roleOf returns the kms role stored for a matter in the index.
func roleOf(m index.Matter) kms.Role { return kms.Role(m.Role) }
