package admin

import (
	"bytes"
	"encoding/csv"
	"testing"
)

// A cell someone else chose (a user name, host name, reason) that a
// spreadsheet would run as a formula is written as text; others as they are.
func TestCSVWriterNeutralisesFormulas(t *testing.T) {
	var b bytes.Buffer
	w := NewCSVWriter(&b)
	in := []string{`=HYPERLINK("http://evil.example","x")`, "+1", "-2", "@SUM(A1)", "\tx", "alice", "", "a=b", "2026-12-07T10:00:00Z"}
	w.Write(in)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := csv.NewReader(&b).Read()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`'=HYPERLINK("http://evil.example","x")`, "'+1", "'-2", "'@SUM(A1)", "'\tx", "alice", "", "a=b", "2026-12-07T10:00:00Z"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("cell %d: %q, want %q", i, got[i], want[i])
		}
	}
}
