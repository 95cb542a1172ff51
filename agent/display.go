package agent

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SafeText returns s fit for a terminal or a one-line log: control
// characters (C0, DEL, C1: the ESC and CSI that start terminal escape
// sequences), bidirectional overrides and isolates (which make a name read
// differently from what it is), and bytes that are not UTF-8 are shown as
// Go escapes (\x1b, \u202e) instead of being sent to the terminal. Every
// string that comes from a manifest (author, device, path) or the gateway
// goes through it before it is printed.
func SafeText(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x80 && unsafeRune(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += n
	}
	return b.String()
}

func needsEscape(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if unsafeRune(r) {
			return true
		}
	}
	return false
}

// unsafeRune: control characters and the bidirectional formatting
// characters (U+061C, U+200E/F, U+202A–U+202E, U+2066–U+2069).
func unsafeRune(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// authorName is how a version's author is shown: "you" for this user's
// own versions, else the user name the gateway recorded from the
// committer's token when the gateway's entity is the one the writer sealed
// in the manifest, else the sealed entity ID (versions from before the
// gateway recorded names, or a gateway that disagrees with the manifest).
// The name is only a label: the sealed entity stays the authority.
func (a *Agent) authorName(sealed, gwEntity, gwName string) string {
	switch {
	case sealed == a.entity:
		return "you"
	case gwName != "" && gwEntity == sealed:
		return SafeText(gwName)
	default:
		return SafeText(sealed)
	}
}
