package agent

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// conflictTag matches the tag ConflictName adds, so a conflict copy of a
// conflict copy replaces the tag instead of stacking a second one.
var conflictTag = regexp.MustCompile(` \(conflict, [^()]*, [^()]*, \d{4}-\d{2}-\d{2} \d{2}\.\d{2}(?:\.\d{2})?\)( \d+)?$`)

// ConflictName returns the name for the losing side of a concurrent edit of
// rel ('/'-separated): same folder, "Name (conflict, <user>, <device>,
// <YYYY-MM-DD HH.MM>).ext". Dots replace colons because Windows forbids them.
// The stem is shortened so the name fits the 255-byte limit. exists reports
// whether a candidate is taken; a counter is added until one is free.
func ConflictName(rel, user, device string, at time.Time, exists func(string) (bool, error)) (string, error) {
	dir, file := path.Split(rel)
	stem, ext := splitExt(file)
	if conflictTag.MatchString(file) {
		// The name had no extension; its tag's "15.30" is not one.
		stem, ext = file, ""
	}
	stem = conflictTag.ReplaceAllString(stem, "")
	tag := fmt.Sprintf(" (conflict, %s, %s, %s)", truncateUTF8(cleanTagPart(user), 64), truncateUTF8(cleanTagPart(device), 64), at.Format("2006-01-02 15.04"))
	if len(ext) > 32 {
		stem, ext = stem+ext, "" // an "extension" that long is part of the name
	}
	const counterRoom = 6 // " 99999"
	stem = strings.TrimRight(truncateUTF8(stem, maxSegment-len(tag)-len(ext)-counterRoom), " .")
	for n := 1; n < 100000; n++ {
		cand := dir + stem + tag + ext
		if n > 1 {
			cand = dir + stem + tag + fmt.Sprintf(" %d", n) + ext
		}
		if exists == nil {
			return cand, nil
		}
		taken, err := exists(cand)
		if err != nil {
			return "", fmt.Errorf("conflict copy name %q: %w", cand, err)
		}
		if !taken {
			return cand, nil
		}
	}
	return "", fmt.Errorf("no free conflict copy name for %s", rel)
}

// maxSegment is the longest file name every supported OS accepts.
const maxSegment = 255

// IsConflictCopy reports whether a file name carries a conflict tag.
func IsConflictCopy(rel string) bool {
	name := path.Base(rel)
	stem, _ := splitExt(name)
	return conflictTag.MatchString(stem) || conflictTag.MatchString(name)
}

// splitExt splits "Brief.final.docx" into "Brief.final" and ".docx"; a
// leading dot (".profile") is part of the stem.
func splitExt(name string) (stem, ext string) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 {
		return name, ""
	}
	return name[:i], name[i:]
}

// cleanTagPart keeps user and device names from breaking the tag or the
// file name: no parentheses, commas, path or Windows-reserved characters,
// no control or bidirectional formatting characters (a name that prints
// escapes, or reads backwards in a file manager).
func cleanTagPart(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case unsafeRune(r) || r == utf8.RuneError:
			return -1
		case strings.ContainsRune(`()<>:"/\|?*,`, r):
			return '-'
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if s == "" {
		return "unknown"
	}
	return s
}

// MatterFolder is the folder name of a matter below the root:
// "<display name> [<id>]". The ID keeps two matters with the same display
// name apart and lets the agent find a matter's folder again after a rename
// of the display name. Characters Windows forbids become '-'.
func MatterFolder(id, name string) string {
	n := strings.Map(func(r rune) rune {
		switch {
		case unsafeRune(r) || r == utf8.RuneError:
			return -1
		case strings.ContainsRune(`<>:"/\|?*[]`, r):
			return '-'
		}
		return r
	}, name)
	n = strings.TrimRight(strings.TrimSpace(n), ". ")
	if len(n) > 120 {
		n = strings.TrimRight(truncateUTF8(n, 120), ". ")
	}
	if n == "" {
		return "[" + id + "]"
	}
	return n + " [" + id + "]"
}

// truncateUTF8 cuts s to at most max bytes without splitting a character.
func truncateUTF8(s string, max int) string {
	if max >= len(s) {
		return s
	}
	if max < 0 {
		max = 0
	}
	for max > 0 && s[max]&0xc0 == 0x80 {
		max--
	}
	return s[:max]
}
