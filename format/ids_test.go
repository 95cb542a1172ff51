package format

import (
	"strings"
	"testing"
)

func TestValidateMatterID(t *testing.T) {
	good := []string{"2026-0001", "a", "acme-v-example-42", strings.Repeat("a", MaxMatterIDLen), "rw", "x-rwa", "screened-1"}
	for _, id := range good {
		if err := ValidateMatterID(id); err != nil {
			t.Errorf("ValidateMatterID(%q) = %v, want nil", id, err)
		}
	}
	bad := []string{"", "-a", "a-", "A1", "a/b", "a..b", "a b", "ä", "a\x00", strings.Repeat("a", MaxMatterIDLen+1), "../x",
		"2026-0001-screened", "x-rw", "x-ro"}
	for _, id := range bad {
		if err := ValidateMatterID(id); err == nil {
			t.Errorf("ValidateMatterID(%q) = nil, want error", id)
		}
	}
}

func TestParseID(t *testing.T) {
	var id ID
	for i := range id {
		id[i] = byte(i * 7)
	}
	got, err := ParseID(id.String())
	if err != nil || got != id {
		t.Fatalf("round trip: got %v, %v", got, err)
	}
	bad := []string{"", strings.Repeat("0", 63), strings.Repeat("0", 65), strings.ToUpper(id.String()), strings.Repeat("g", 64), "../" + strings.Repeat("0", 61)}
	for _, s := range bad {
		if _, err := ParseID(s); err == nil {
			t.Errorf("ParseID(%q) = nil error, want error", s)
		}
	}
}
