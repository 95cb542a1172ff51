package api

import (
	"strconv"
	"testing"
)

func TestETag(t *testing.T) {
	for in, want := range map[string]int64{`"1"`: 1, `7`: 7, ` "42" `: 42, `"999999999999999999"`: 999999999999999999} {
		if got, ok := ParseETag(in); !ok || got != want {
			t.Errorf("ParseETag(%q) = %d, %v", in, got, ok)
		}
	}
	for _, in := range []string{``, `""`, `"0"`, `0`, `-1`, `"-1"`, `W/"1"`, `*`, `"1", "2"`, `"1`, `1"`, `"+1"`, `"0x1"`, `"1e3"`, `"9999999999999999999"`} {
		if got, ok := ParseETag(in); ok {
			t.Errorf("ParseETag(%q) = %d, accepted", in, got)
		}
	}
}

func FuzzParseETag(f *testing.F) {
	for _, s := range []string{`"1"`, `W/"1"`, `*`, `"0"`, `""`, `12345`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := ParseETag(s)
		if !ok {
			return
		}
		if v < 1 {
			t.Fatalf("ParseETag(%q) = %d", s, v)
		}
		// What is accepted has one canonical spelling that parses back.
		if back, ok := ParseETag(ETag(v)); !ok || back != v || ETag(v) != `"`+strconv.FormatInt(v, 10)+`"` {
			t.Fatalf("round trip of %d failed", v)
		}
	})
}

func TestValidDevice(t *testing.T) {
	for _, s := range []string{"LAPTOP-7", "Alice's MacBook Pro", "x"} {
		if !ValidDevice(s) {
			t.Errorf("ValidDevice(%q) = false", s)
		}
	}
	for _, s := range []string{"", "a\x00b", "tab\t", "é", string(make([]byte, MaxDeviceLen+1))} {
		if ValidDevice(s) {
			t.Errorf("ValidDevice(%q) = true", s)
		}
	}
}
