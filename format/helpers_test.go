package format

import (
	"crypto/sha256"
	"testing"
)

const (
	testMatter  = "2026-0001"
	otherMatter = "2026-0002"
)

// testEpochKey returns the deterministic epoch key used by tests and
// vectors for (matter, epoch).
func testEpochKey(matter string, epoch uint32) []byte {
	k := sha256.Sum256([]byte("mattersync test epoch key " + matter + " " + string(rune('0'+epoch))))
	return k[:]
}

func mustKeys(t testing.TB, matter string, epoch uint32) *Keys {
	t.Helper()
	fk, err := DeriveFileIDKey(matter, testEpochKey(matter, 1))
	if err != nil {
		t.Fatal(err)
	}
	k, err := DeriveKeys(fk, epoch, testEpochKey(matter, epoch))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustCodec(t testing.TB) *Codec {
	t.Helper()
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}
