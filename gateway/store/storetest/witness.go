package storetest

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

// testWitness: the checkpoints after one (paged), and each matter's
// resyncs, numbered in turn, with the matter's feed head and the audit
// record in the same transaction.
func testWitness(t *testing.T, h Harness) {
	s := h.Open(t)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	var prev *audit.Checkpoint
	for range 5 {
		if err := s.Audit.AppendAudit(ctx(t), Rec("matters.list", "")); err != nil {
			t.Fatal(err)
		}
		seq, hash, err := s.Audit.AuditHead(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		c := audit.Sign(key, seq, hash, time.Now(), prev)
		if err := s.Audit.AddCheckpoint(ctx(t), c); err != nil {
			t.Fatal(err)
		}
		prev = &c
	}
	all, err := s.Witness.CheckpointsAfter(ctx(t), 0, 100)
	if err != nil || len(all) != 5 {
		t.Fatalf("CheckpointsAfter(0): %d, %v", len(all), err)
	}
	page, err := s.Witness.CheckpointsAfter(ctx(t), all[1].Seq, 2)
	if err != nil || len(page) != 2 || page[0].Digest() != all[2].Digest() || page[1].Prev != all[2].Digest() {
		t.Fatalf("CheckpointsAfter(%d, 2): %+v, %v", all[1].Seq, page, err)
	}
	if _, err := s.Witness.LastResync(ctx(t), "m1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LastResync of a matter never resynced: %v", err)
	}
	mustCommit(t, s, store.Commit{Matter: "m1", File: RandomID(t), Base: 0, Size: 10, Entity: "e-1", User: "alice", Device: "d"})
	before := auditCount(t, s)
	for want := int64(1); want <= 2; want++ {
		r, err := s.Witness.AddResync(ctx(t), store.Resync{Matter: "m1", By: "it", Reason: "restored", Time: time.Now()}, Rec("admin.matter.resync", "m1"))
		if err != nil || r.N != want || r.Seq != 1 {
			t.Fatalf("resync %d: %+v, %v", want, r, err)
		}
	}
	if r, err := s.Witness.LastResync(ctx(t), "m1"); err != nil || r.N != 2 || r.By != "it" || r.Reason != "restored" || r.Seq != 1 {
		t.Fatalf("LastResync: %+v, %v", r, err)
	}
	if r, err := s.Witness.AddResync(ctx(t), store.Resync{Matter: "m2", By: "it", Reason: "x", Time: time.Now()}, Rec("admin.matter.resync", "m2")); err != nil || r.N != 1 || r.Seq != 0 {
		t.Fatalf("resync of another matter: %+v, %v", r, err)
	}
	if n := auditCount(t, s) - before; n != 3 {
		t.Fatalf("%d audit records for 3 resyncs", n)
	}
}
