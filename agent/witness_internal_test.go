package agent

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/api"
	"github.com/mattersync/mattersync/gateway/audit"
)

// extends accepts exactly the checkpoints that continue the one held: the
// same one, or a path whose links lead from it to the newest.
func TestExtends(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Now()
	chain := func(from *audit.Checkpoint, seqs ...int64) []audit.Checkpoint {
		var out []audit.Checkpoint
		prev := from
		for _, s := range seqs {
			c := audit.Sign(key, s, audit.Hash{byte(s)}, now, prev)
			out = append(out, c)
			prev = &out[len(out)-1]
		}
		return out
	}
	main := chain(nil, 10, 20, 30, 40)
	fork := chain(&main[1], 31, 41) // restored after 20, written since
	ptr := func(c audit.Checkpoint) *audit.Checkpoint { return &c }
	for _, tc := range []struct {
		name string
		held *audit.Checkpoint
		head api.MatterHead
		ok   bool
		want int64 // the checkpoint returned
	}{
		{"nothing held", nil, api.MatterHead{Checkpoint: ptr(main[3]), Path: main}, true, 40},
		{"the same", ptr(main[3]), api.MatterHead{Checkpoint: ptr(main[3])}, true, 40},
		{"extends", ptr(main[1]), api.MatterHead{Checkpoint: ptr(main[3]), Path: main[2:]}, true, 40},
		{"a page of it", ptr(main[1]), api.MatterHead{Checkpoint: ptr(main[3]), Path: main[2:3], More: true}, true, 30},
		{"older", ptr(main[3]), api.MatterHead{Checkpoint: ptr(main[1])}, false, 0},
		{"none any more", ptr(main[0]), api.MatterHead{}, false, 0},
		{"another of the same record", ptr(main[2]), api.MatterHead{Checkpoint: ptr(audit.Sign(key, 30, audit.Hash{9}, now, &main[1]))}, false, 0},
		{"forked branch", ptr(main[2]), api.MatterHead{Checkpoint: ptr(fork[1]), Path: fork[1:]}, false, 0},
		{"forked branch, path left out", ptr(main[2]), api.MatterHead{Checkpoint: ptr(fork[1])}, false, 0},
		{"a path that does not end at the newest", ptr(main[1]), api.MatterHead{Checkpoint: ptr(fork[1]), Path: main[2:]}, false, 0},
	} {
		got, err := extends(tc.held, &tc.head)
		if (err == nil) != tc.ok || (err == nil && got.Seq != tc.want) {
			t.Errorf("%s: %v, %v; want ok=%v at %d", tc.name, got, err, tc.ok, tc.want)
		}
	}
	// Signed heads: a head signed by another key does not verify.
	h := api.MatterHead{Matter: "m1", Seq: 4, Checkpoint: ptr(main[3]), Path: main[2:], Time: now}
	h.Signature = ed25519.Sign(key, api.HeadMessage(&h))
	pub := key.Public().(ed25519.PublicKey)
	if err := api.VerifyHead(pub, &h); err != nil {
		t.Fatal(err)
	}
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	if api.VerifyHead(other, &h) == nil {
		t.Fatal("a head verifies with another key")
	}
	h.At = &api.Change{Seq: 4, FileID: "f", Version: 1}
	if api.VerifyHead(pub, &h) == nil {
		t.Fatal("a head with a change added verifies")
	}
}
