package agent

import (
	"slices"
	"testing"
)

// Which document an owner or lock file stands for: LibreOffice names it
// whole; Office's owner file is "~$" and the name, which Word shortens (7
// characters before the extension: the first replaced, 8 or more: the
// first two); Excel and PowerPoint keep the whole name.
func TestLockTargets(t *testing.T) {
	names := []string{"Brief.docx", "Document.docx", "Letters.docx", "Statement of Claim.docx", "Budget 2026.xlsx",
		"AB-Draft.docx", "CD-Draft.docx", "Notes.odt", "ument.docx", "Deck.pptx"}
	for _, c := range []struct {
		lock string
		want []string
	}{
		{"~$Brief.docx", []string{"Brief.docx"}},     // short: whole name
		{"~$cument.docx", []string{"Document.docx"}}, // 8: two replaced
		{"~$etters.docx", []string{"Letters.docx"}},  // 7: one replaced
		{"~$tters.docx", nil},
		{"~$atement of Claim.docx", []string{"Statement of Claim.docx"}},
		{"~$Budget 2026.xlsx", []string{"Budget 2026.xlsx"}}, // Excel keeps the name
		{"~$BUDGET 2026.XLSX", []string{"Budget 2026.xlsx"}}, // case folds, as on Windows
		{"~$Deck.pptx", []string{"Deck.pptx"}},
		{"~$-Draft.docx", []string{"AB-Draft.docx", "CD-Draft.docx"}}, // Word cannot tell them apart either
		{"~$ument.docx", []string{"ument.docx"}},                      // an exact match wins
		{".~lock.Notes.odt#", []string{"Notes.odt"}},
		{".~lock.notes.odt#", nil}, // LibreOffice keeps case
		{"~$rief.docx", nil},       // "Brief" is 5: Word would not shorten it
		{"~$", nil},
		{"~$Missing.docx", nil},
	} {
		if got := lockTargets(c.lock, names); !slices.Equal(got, c.want) {
			t.Errorf("lockTargets(%q) = %q, want %q", c.lock, got, c.want)
		}
	}
}

// The Windows code path's arithmetic (presence_windows.go applies it with
// GetFileAttributes/SetFileAttributes): the mark sets only the read-only
// attribute; the restore puts back only the read-only attribute as it was,
// keeping every other attribute as it is now.
func TestWindowsReadOnlyAttributes(t *testing.T) {
	const (
		hidden  = 0x2
		archive = 0x20
	)
	for _, c := range []struct {
		name             string
		before, later    uint32 // attributes before the mark; after it, as changed meanwhile
		marked, restored uint32
	}{
		{"normal file", archive, archive | fileAttributeReadOnly, archive | fileAttributeReadOnly, archive},
		{"hidden file", hidden, hidden | fileAttributeReadOnly, hidden | fileAttributeReadOnly, hidden},
		{"archive set since", 0, archive | fileAttributeReadOnly, fileAttributeReadOnly, archive},
	} {
		if got := winMarked(c.before); got != c.marked || !winReadOnly(got) {
			t.Errorf("%s: winMarked(%#x) = %#x, want %#x", c.name, c.before, got, c.marked)
		}
		if got := winRestored(c.later, c.before); got != c.restored || winReadOnly(got) {
			t.Errorf("%s: winRestored(%#x, %#x) = %#x, want %#x", c.name, c.later, c.before, got, c.restored)
		}
	}
	// A file the user had made read-only stays so.
	if got := winRestored(archive|fileAttributeReadOnly, fileAttributeReadOnly); !winReadOnly(got) {
		t.Errorf("restore cleared a read-only attribute the user had set: %#x", got)
	}
}

func TestUnixReadOnlyModes(t *testing.T) {
	for _, c := range []struct{ before, marked uint32 }{{0o600, 0o400}, {0o644, 0o444}, {0o664, 0o444}, {0o700, 0o500}} {
		if got := unixMarked(c.before); got != c.marked || !unixReadOnly(got) {
			t.Errorf("unixMarked(%o) = %o, want %o", c.before, got, c.marked)
		}
		if got := unixRestored(unixMarked(c.before), c.before); got != c.before {
			t.Errorf("unixRestored(%o) = %o, want %o", c.before, got, c.before)
		}
	}
	// A download since gave the copy 0400 (the mark kept): back to 0600.
	if got := unixRestored(0o400, 0o600); got != 0o600 {
		t.Errorf("restore after a download = %o, want 600", got)
	}
}
