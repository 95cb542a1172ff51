package agent

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"time"
)

// The trash (.mattersync/trash/<date time>/<path> in each matter folder)
// keeps a laptop's copy of files colleagues deleted, in case the delete was
// a mistake; the gateway keeps every version anyway. Deleted client files
// must not stay on every laptop forever, so the trash is emptied: folders
// older than trash_retention, then the oldest until the rest fits
// trash_max_size, at every full pass; all of it when the user loses the
// matter (a wall, a removal, a revocation).

// trashStamp is the layout of a trash folder's name ("2026-03-01 14.05.09",
// maybe followed by " (2)").
const trashStamp = "2006-01-02 15.04.05"

// trashEntry is one "<date time>" folder of a matter's trash.
type trashEntry struct {
	name  string
	at    time.Time
	files int
	bytes int64
}

// purgeTrash empties the trash of the matter folder dir: with all, every
// folder; otherwise the folders older than the retention at now, then the
// oldest until the rest fits the size cap. Each folder removed is logged
// with why; a folder that cannot be removed is logged and kept for the
// next pass. It returns how many files went.
func (a *Agent) purgeTrash(matter, dir string, now time.Time, all bool, why string) (int, error) {
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("trash of %s: %w", matter, err)
	}
	defer root.Close()
	ents, err := fs.ReadDir(root.FS(), trashDir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("trash of %s: %w", matter, err)
	}
	var list []trashEntry
	var total int64
	for _, d := range ents {
		e := trashEntry{name: d.Name()}
		if len(e.name) >= len(trashStamp) {
			e.at, err = time.ParseInLocation(trashStamp, e.name[:len(trashStamp)], time.Local)
		}
		if e.at.IsZero() || err != nil {
			if fi, err := d.Info(); err == nil {
				e.at = fi.ModTime() // not a name the agent gave: its age on disk
			}
		}
		_ = fs.WalkDir(root.FS(), path.Join(trashDir, e.name), func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if fi, err := d.Info(); err == nil {
					e.files++
					e.bytes += fi.Size()
				}
			}
			return nil
		})
		total += e.bytes
		list = append(list, e)
	}
	slices.SortFunc(list, func(x, y trashEntry) int { return cmp.Or(x.at.Compare(y.at), cmp.Compare(x.name, y.name)) })
	purged := 0
	var errs []error
	for _, e := range list {
		reason := why
		switch {
		case all:
		case now.Sub(e.at) > a.cfg.TrashRetention:
			reason = fmt.Sprintf("older than trash_retention (%v)", a.cfg.TrashRetention)
		case total > int64(a.cfg.TrashMaxSize):
			reason = fmt.Sprintf("the trash is over trash_max_size (%v)", a.cfg.TrashMaxSize)
		default:
			continue
		}
		if err := root.RemoveAll(path.Join(trashDir, e.name)); err != nil {
			a.log.Error("trash not purged", "matter", matter, "trash_folder", e.name, "err", err)
			errs = append(errs, err)
			continue
		}
		total -= e.bytes
		purged += e.files
		a.log.Info("trash purged", "matter", matter, "trash_folder", e.name, "files", e.files, "bytes", e.bytes, "reason", reason)
	}
	if all {
		_ = root.Remove(trashDir) // empty now; .mattersync stays (the agent's)
	}
	return purged, errors.Join(errs...)
}
