package agent

import (
	"encoding/hex"
	"errors"
	"testing"

	"github.com/mattersync/mattersync/format"
	"github.com/mattersync/mattersync/gateway/api"
)

// A manifest must list exactly the chunks the gateway recorded for its
// version (issue 19); versions from before the gateway recorded them pass.
func TestBoundChunks(t *testing.T) {
	a, b := format.ID{1}, format.ID{2}
	man := &format.Manifest{Chunks: []format.ChunkRef{{ID: a, Size: 1}, {ID: b, Size: 1}, {ID: a, Size: 1}}}
	sum := func(ids ...format.ID) string { s := api.ChunkListSum(ids); return hex.EncodeToString(s[:]) }
	for _, c := range []struct {
		recorded string
		ok       bool
	}{
		{sum(a, b, a), true},
		{"", true},
		{sum(a, b), false},
		{sum(b, a, a), false},
		{sum(a, b, a, a), false},
	} {
		err := boundChunks(api.FileVersion{ChunkListSHA256: c.recorded}, man, 3)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, errTampered)) || (err != nil && !integrity(err)) {
			t.Errorf("recorded %q: %v, want ok=%v (else tampered, an integrity event)", c.recorded, err, c.ok)
		}
	}
}
