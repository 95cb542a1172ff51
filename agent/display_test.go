package agent

import (
	"testing"
	"time"
)

func TestSafeText(t *testing.T) {
	cases := map[string]string{
		"Alice Smith":                     "Alice Smith",
		"Ünïcödé – fine ✓":                "Ünïcödé – fine ✓",
		"\x1b]0;owned\x07\x1b[2J":         `\x1b]0;owned\x07\x1b[2J`,
		"csi\u009b31m":                    `csi\u009b31m`,
		"invoice\u202eexe.docx":           `invoice\u202eexe.docx`,
		"tab\there\r\nnext":               `tab\x09here\x0d\x0anext`,
		"bad utf8 \xff\xfe":               `bad utf8 \xff\xfe`,
		"del\x7f":                         `del\x7f`,
		"isolate\u2066x\u2069 and \u200f": `isolate\u2066x\u2069 and \u200f`,
	}
	for in, want := range cases {
		if got := SafeText(in); got != want {
			t.Errorf("SafeText(%q) = %q, want %q", in, got, want)
		}
	}
}

// Conflict-copy names and matter folders never carry terminal escapes or
// bidirectional overrides, whatever the user, device or matter name says.
func TestNamesDropEscapes(t *testing.T) {
	at := time.Date(2026, 11, 22, 15, 30, 0, 0, time.UTC)
	got, err := ConflictName("a.txt", "al\x1b[31mice\u009b", "LAP\u202eTOP\xff", at, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "a (conflict, al[31mice, LAPTOP, 2026-11-22 15.30).txt"; got != want {
		t.Errorf("ConflictName = %q, want %q", got, want)
	}
	if got := MatterFolder("2026-0001", "Acme\u202e v. \x1bX"); got != "Acme v. X [2026-0001]" {
		t.Errorf("MatterFolder = %q", got)
	}
}

// A colleague is named only when the gateway's record of the committer
// is the entity the writer sealed; a gateway that disagrees (or predates
// names) gets the sealed ID shown, and hostile names are escaped.
func TestAuthorName(t *testing.T) {
	a := &Agent{entity: "ent-alice"}
	cases := []struct{ sealed, gwEntity, gwName, want string }{
		{"ent-alice", "ent-alice", "alice", "you"},
		{"ent-bob", "ent-bob", "bob", "bob"},
		{"ent-bob", "ent-mallory", "mallory", "ent-bob"},
		{"ent-bob", "", "", "ent-bob"},
		{"ent-bob", "ent-bob", "\x1b]0;x", `\x1b]0;x`},
		{"\x1b[2J", "", "", `\x1b[2J`},
	}
	for _, c := range cases {
		if got := a.authorName(c.sealed, c.gwEntity, c.gwName); got != c.want {
			t.Errorf("authorName(%q, %q, %q) = %q, want %q", c.sealed, c.gwEntity, c.gwName, got, c.want)
		}
	}
}
