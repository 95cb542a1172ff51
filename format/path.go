package format

import (
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Path limits (FORMAT.md, "Paths").
const (
	MaxPathLen    = 4096 // bytes of a whole manifest path
	MaxSegmentLen = 255  // bytes of one path segment (≤ 255 UTF-16 units too)
)

// NormalizePath returns the canonical form of a matter-relative path as the
// agent found it on disk: NFC-normalized (macOS hands out NFD names), and
// checked against the portable rules of ValidatePath. Separators must
// already be '/' (use filepath.ToSlash on Windows). The result is what goes
// into manifests and into FileID.
func NormalizePath(p string) (string, error) {
	if !utf8.ValidString(p) {
		return "", fmt.Errorf("format: path %q is not valid UTF-8: %w", p, ErrUnsafePath)
	}
	n := norm.NFC.String(p)
	if err := validatePath(n); err != nil {
		return "", fmt.Errorf("format: %w", err)
	}
	return n, nil
}

// ValidatePath reports whether p is a canonical manifest path that names a
// file inside the matter folder on Windows, macOS and Linux alike, whatever
// the host OS (FORMAT.md, "Paths"):
//
//   - valid UTF-8 in NFC, 1 to MaxPathLen bytes, segments separated by '/';
//   - no empty, "." or ".." segment, so no leading or trailing '/';
//   - segments of at most MaxSegmentLen bytes;
//   - no control characters (U+0000–U+001F, U+007F–U+009F);
//   - none of < > : " \ | ? * (this rules out drive letters, UNC and
//     device paths, alternate data streams, and backslash separators);
//   - no segment ending in '.' or ' ' (Windows strips them, so two names
//     would meet in one file);
//   - no Windows device name as a segment's stem, in any case: CON, PRN,
//     AUX, NUL, COM0–COM9, LPT0–LPT9, COM¹²³, LPT¹²³, CONIN$, CONOUT$
//     ("nul.txt" and "Con .doc" too);
//   - the first segment is not ".mattersync" (in any case, ignoring the
//     code points HFS+ ignores), reserved for the agent's own files.
func ValidatePath(p string) error {
	if err := validatePath(p); err != nil {
		return fmt.Errorf("format: %w", err)
	}
	return nil
}

func validatePath(p string) error {
	if p == "" {
		return fmt.Errorf("empty path: %w", ErrUnsafePath)
	}
	if len(p) > MaxPathLen {
		return fmt.Errorf("path of %d bytes, the limit is %d: %w", len(p), MaxPathLen, ErrUnsafePath)
	}
	if !utf8.ValidString(p) {
		return fmt.Errorf("path %q is not valid UTF-8: %w", p, ErrUnsafePath)
	}
	if !norm.NFC.IsNormalString(p) {
		return fmt.Errorf("path %q is not NFC-normalized: %w", p, ErrUnsafePath)
	}
	first := true
	for seg := range strings.SplitSeq(p, "/") {
		if err := validateSegment(seg, first); err != nil {
			return fmt.Errorf("path %q: %w", p, err)
		}
		first = false
	}
	return nil
}

func validateSegment(s string, first bool) error {
	switch {
	case s == "":
		return fmt.Errorf("empty segment (leading, trailing or double '/'): %w", ErrUnsafePath)
	case s == "." || s == "..":
		return fmt.Errorf("segment %q: %w", s, ErrUnsafePath)
	case len(s) > MaxSegmentLen:
		return fmt.Errorf("segment of %d bytes, the limit is %d: %w", len(s), MaxSegmentLen, ErrUnsafePath)
	case s[len(s)-1] == '.' || s[len(s)-1] == ' ':
		return fmt.Errorf("segment %q ends in a dot or space: %w", s, ErrUnsafePath)
	}
	for _, r := range s {
		if r < 0x20 || r >= 0x7f && r <= 0x9f {
			return fmt.Errorf("segment %q has control character %U: %w", s, r, ErrUnsafePath)
		}
		if strings.ContainsRune(`<>:"\|?*`, r) {
			return fmt.Errorf("segment %q has character %q, not allowed on Windows: %w", s, r, ErrUnsafePath)
		}
	}
	if isWindowsDeviceName(s) {
		return fmt.Errorf("segment %q is a Windows device name: %w", s, ErrUnsafePath)
	}
	if isAgentName(s) || first && isShortAgentDir(s) {
		return fmt.Errorf("segment %q is reserved for the agent: %w", s, ErrUnsafePath)
	}
	return nil
}

// isWindowsDeviceName reports whether Windows would open a device instead
// of a file for segment s: the stem before the first '.', with trailing
// spaces removed, is a device name in any case.
func isWindowsDeviceName(s string) bool {
	stem, _, _ := strings.Cut(s, ".")
	stem = strings.TrimRight(stem, " ")
	switch len(stem) {
	case 3:
		switch strings.ToUpper(stem) {
		case "CON", "PRN", "AUX", "NUL":
			return true
		}
	case 4, 5: // COM1, or COM¹ (superscript digits are two bytes in UTF-8)
		pre := strings.ToUpper(stem[:3])
		if pre != "COM" && pre != "LPT" {
			return false
		}
		switch d := stem[3:]; d {
		case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³":
			return true
		}
	case 6, 7:
		switch strings.ToUpper(stem) {
		case "CONIN$", "CONOUT$":
			return true
		}
	}
	return false
}

// agentPrefix starts every name the agent keeps for itself, in any folder:
// the .mattersync folder (trash) at the top and its temp files
// (.mattersync-tmp-*) next to downloads.
const agentPrefix = ".mattersync"

// isAgentName reports whether s starts with agentPrefix, compared
// case-insensitively and without the code points that HFS+ ignores in
// names, as git does for ".git" (CVE-2014-9390).
func isAgentName(s string) bool {
	if len(s) < len(agentPrefix) {
		return false
	}
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 0x200c && r <= 0x200f, r >= 0x202a && r <= 0x202e,
			r >= 0x206a && r <= 0x206f, r == 0xfeff:
			return -1
		}
		return r
	}, s)
	return len(s) >= len(agentPrefix) && strings.EqualFold(s[:len(agentPrefix)], agentPrefix)
}

// isShortAgentDir reports whether s is a Windows 8.3 short name that may
// alias the .mattersync folder ("MATTER~1"), as git refuses "GIT~1".
func isShortAgentDir(s string) bool {
	rest, ok := strings.CutPrefix(strings.ToUpper(s), "MATTER~")
	if !ok || rest == "" {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// SafeLocalPath returns the local path under root for manifest path p, or
// an ErrUnsafePath error. Every writer of local files must use it (or
// ValidatePath with os.Root, see below). root must be an absolute path to
// the matter folder.
//
// The check is lexical. Symbolic links or junctions inside the matter
// folder could still redirect a write, so writers should also do the file
// operations through an os.Root opened on the matter folder, with
// filepath.FromSlash(p) as the name: os.Root refuses to follow links out.
func SafeLocalPath(root, p string) (string, error) {
	if err := ValidatePath(p); err != nil {
		return "", err
	}
	if !filepath.IsAbs(root) {
		return "", fmt.Errorf("format: matter folder %q is not an absolute path: %w", root, ErrUnsafePath)
	}
	rel := filepath.FromSlash(p)
	if !filepath.IsLocal(rel) { // the host's own rules, as a second opinion
		return "", fmt.Errorf("format: path %q is not local on this system: %w", p, ErrUnsafePath)
	}
	root = filepath.Clean(root)
	out := filepath.Join(root, rel)
	prefix := root
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	if !strings.HasPrefix(out, prefix) || len(out) == len(prefix) {
		return "", fmt.Errorf("format: path %q leaves %q: %w", p, root, ErrUnsafePath)
	}
	return out, nil
}
