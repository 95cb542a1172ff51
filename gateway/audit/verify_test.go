package audit_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mattersync/mattersync/gateway/audit"
)

// memLog is a log in memory: the database's records and checkpoints.
type memLog struct {
	recs []audit.Record
	cps  []audit.Checkpoint
}

func (m *memLog) AuditRecords(_ context.Context, q audit.Query, fn func(*audit.Record) error) error {
	n := 0
	for i := range m.recs {
		r := m.recs[i]
		if r.Seq <= q.AfterSeq {
			continue
		}
		if q.Limit > 0 && n >= q.Limit {
			break
		}
		n++
		if err := fn(&r); err != nil {
			return err
		}
	}
	return nil
}

func (m *memLog) Checkpoints(context.Context) ([]audit.Checkpoint, error) {
	return slices.Clone(m.cps), nil
}

func (m *memLog) clone() *memLog {
	return &memLog{recs: slices.Clone(m.recs), cps: slices.Clone(m.cps)}
}

// memWitness holds copies of checkpoints outside the database.
type memWitness struct {
	name   string
	copies []audit.Checkpoint
}

func (w *memWitness) Name() string { return w.name }

func (w *memWitness) Witnessed(_ context.Context, fn func(*audit.Witnessed) error) error {
	cs := slices.Clone(w.copies)
	slices.SortStableFunc(cs, func(a, b audit.Checkpoint) int { return int(a.Seq - b.Seq) })
	for _, c := range cs {
		c := c
		x := &audit.Witnessed{Seq: c.Seq, Hash: c.Hash, Where: fmt.Sprintf("%s/%d", w.name, c.Seq),
			Open: func(context.Context) (audit.Checkpoint, error) { return c, nil }}
		if err := fn(x); err != nil {
			return err
		}
	}
	return nil
}

// gateway writes records the way the gateway does, signing a checkpoint
// every `every` records, each copied to the witness.
type fakeGateway struct {
	key     ed25519.PrivateKey
	log     *memLog
	wit     *memWitness
	clock   time.Time
	every   int
	lastCp  *audit.Checkpoint
	userTag string
}

func newFakeGateway(t *testing.T) *fakeGateway {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeGateway{key: key, log: &memLog{}, wit: &memWitness{name: "s3://anchors/audit"}, every: 100,
		clock: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), userTag: "alice"}
}

func (g *fakeGateway) write(n int) {
	for range n {
		var prevSeq int64
		var prev audit.Hash
		if l := len(g.log.recs); l > 0 {
			prevSeq, prev = g.log.recs[l-1].Seq, g.log.recs[l-1].Hash
		}
		g.clock = g.clock.Add(time.Second)
		r := audit.Record{Time: g.clock, Decided: g.clock, Entity: "e-1", User: g.userTag, Matter: "2026-0042", Action: "file.get", Result: "ok", Status: 200}
		r.Link(prevSeq, prev)
		g.log.recs = append(g.log.recs, r)
		if r.Seq%int64(g.every) == 0 {
			c := audit.Sign(g.key, r.Seq, r.Hash, g.clock, g.lastCp)
			g.lastCp = &c
			g.log.cps = append(g.log.cps, c)
			g.wit.copies = append(g.wit.copies, c)
		}
	}
}

func (g *fakeGateway) verify(t *testing.T, log *memLog) audit.Report {
	t.Helper()
	rep, err := audit.Verify(context.Background(), log, []ed25519.PublicKey{g.key.Public().(ed25519.PublicKey)},
		audit.VerifyOptions{CheckpointInterval: 100 * time.Second, Witnesses: []audit.Witness{g.wit}})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// hasProblem reports whether rep has a problem of kind over exactly
// from..to.
func hasProblem(rep audit.Report, kind string, from, to int64) bool {
	for _, p := range rep.Problems {
		if p.Kind == kind && p.Seq == from && p.To == to {
			return true
		}
	}
	return false
}

func describe(rep audit.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ok=%v records=%d", rep.OK, rep.Records)
	for _, p := range rep.Problems {
		fmt.Fprintf(&b, "\n  %s %d..%d (x%d): %s", p.Kind, p.Seq, p.To, p.Count, p.Reason)
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(&b, "\n  warning: %s", w)
	}
	return b.String()
}

// TestVerifyAttacks is the attacker battery on a log in memory, each
// attack reported with what is missing or changed, never intact. The
// same battery runs on SQLite and PostgreSQL with the S3 and Vault
// anchors in gateway/anchor_test.go.
func TestVerifyAttacks(t *testing.T) {
	g := newFakeGateway(t)
	g.write(1000) // checkpoints at 100, 200, ..., 1000, all anchored
	if rep := g.verify(t, g.log); !rep.OK || rep.Anchors.Matched != 10 || rep.Records != 1000 || rep.LastCheckpoint != 1000 {
		t.Fatalf("intact log: %s %+v", describe(rep), rep.Anchors)
	}
	recompute := func(l *memLog, from int) {
		for i := from; i < len(l.recs); i++ {
			var prev audit.Hash
			if i > 0 {
				prev = l.recs[i-1].Hash
			}
			l.recs[i].Link(int64(i), prev)
		}
	}
	tests := []struct {
		name   string
		attack func(l *memLog)
		want   func(rep audit.Report) bool
	}{
		{"edit a record", func(l *memLog) { l.recs[249].User = "cover-story" },
			func(rep audit.Report) bool { return hasProblem(rep, audit.ProblemModified, 250, 250) }},
		{"delete a middle range", func(l *memLog) { l.recs = slices.Delete(l.recs, 300, 400) },
			func(rep audit.Report) bool { return hasProblem(rep, audit.ProblemMissing, 301, 400) }},
		{"delete the newest records", func(l *memLog) { l.recs = l.recs[:850] },
			func(rep audit.Report) bool { return hasProblem(rep, audit.ProblemTruncated, 851, 1000) }},
		{"delete the newest records and their checkpoints", func(l *memLog) {
			l.recs, l.cps = l.recs[:850], l.cps[:8]
		}, func(rep audit.Report) bool {
			return hasProblem(rep, audit.ProblemTruncated, 851, 1000) && strings.Contains(rep.Problems[0].Reason, "anchored outside")
		}},
		{"rewrite the whole chain with recomputed hashes", func(l *memLog) {
			l.recs[4].User = "cover-story"
			recompute(l, 0)
			l.cps = nil
		}, func(rep audit.Report) bool {
			return hasProblem(rep, audit.ProblemRewritten, 100, 1000) && hasProblem(rep, audit.ProblemCheckpointMissing, 100, 1000)
		}},
		{"rewrite from record 550 and sign again with the stolen key", func(l *memLog) {
			l.recs[549].User = "cover-story"
			recompute(l, 549)
			l.cps = l.cps[:5]
			prev := l.cps[4]
			for seq := 600; seq <= 1000; seq += 100 {
				c := audit.Sign(g.key, int64(seq), l.recs[seq-1].Hash, g.clock, &prev)
				l.cps = append(l.cps, c)
				prev = c
			}
		}, func(rep audit.Report) bool {
			return hasProblem(rep, audit.ProblemRewritten, 600, 1000) && strings.Contains(rep.Problems[0].Reason, "after record 500")
		}},
		{"swap two records", func(l *memLog) {
			a, b := l.recs[499], l.recs[500]
			l.recs[499], l.recs[500] = b, a
			l.recs[499].Seq, l.recs[500].Seq = 500, 501
		}, func(rep audit.Report) bool {
			return hasProblem(rep, audit.ProblemUnlinked, 500, 500) && hasProblem(rep, audit.ProblemModified, 501, 501) && len(rep.Problems) == 4
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := g.log.clone()
			tc.attack(l)
			rep := g.verify(t, l)
			if rep.OK || !tc.want(rep) {
				t.Fatalf("got %s", describe(rep))
			}
			t.Logf("%s", describe(rep))
		})
	}
}

// A database restored from an older copy, with and without the gateway
// writing on afterwards: the records since the copy are named, and the
// fork point.
func TestVerifyRestoredCopy(t *testing.T) {
	g := newFakeGateway(t)
	g.write(600)
	backup := g.log.clone()
	backupCp := g.lastCp
	g.write(400)

	rep := g.verify(t, backup)
	if rep.OK || !hasProblem(rep, audit.ProblemTruncated, 601, 1000) || !strings.Contains(rep.Problem.Reason, "older copy of the database was restored") {
		t.Fatalf("restored copy: %s", describe(rep))
	}
	// The restored gateway writes on: records 601.. again, other hashes.
	g2 := *g
	g2.log, g2.lastCp, g2.userTag = backup, backupCp, "bob"
	g2.write(250)
	rep = g.verify(t, g2.log)
	if rep.OK || !hasProblem(rep, audit.ProblemRewritten, 700, 800) || !hasProblem(rep, audit.ProblemTruncated, 851, 1000) ||
		!strings.Contains(rep.Problems[0].Reason, "after record 600") {
		t.Fatalf("restored copy written to: %s", describe(rep))
	}
	t.Logf("%s", describe(rep))
}

// Copies in the anchor store that no trusted key signed are warnings, not
// evidence: the log stays intact.
func TestVerifyPlantedCopy(t *testing.T) {
	g := newFakeGateway(t)
	g.write(300)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	g.wit.copies = append(g.wit.copies, audit.Sign(other, 200, audit.Hash{7}, g.clock, nil), audit.Sign(other, 5000, audit.Hash{8}, g.clock, nil))
	rep := g.verify(t, g.log)
	if !rep.OK || len(rep.Warnings) != 2 || rep.Anchors.Matched != 3 {
		t.Fatalf("planted copies: %s", describe(rep))
	}
}

// Checkpoints deleted from the middle of the database are named by the
// anchors, each.
func TestVerifyDeletedCheckpoints(t *testing.T) {
	g := newFakeGateway(t)
	g.write(1000)
	l := g.log.clone()
	l.cps = slices.Delete(l.cps, 3, 6) // 400, 500, 600
	rep := g.verify(t, l)
	if rep.OK || !hasProblem(rep, audit.ProblemCheckpointMissing, 400, 600) {
		t.Fatalf("deleted checkpoints: %s", describe(rep))
	}
}
