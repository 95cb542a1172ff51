package agent

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/mattersync/mattersync/format"
)

// localFS is a matter folder, opened as an os.Root: every local read,
// write, rename and delete goes through it, so a symbolic link or junction
// inside the folder can never make the agent touch a file outside it. Paths
// are matter-relative and '/'-separated, and are checked with the format's
// portable rules before use.
type localFS struct {
	root *os.Root
	dir  string // absolute, for messages
	// fold makes name lookups case-insensitive, as NTFS and APFS are by
	// default: see Agent.FoldCase. On a disk that folds case itself it is
	// not needed (and changes nothing).
	fold bool
}

func openLocal(dir string) (*localFS, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &localFS{root: r, dir: dir}, nil
}

// resolve returns the name inside the root of the '/' path rel as a
// case-insensitive disk finds it: each segment that does not exist under
// its exact spelling is replaced by an entry of its folder that differs
// only in case. Without fold it is rel with the OS's separators.
func (l *localFS) resolve(rel string) string {
	if !l.fold {
		return filepath.FromSlash(rel)
	}
	cur := ""
	for _, seg := range strings.Split(rel, "/") {
		next := path.Join(cur, seg)
		if _, err := l.root.Lstat(filepath.FromSlash(next)); errors.Is(err, fs.ErrNotExist) {
			dir := cur
			if dir == "" {
				dir = "."
			}
			if d, err := l.root.Open(filepath.FromSlash(dir)); err == nil {
				names, _ := d.Readdirnames(-1)
				d.Close()
				for _, n := range names {
					if strings.EqualFold(n, seg) {
						next = path.Join(cur, n)
						break
					}
				}
			}
		}
		cur = next
	}
	return filepath.FromSlash(cur)
}

func (l *localFS) Close() error { return l.root.Close() }

// name validates rel and returns its name inside the root.
func (l *localFS) name(rel string) (string, error) {
	if _, err := format.SafeLocalPath(l.dir, rel); err != nil {
		return "", err
	}
	return l.resolve(rel), nil
}

// stat is the part of a file's metadata that says "unchanged".
type stat struct {
	exists  bool
	size    int64
	mtimeNs int64
	mode    fs.FileMode
}

func statOf(fi fs.FileInfo) stat {
	return stat{exists: true, size: fi.Size(), mtimeNs: fi.ModTime().UnixNano(), mode: fi.Mode()}
}

func (s stat) matches(size, mtimeNs int64) bool {
	return s.exists && s.mode.IsRegular() && s.size == size && s.mtimeNs == mtimeNs
}

func (s stat) same(t stat) bool {
	return s.exists == t.exists && s.size == t.size && s.mtimeNs == t.mtimeNs
}

// lstat returns the metadata of rel, with exists false if it is missing
// (or its folder is).
func (l *localFS) lstat(rel string) (stat, error) {
	n, err := l.name(rel)
	if err != nil {
		return stat{}, err
	}
	fi, err := l.root.Lstat(n)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return stat{}, nil
	}
	if err != nil {
		return stat{}, localErr(err)
	}
	return statOf(fi), nil
}

// caseVariant reports whether rel exists only under another spelling: a
// case-insensitive (or normalization-insensitive) disk found a different
// name for it, or for one of its folders.
func (l *localFS) caseVariant(rel string) bool {
	parent := "."
	for _, seg := range strings.Split(rel, "/") {
		d, err := l.root.Open(l.resolve(parent))
		if err != nil {
			return false
		}
		names, err := d.Readdirnames(-1)
		d.Close()
		if err != nil {
			return false
		}
		next := path.Join(parent, seg)
		if !slices.Contains(names, seg) {
			_, err := l.root.Lstat(l.resolve(next))
			return err == nil // there, but under another name
		}
		parent = next
	}
	return false
}

func (l *localFS) open(rel string) (*os.File, error) {
	n, err := l.name(rel)
	if err != nil {
		return nil, err
	}
	f, err := l.root.Open(n)
	return f, localErr(err) // locked by another program, unreadable, gone: this file's problem
}

// hash returns the SHA-256 of a file's content.
func (l *localFS) hash(rel string) ([32]byte, error) {
	var sum [32]byte
	f, err := l.open(rel)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, localErr(err)
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// rename moves a file within the matter folder, creating the target's
// folder.
func (l *localFS) rename(from, to string) error {
	fn, err := l.name(from)
	if err != nil {
		return err
	}
	tn, err := l.name(to)
	if err != nil {
		return err
	}
	if err := l.root.MkdirAll(filepath.Dir(tn), 0o700); err != nil {
		return localErr(err)
	}
	return localErr(l.root.Rename(fn, tn))
}

// createTemp creates an empty temp file next to rel (same folder, so the
// final rename is atomic), creating the folder if needed. The temp name
// starts with ".mattersync-tmp-", which scans ignore.
func (l *localFS) createTemp(rel string) (*os.File, string, error) {
	dir := path.Dir(rel)
	if dir != "." {
		dn, err := l.name(dir)
		if err != nil {
			return nil, "", err
		}
		if err := l.root.MkdirAll(dn, 0o700); err != nil {
			return nil, "", localErr(err)
		}
		dir = filepath.ToSlash(dn) // the folder as the disk spells it
	}
	for range 100 {
		tmp := path.Join(dir, ".mattersync-tmp-"+randomToken()[:16])
		f, err := l.root.OpenFile(filepath.FromSlash(tmp), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, tmp, localErr(err)
	}
	return nil, "", errors.New("no free temp file name")
}

func (l *localFS) remove(rel string) { _ = l.root.Remove(filepath.FromSlash(rel)) }

// private takes group and other access away from a file the agent made
// (a conflict copy keeps the mode the user's program gave the edit).
// Best effort; on Windows the bits are ignored.
func (l *localFS) private(rel string) {
	n := filepath.FromSlash(rel)
	if fi, err := l.root.Lstat(n); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o077 != 0 {
		_ = l.root.Chmod(n, fi.Mode().Perm()&^0o077)
	}
}

// install moves a finished temp file to rel: mode, times, then a rename
// only if rel is still exactly as the caller saw it (guard), made durable
// (its folder fsynced).
func (l *localFS) install(tmp, rel string, guard stat, mtime time.Time) error {
	if err := l.installUnsynced(tmp, rel, guard, mtime); err != nil {
		return err
	}
	return l.syncDir(path.Dir(rel))
}

// installUnsynced is install without the folder's fsync: the caller syncs
// the folder (once for several renames into it) before it records the
// file anywhere.
func (l *localFS) installUnsynced(tmp, rel string, guard stat, mtime time.Time) error {
	tn := filepath.FromSlash(tmp)
	// Downloads are never executable (a manifest can't plant a program)
	// and readable by the user only (Windows ignores the bits).
	if err := l.root.Chmod(tn, 0o600); err != nil {
		return localErr(err)
	}
	if err := l.root.Chtimes(tn, mtime, mtime); err != nil {
		return localErr(err)
	}
	now, err := l.lstat(rel)
	if err != nil {
		return err
	}
	if !now.same(guard) {
		return errLocalChanged
	}
	n, err := l.name(rel)
	if err != nil {
		return err
	}
	if now.exists && unixReadOnly(uint32(now.mode.Perm())) {
		// Marked read-only (a colleague has it open, presence.go; or by
		// the user): the new content stays so. Windows refuses to replace
		// a read-only file, so the mark comes off the old one first. The
		// old copy's read bits are kept (0444 from a marked 0644), so the
		// restore gives back what it had, not 0600.
		if err := l.root.Chmod(tn, os.FileMode(uint32(now.mode.Perm())&0o444|0o400)); err != nil {
			return localErr(err)
		}
		if runtime.GOOS == "windows" {
			_ = l.root.Chmod(n, 0o600)
		}
	}
	return localErr(l.root.Rename(tn, n))
}

// syncDir makes a rename in the folder durable (a no-op on Windows).
func (l *localFS) syncDir(rel string) error {
	if !dirSyncSupported {
		return nil
	}
	d, err := l.root.Open(l.resolve(rel))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// errLocalWrite marks a failure to read or write one file locally (a
// folder where a file should go, a name too long for this OS, a full disk,
// a file locked by another program): a problem with that file, reported and
// retried later, never a reason to stop the whole matter.
var errLocalWrite = errors.New("cannot write the file here")

// Every failing operation on a local path is one: the os.Root refusing a
// link out of the folder included.
func localErr(err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	if err == nil || !(errors.As(err, &pe) || errors.As(err, &le)) {
		return err
	}
	return fmt.Errorf("%w: %w", errLocalWrite, err)
}
