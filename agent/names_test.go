package agent

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestConflictName(t *testing.T) {
	at := time.Date(2026, 11, 22, 15, 30, 59, 0, time.UTC)
	taken := map[string]bool{}
	exists := func(p string) (bool, error) { return taken[p], nil }
	name := func(rel, user, device string, exists func(string) (bool, error)) string {
		t.Helper()
		n, err := ConflictName(rel, user, device, at, exists)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	cases := []struct{ in, want string }{
		{"Brief.docx", "Brief (conflict, Alice Smith, LAPTOP-7, 2026-11-22 15.30).docx"},
		{"Pleadings/Motion.final.pdf", "Pleadings/Motion.final (conflict, Alice Smith, LAPTOP-7, 2026-11-22 15.30).pdf"},
		{"notes", "notes (conflict, Alice Smith, LAPTOP-7, 2026-11-22 15.30)"},
		{".profile", ".profile (conflict, Alice Smith, LAPTOP-7, 2026-11-22 15.30)"},
		// A conflict copy of a conflict copy gets a fresh tag, not a second one.
		{"Brief (conflict, Bob, MAC-1, 2026-11-20 09.00).docx", "Brief (conflict, Alice Smith, LAPTOP-7, 2026-11-22 15.30).docx"},
	}
	for _, c := range cases {
		if got := name(c.in, "Alice Smith", "LAPTOP-7", exists); got != c.want {
			t.Errorf("ConflictName(%q) = %q, want %q", c.in, got, c.want)
		}
		if !IsConflictCopy(c.want) {
			t.Errorf("IsConflictCopy(%q) = false", c.want)
		}
	}
	if IsConflictCopy("Brief (conflict).docx") || IsConflictCopy("Brief.docx") {
		t.Error("IsConflictCopy matched an ordinary name")
	}
	// Taken names get a counter, and the counter form is still a conflict copy.
	first := name("Brief.docx", "Alice Smith", "LAPTOP-7", exists)
	taken[first] = true
	second := name("Brief.docx", "Alice Smith", "LAPTOP-7", exists)
	if second != "Brief (conflict, Alice Smith, LAPTOP-7, 2026-11-22 15.30) 2.docx" || !IsConflictCopy(second) {
		t.Errorf("second conflict name = %q", second)
	}
	// Hostile user/device names cannot inject path separators or break the tag.
	got := name("a.txt", "../../evil, (x)", `C:\dev|ice`, nil)
	if got != "a (conflict, ..-..-evil- -x-, C--dev-ice, 2026-11-22 15.30).txt" || !IsConflictCopy(got) {
		t.Errorf("hostile names: %q", got)
	}
	// A long name still gets a valid conflict name: every segment of at
	// most 255 bytes, the extension kept, and the result a conflict copy.
	long := strings.Repeat("Ä", 120) + ".docx" // 240 bytes + 5
	got = name("Pleadings/"+long, "Alice Smith", "LAPTOP-7", nil)
	if seg := got[len("Pleadings/"):]; len(seg) > maxSegment || !strings.HasSuffix(seg, ".docx") || !IsConflictCopy(got) || !utf8.ValidString(got) {
		t.Errorf("long name: %q (%d bytes)", got, len(seg))
	}
	// exists errors are returned, never looped on.
	if _, err := ConflictName("a.txt", "u", "d", at, func(string) (bool, error) { return false, errors.New("boom") }); err == nil {
		t.Error("an exists error was swallowed")
	}
	if _, err := ConflictName("a.txt", "u", "d", at, func(string) (bool, error) { return true, nil }); err == nil {
		t.Error("no error when every name is taken")
	}
}

func TestMatterFolder(t *testing.T) {
	cases := []struct{ id, name, want string }{
		{"2026-0001", "Demo v. Example", "Demo v. Example [2026-0001]"},
		{"2026-0002", `Smith: "Estate" <Trust>/A|B?*`, "Smith- -Estate- -Trust--A-B-- [2026-0002]"},
		{"x", "  Trailing dots... ", "Trailing dots [x]"},
		{"y", "", "[y]"},
		{"z", "[bracketed]", "-bracketed- [z]"},
	}
	for _, c := range cases {
		if got := MatterFolder(c.id, c.name); got != c.want {
			t.Errorf("MatterFolder(%q, %q) = %q, want %q", c.id, c.name, got, c.want)
		}
	}
}
