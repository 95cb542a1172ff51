package agent

import (
	"os"
	"path/filepath"
	"testing"
)

// caseVariant tells a file present under its exact name from one a
// case-insensitive disk would only find under another spelling. (This
// machine's disks are case-sensitive, so the case is built by hand: the
// check reads the folder's real names.)
func TestCaseVariant(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "Pleadings"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"Brief.docx", "Pleadings/Motion.pdf"} {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(n)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l, err := openLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for rel, want := range map[string]bool{
		"Brief.docx": false, "brief.docx": true, "Pleadings/Motion.pdf": false,
		"Pleadings/motion.pdf": true, "Missing/x.txt": false,
	} {
		if got := l.caseVariant(rel); got != want {
			t.Errorf("caseVariant(%q) = %v, want %v", rel, got, want)
		}
	}
}
