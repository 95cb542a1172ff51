package agent

import (
	"os"
	"path/filepath"
	"testing"
)

// caseVariant tells a file present under its exact name from one a
// case-insensitive disk only finds under another spelling (of its name or
// of a folder on its path). It runs on the emulated case-insensitive disk
// (fold) and, where the test machine's disk folds case itself (Windows,
// macOS), on the real one.
func TestCaseVariant(t *testing.T) {
	for _, emulate := range []bool{true, false} {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "Pleadings"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"Brief.docx", "Pleadings/Motion.pdf"} {
			if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(n)), []byte(n), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err := os.Stat(filepath.Join(dir, "brief.docx"))
		if folds := err == nil; !emulate && !folds {
			continue // this disk is case-sensitive: emulated only
		}
		l, err := openLocal(dir)
		if err != nil {
			t.Fatal(err)
		}
		l.fold = emulate
		for rel, want := range map[string]bool{
			"Brief.docx": false, "brief.docx": true, "Pleadings/Motion.pdf": false,
			"Pleadings/motion.pdf": true, "pleadings/Motion.pdf": true, "Missing/x.txt": false, "missing.txt": false,
		} {
			if got := l.caseVariant(rel); got != want {
				t.Errorf("emulated %v: caseVariant(%q) = %v, want %v", emulate, rel, got, want)
			}
		}
		// What the disk finds under another spelling is the original.
		if st, err := l.lstat("pleadings/MOTION.pdf"); err != nil || !st.exists || st.size != int64(len("Pleadings/Motion.pdf")) {
			t.Errorf("emulated %v: lstat of another spelling = %+v, %v", emulate, st, err)
		}
		l.Close()
	}
}
