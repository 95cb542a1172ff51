package watch

import (
	"fmt"
	"path"
	"strings"
)

// DefaultIgnore are the file names never synced: Office lock and temp files,
// OS metadata, and the agent's own folder and temp files. Patterns match a
// single path segment (path.Match syntax), case-insensitively, because
// Windows and macOS file systems are case-insensitive.
var DefaultIgnore = []string{
	"~$*",         // Office owner/lock files
	"*.tmp",       // Office and editor temp files
	"~WRL*.tmp",   // Word temp files
	".~lock.*#",   // LibreOffice lock files
	".DS_Store",   // macOS Finder metadata
	"._*",         // macOS AppleDouble files on non-HFS volumes
	"Thumbs.db",   // Windows Explorer thumbnails
	"desktop.ini", // Windows folder settings
	".mattersync", // the agent's per-matter folder (trash, temp)
	".mattersync-*",
}

// Ignore matches path segments against ignore patterns.
type Ignore struct {
	patterns []string // lowercased
}

// NewIgnore validates patterns and returns a matcher for them.
func NewIgnore(patterns []string) (*Ignore, error) {
	ig := &Ignore{}
	for _, p := range patterns {
		if p == "" || strings.ContainsAny(p, `/\`) {
			return nil, fmt.Errorf("watch: ignore pattern %q must be a non-empty file name pattern without slashes", p)
		}
		lp := strings.ToLower(p)
		if _, err := path.Match(lp, ""); err != nil {
			return nil, fmt.Errorf("watch: ignore pattern %q: %w", p, err)
		}
		ig.patterns = append(ig.patterns, lp)
	}
	return ig, nil
}

// Match reports whether the file or folder name (one segment) is ignored.
func (ig *Ignore) Match(name string) bool {
	ln := strings.ToLower(name)
	for _, p := range ig.patterns {
		if ok, _ := path.Match(p, ln); ok {
			return true
		}
	}
	return false
}

// MatchPath reports whether any segment of a slash-separated relative path is
// ignored: everything inside an ignored folder is ignored too.
func (ig *Ignore) MatchPath(rel string) bool {
	for seg := range strings.SplitSeq(rel, "/") {
		if ig.Match(seg) {
			return true
		}
	}
	return false
}

// IsLockFile reports whether name is an Office owner file ("~$Brief.docx")
// or a LibreOffice lock file (".~lock.Brief.odt#"): a document open in an
// editor. Both are in DefaultIgnore (never synced); the agent reads them
// only to tell colleagues the document is open (presence).
func IsLockFile(name string) bool {
	return strings.HasPrefix(name, "~$") && len(name) > 2 ||
		strings.HasPrefix(name, ".~lock.") && strings.HasSuffix(name, "#") && len(name) > len(".~lock.#")
}
