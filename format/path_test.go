package format

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

var goodPaths = []string{
	"a",
	"Brief.docx",
	"Pleadings/2026-11-22 Brief (v2).docx",
	"Kläger/Schriftsatz.pdf",
	"日本語/契約書.pdf",
	"a/b/c/d/e.txt",
	".hidden",
	"..data",   // not ".."
	"a..b",     // dots inside are fine
	" leading", // leading space is legal everywhere
	"CONSOLE.txt", "COM10", "LPT", "NULL", "con-notes.txt", "auxiliary",
	"a/mattersync", ".matters", "MATTER~", "MATTER~1x", "a/MATTER~1", // near the reserved names
	"Draft~1.docx",
	strings.Repeat("x", 255),
	strings.Repeat("é", 127), // 254 bytes
}

var badPaths = []string{
	"", "/", "/abs", "a/", "a//b", ".", "..", "../x", "a/../b", "a/./b", "./a",
	"C:", "C:/x", "c:x", `C:\x`, `\\server\share\x`, `a\b`, "//server/share",
	"a\x00b", "a\nb", "a\tb", "a\x7fb", "a\u0085b",
	"a<b", "a>b", `a"b`, "a|b", "a?b", "a*b", "file.txt:stream", "x::$DATA",
	"a.", "a ", "dir./x", "dir /x", "...",
	"CON", "con", "Con.txt", "nul.tar.gz", "AUX", "PRN", "COM1", "com9.log", "LPT0",
	"COM¹", "lpt³.txt", "CONIN$", "conout$.x", "NUL .txt", "dir/CON/x",
	".mattersync", ".MatterSync/x", ".matter\u200dsync", "a/.mattersync", "a/.mattersync-tmp-1f2e", ".MATTERSYNC-x",
	"MATTER~1", "matter~12/x", // Windows 8.3 aliases of .mattersync
	strings.Repeat("x", 256),
	strings.Repeat("é", 128), // 256 bytes
	strings.Repeat("a/", 2048) + "a",
	"Pl\u0065\u0301adings", // NFD
	"bad\xffutf8",
}

func TestValidatePath(t *testing.T) {
	for _, p := range goodPaths {
		if err := ValidatePath(p); err != nil {
			t.Errorf("ValidatePath(%q) = %v, want nil", p, err)
		}
	}
	for _, p := range badPaths {
		err := ValidatePath(p)
		if !errors.Is(err, ErrUnsafePath) {
			t.Errorf("ValidatePath(%q) = %v, want ErrUnsafePath", p, err)
		}
	}
}

func TestNormalizePath(t *testing.T) {
	got, err := NormalizePath("Pl\u0065\u0301adings/x")
	if err != nil || got != "Pl\u00e9adings/x" {
		t.Errorf("NormalizePath(NFD) = %q, %v", got, err)
	}
	for _, p := range []string{"a\\b", "../x", "bad\xff"} {
		if _, err := NormalizePath(p); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("NormalizePath(%q) error = %v, want ErrUnsafePath", p, err)
		}
	}
}

func TestSafeLocalPath(t *testing.T) {
	root := filepath.FromSlash("/home/alice/Matters/2026-0001")
	got, err := SafeLocalPath(root, "Pleadings/Brief.docx")
	want := filepath.Join(root, "Pleadings", "Brief.docx")
	if err != nil || got != want {
		t.Errorf("SafeLocalPath = %q, %v, want %q", got, err, want)
	}
	if got, err := SafeLocalPath(root+"/", "a"); err != nil || got != filepath.Join(root, "a") {
		t.Errorf("SafeLocalPath(root with slash) = %q, %v", got, err)
	}
	if got, err := SafeLocalPath("/", "a"); err != nil || got != filepath.FromSlash("/a") {
		t.Errorf("SafeLocalPath(/) = %q, %v", got, err)
	}
	if _, err := SafeLocalPath("relative/root", "a"); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("relative root accepted: %v", err)
	}
	for _, p := range badPaths {
		if got, err := SafeLocalPath(root, p); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("SafeLocalPath(%q) = %q, %v, want ErrUnsafePath", p, got, err)
		}
	}
}

func FuzzSafeLocalPath(f *testing.F) {
	for _, p := range append(append([]string{}, goodPaths...), badPaths...) {
		f.Add(p)
	}
	root := filepath.FromSlash("/srv/matters/2026-0001")
	f.Fuzz(func(t *testing.T, p string) {
		out, err := SafeLocalPath(root, p)
		if err != nil {
			if !errors.Is(err, ErrUnsafePath) {
				t.Fatalf("error %v is not ErrUnsafePath", err)
			}
			return
		}
		// Whatever was accepted must obey the rules, checked here
		// independently of the implementation.
		if !utf8.ValidString(p) || !norm.NFC.IsNormalString(p) || len(p) > MaxPathLen {
			t.Fatalf("accepted %q: not valid NFC UTF-8 within the length limit", p)
		}
		if strings.ContainsAny(p, "\\:<>\"|?*\x00") {
			t.Fatalf("accepted %q with a character forbidden on Windows", p)
		}
		for _, s := range strings.Split(p, "/") {
			if s == "" || s == "." || s == ".." || len(s) > MaxSegmentLen ||
				strings.HasSuffix(s, ".") || strings.HasSuffix(s, " ") {
				t.Fatalf("accepted %q with bad segment %q", p, s)
			}
			for _, r := range s {
				if r < 0x20 || r >= 0x7f && r <= 0x9f {
					t.Fatalf("accepted %q with control character %U", p, r)
				}
			}
			stem := strings.ToUpper(strings.TrimRight(strings.SplitN(s, ".", 2)[0], " "))
			for _, dev := range []string{"CON", "PRN", "AUX", "NUL", "COM1", "LPT1", "COM¹", "CONIN$"} {
				if stem == dev {
					t.Fatalf("accepted %q with device name %q", p, s)
				}
			}
		}
		rel, err := filepath.Rel(root, out)
		if err != nil || !filepath.IsLocal(rel) || filepath.ToSlash(rel) != p {
			t.Fatalf("SafeLocalPath(%q) = %q, outside %q or not the same path (rel %q, %v)", p, out, root, rel, err)
		}
	})
}
