package gateway

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// A clipped reason stays valid UTF-8 wherever the cut falls.
func TestClipKeepsUTF8(t *testing.T) {
	v := strings.Repeat("é", 150) // 300 bytes, two per character
	for n := 195; n <= 205; n++ {
		got := clip(v, n)
		if !utf8.ValidString(got) || !strings.HasSuffix(got, "...(300 bytes)") {
			t.Fatalf("clip at %d: %q", n, got)
		}
	}
}
