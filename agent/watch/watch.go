// Package watch reports changed paths below a folder tree: fsnotify events,
// debounced and filtered, with every new folder watched as it appears.
//
// Events can be lost (queue overflow, kqueue descriptor limits, a folder
// created and filled before it is watched), so the consumer must also rescan
// periodically; Watcher says when it knows it lost events.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Batch is one debounced set of changes.
type Batch struct {
	// Paths are absolute paths that changed (created, written, removed or
	// renamed, files or folders), each once.
	Paths []string
	// Overflow is set when events may have been lost: rescan everything.
	Overflow bool
}

// Watcher watches a tree. Create it with New, then call Run.
type Watcher struct {
	root     string
	debounce time.Duration
	ignore   *Ignore
	log      *slog.Logger
	fs       *fsnotify.Watcher
	locks    chan<- string // see LockFiles; nil: none sent
}

// LockFiles makes Run send to ch the path of every Office owner file and
// LibreOffice lock file (IsLockFile) created, removed or renamed below the
// root, though they are ignored otherwise. Run never blocks on ch: when it
// is full the event is dropped, so its consumer must also look again
// periodically. Call it before Run.
func (w *Watcher) LockFiles(ch chan<- string) { w.locks = ch }

// New starts watching root and every folder below it that is not ignored.
// debounce is how long the tree must be quiet before a batch is delivered.
func New(root string, debounce time.Duration, ignore *Ignore, log *slog.Logger) (*Watcher, error) {
	if debounce <= 0 {
		return nil, fmt.Errorf("watch: debounce must be positive, got %v", debounce)
	}
	fw, err := fsnotify.NewBufferedWatcher(4096)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	w := &Watcher{root: root, debounce: debounce, ignore: ignore, log: log, fs: fw}
	if err := w.addTree(root); err != nil {
		fw.Close()
		return nil, err
	}
	return w, nil
}

// addTree watches dir and every non-ignored folder below it. Folders that
// vanish meanwhile are skipped: their removal is reported as an event.
func (w *Watcher) addTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p != dir {
				return nil
			}
			if p == dir {
				return fmt.Errorf("watch: %w", err)
			}
			w.log.Warn("watch: cannot read folder", "path", p, "err", err)
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		if p != w.root && w.ignore.Match(d.Name()) {
			return filepath.SkipDir
		}
		if err := w.fs.Add(p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipDir
			}
			return fmt.Errorf("watch: add %s: %w", p, err)
		}
		return nil
	})
}

// Run delivers batches to out until ctx ends, then closes the watcher.
func (w *Watcher) Run(ctx context.Context, out chan<- Batch) error {
	defer w.fs.Close()
	pending := map[string]struct{}{}
	overflow := false
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.fs.Events:
			if !ok {
				return errors.New("watch: fsnotify closed its event channel")
			}
			if w.ignored(ev.Name) {
				if w.locks != nil && IsLockFile(filepath.Base(ev.Name)) {
					select {
					case w.locks <- ev.Name:
					default:
					}
				}
				continue
			}
			pending[ev.Name] = struct{}{}
			if ev.Has(fsnotify.Create) {
				if st, err := os.Lstat(ev.Name); err == nil && st.IsDir() {
					// A new folder: watch it and everything already in it,
					// and report its contents (they may predate the watch).
					if err := w.addTree(ev.Name); err != nil {
						w.log.Warn("watch: new folder", "path", ev.Name, "err", err)
						overflow = true
					}
				}
			}
			timer.Reset(w.debounce)
		case err, ok := <-w.fs.Errors:
			if !ok {
				return errors.New("watch: fsnotify closed its error channel")
			}
			w.log.Warn("watch: events may have been lost", "err", err)
			overflow = true
			timer.Reset(w.debounce)
		case <-timer.C:
			b := Batch{Overflow: overflow, Paths: make([]string, 0, len(pending))}
			for p := range pending {
				b.Paths = append(b.Paths, p)
			}
			select {
			case out <- b:
				clear(pending)
				overflow = false
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// ignored reports whether any segment of p below the root is ignored.
func (w *Watcher) ignored(p string) bool {
	rel, err := filepath.Rel(w.root, p)
	if err != nil {
		return false
	}
	return w.ignore.MatchPath(filepath.ToSlash(rel))
}
