package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// A lawyer may rename a matter folder, or put files and folders directly
// in the Matters folder. Neither is synced: the folder's name is the
// agent's (it carries the matter ID and follows IT's renames), and
// Matters/ itself belongs to no matter. Before this, a renamed folder was
// taken for a deleted one: the agent recreated it, downloaded everything
// again, and edits made in the renamed copy never synced. Now each matter
// folder carries a marker (.mattersync/matter, holding the matter ID); a
// missing folder is looked for under another name first and, if found,
// given its name back, edits included, with a notice. Anything else in
// Matters/ is reported in status and the log.

// markerFile, inside a matter folder, holds the matter's ID.
const markerFile = ".mattersync/matter"

// markFolder makes sure the matter folder dir carries its marker.
func markFolder(dir, id string) error {
	p := filepath.Join(dir, filepath.FromSlash(markerFile))
	if b, err := os.ReadFile(p); err == nil && string(bytes.TrimSpace(b)) == id {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return WriteFileAtomic(p, []byte(id+"\n"), 0o600)
}

// folderMatter returns the matter ID a folder in the root belongs to, by
// its marker or, for a folder made before markers, by the "[<id>]" its
// name ends with; "" if neither.
func folderMatter(root, name string) string {
	if b, err := os.ReadFile(filepath.Join(root, name, filepath.FromSlash(markerFile))); err == nil {
		return string(bytes.TrimSpace(b))
	}
	if i := strings.LastIndex(name, "["); i >= 0 && strings.HasSuffix(name, "]") {
		return name[i+1 : len(name)-1]
	}
	return ""
}

// reclaimFolder looks, when the folder of matter id is missing, for a
// folder of the root that is this matter's under another name (the lawyer
// renamed it), and renames it back. It returns the name it had, or "".
func (a *Agent) reclaimFolder(id, dir string) (string, error) {
	ents, err := os.ReadDir(a.cfg.Root)
	if err != nil {
		return "", err
	}
	for _, e := range ents {
		if !e.IsDir() || filepath.Join(a.cfg.Root, e.Name()) == dir || folderMatter(a.cfg.Root, e.Name()) != id {
			continue
		}
		if err := os.Rename(filepath.Join(a.cfg.Root, e.Name()), dir); err != nil {
			return "", fmt.Errorf("rename %q back to %q: %w", e.Name(), filepath.Base(dir), err)
		}
		a.log.Warn("matter folder renamed on this computer: its name was put back (edits kept)", "matter", id, "renamed_to", e.Name(), "folder", dir)
		return e.Name(), nil
	}
	return "", nil
}

// renamedNotice is what status says after reclaimFolder put a name back.
func renamedNotice(id, renamed, folder string) string {
	return fmt.Sprintf("Matter %s: its folder was renamed to %q on this computer; mattersync put the name %q back (a matter's folder name is set by the firm) and kept your edits", id, SafeText(renamed), SafeText(folder))
}

// strays lists what sits directly in the root that belongs to no matter
// the agent knows (folders holds their names), as sentences for status.
// Hidden names and the ignore list (.DS_Store, desktop.ini) are left out.
func (a *Agent) strays(folders map[string]string) []string {
	ents, err := os.ReadDir(a.cfg.Root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return []string{fmt.Sprintf("The Matters folder cannot be read: %v", err)}
	}
	var out []string
	for _, e := range ents {
		name := e.Name()
		if _, ok := folders[name]; ok || strings.HasPrefix(name, ".") || a.ignore.Match(name) {
			continue
		}
		var msg string
		switch id := folderMatter(a.cfg.Root, name); {
		case e.IsDir() && id != "" && slices.Contains(mapValues(folders), id):
			msg = fmt.Sprintf("%q in your Matters folder is a copy of the folder of matter %s and is not synced: move what you changed into %q", SafeText(name), SafeText(id), SafeText(folderOf(folders, id)))
		case e.IsDir():
			msg = fmt.Sprintf("The folder %q in your Matters folder belongs to no matter and is not synced: move it into a matter's folder", SafeText(name))
		default:
			msg = fmt.Sprintf("The file %q in your Matters folder belongs to no matter and is not synced: move it into a matter's folder", SafeText(name))
		}
		out = append(out, msg)
	}
	return out
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func folderOf(folders map[string]string, id string) string {
	for f, v := range folders {
		if v == id {
			return f
		}
	}
	return ""
}
