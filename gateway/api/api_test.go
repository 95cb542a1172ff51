package api

import (
	"strconv"
	"testing"

	"github.com/mattersync/mattersync/internal/fault"
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

// TestCodeFault: every code has a kind in the shared vocabulary; only
// internal is Other.
func TestCodeFault(t *testing.T) {
	for c, want := range map[Code]fault.Kind{
		CodeInvalidRequest: fault.Invalid, CodeChecksumMismatch: fault.Invalid, CodeIncompleteBody: fault.Invalid,
		CodeUnauthenticated: fault.Unauthenticated, CodeForbidden: fault.Denied, CodeRevoked: fault.Denied,
		CodeNotFound: fault.NotFound, CodeMethodNotAllowed: fault.Invalid, CodeMissingChunks: fault.Conflict,
		CodeLegalHold: fault.Refused, CodeAlreadyDeleted: fault.Conflict, CodeStaleEpoch: fault.Refused,
		CodeLengthRequired: fault.Invalid, CodeVersionMismatch: fault.Conflict, CodeTooLarge: fault.Invalid,
		CodePreconditionRequired: fault.Invalid, CodeRateLimited: fault.Unavailable, CodeInternal: fault.Other,
		CodeUnavailable: fault.Unavailable, "no_such_code": fault.Other,
		CodeSharingOff: fault.Denied, CodeShareExpired: fault.Refused, CodeShareRevoked: fault.Refused, CodeShareUsedUp: fault.Refused,
		CodeCodeWrong: fault.Denied, CodeCodeLimit: fault.Unavailable, CodeGrantInvalid: fault.Denied,
		CodeRequestExpired: fault.Refused, CodeRequestRevoked: fault.Refused, CodeRequestFull: fault.Refused, CodeDropClaimed: fault.Conflict,
	} {
		if got := c.Fault(); got != want {
			t.Errorf("%s.Fault() = %v, want %v", c, got, want)
		}
	}
}
