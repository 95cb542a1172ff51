package agent

import (
	"errors"
	"testing"

	"github.com/mattersync/mattersync/format"
)

// TestIncomingName: a client's file name is a label: the characters
// Windows forbids become '_', then the path is checked like any synced
// one; what is still refused is refused.
func TestIncomingName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Kontoauszug.pdf", "Incoming/Kontoauszug.pdf"},
		{"<img src=x onerror=alert(1)>.pdf", "Incoming/_img src=x onerror=alert(1)_.pdf"},
		{`Invoice: March? "final"|v2*.pdf`, "Incoming/Invoice_ March_ _final__v2_.pdf"},
		{"Cafe\u0301.docx", "Incoming/Caf\u00e9.docx"}, // NFD from a Mac: NFC
	} {
		got, err := incomingName(c.in)
		if err != nil || got != c.want {
			t.Errorf("incomingName(%q) = %q, %v, want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", ".", "..", "../../etc/passwd", `..\evil.exe`, "a/b.pdf", "CON.txt", "nul", "trailing.", "trailing ",
		"tab\there.pdf", "\x7f.pdf", ".mattersync"} {
		if got, err := incomingName(bad); !errors.Is(err, format.ErrUnsafePath) {
			t.Errorf("incomingName(%q) = %q, %v, want refused", bad, got, err)
		}
	}
}
