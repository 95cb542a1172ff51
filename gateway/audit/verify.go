package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Problem is the first broken link a verification found.
type Problem struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

// Report is the outcome of Verify.
type Report struct {
	OK          bool  `json:"ok"`
	Records     int64 `json:"records"`
	Head        Hash  `json:"head"`
	Checkpoints int   `json:"checkpoints"`
	// LastCheckpoint is the highest record covered by a valid checkpoint:
	// records after it are protected by the links alone, so a truncated
	// tail is only caught once a later checkpoint exists.
	LastCheckpoint int64 `json:"last_checkpoint"`
	// LastCheckpointTime is when that checkpoint was signed.
	LastCheckpointTime time.Time `json:"last_checkpoint_time,omitzero"`
	Problem            *Problem  `json:"problem,omitempty"`
}

// Source yields the whole chain in ascending sequence order, and the
// checkpoints. Both stores and a JSON-lines export implement it.
type Source interface {
	RecordSource
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
}

// RecordSource yields audit records.
type RecordSource interface {
	AuditRecords(ctx context.Context, q Query, fn func(*Record) error) error
}

// Query selects audit records. Zero fields do not filter. Records come in
// ascending Seq order.
type Query struct {
	AfterSeq int64 // only records with Seq > AfterSeq
	Since    int64 // Unix microseconds, inclusive
	Until    int64 // Unix microseconds, exclusive
	Matter   string
	User     string
	Entity   string
	Limit    int
}

// VerifyOptions add the checks that need more than the chain itself.
type VerifyOptions struct {
	// CheckpointInterval is how often the gateway signs checkpoints. When
	// set, Verify also fails if checkpoints are missing where a signing
	// gateway would have made them: no checkpoint at all while the records
	// span more than 2 intervals, or records not covered by any checkpoint
	// spanning more than MaxCheckpointAge (both measured against the newest
	// record's time, so a backup verifies the same any day).
	CheckpointInterval time.Duration
	// MaxCheckpointAge defaults to 5 intervals.
	MaxCheckpointAge time.Duration
	// Expect are checkpoints known from outside the database (the SIEM's
	// copies of the gateway's "audit checkpoint signed" log lines): each
	// must be stored, validly signed, and match its record.
	Expect []Anchor
}

// DefaultMaxAge is MaxCheckpointAge when it is not set: 5 intervals.
func DefaultMaxAge(interval time.Duration) time.Duration { return 5 * interval }

// Verify walks the whole chain of src and checks every link and every
// checkpoint against the trusted keys, the checkpoints' own chain, and the
// rules of opts. It reports the first problem in sequence order; an error
// means the source could not be read.
func Verify(ctx context.Context, src Source, keys []ed25519.PublicKey, opts VerifyOptions) (Report, error) {
	cps, err := src.Checkpoints(ctx)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Checkpoints: len(cps)}
	var problem *Problem
	fail := func(seq int64, format string, args ...any) {
		if problem == nil || seq < problem.Seq {
			problem = &Problem{Seq: seq, Reason: fmt.Sprintf(format, args...)}
		}
	}
	bySeq := make(map[int64][]Checkpoint, len(cps))
	valid := make(map[Hash]Checkpoint, len(cps)) // by digest
	var newestValid, oldestValid int64
	for _, c := range cps {
		bySeq[c.Seq] = append(bySeq[c.Seq], c)
		if c.VerifySignature(keys) == nil {
			valid[c.Digest()] = c
			newestValid = max(newestValid, c.Seq)
			if oldestValid == 0 || c.Seq < oldestValid {
				oldestValid = c.Seq
			}
		}
	}
	// The checkpoints' own chain: each names the one before it, so one
	// deleted from the middle is missed by the next.
	for _, c := range valid {
		if !c.Chained() {
			continue
		}
		if c.PrevSeq == 0 {
			if oldestValid < c.Seq {
				fail(c.Seq, "the checkpoint at record %d starts a new checkpoint chain although older checkpoints exist (checkpoints were deleted when it was signed)", c.Seq)
			}
			continue
		}
		if p, ok := valid[c.Prev]; !ok || p.Seq != c.PrevSeq || c.PrevSeq >= c.Seq {
			fail(c.PrevSeq, "the checkpoint at record %d is missing or altered (the checkpoint at record %d follows it): checkpoints were deleted", c.PrevSeq, c.Seq)
		}
	}
	expect := make(map[int64][]Hash, len(opts.Expect))
	for _, a := range opts.Expect {
		expect[a.Seq] = append(expect[a.Seq], a.Hash)
		found := false
		for _, c := range bySeq[a.Seq] {
			found = found || (c.Hash == a.Hash && c.VerifySignature(keys) == nil)
		}
		if !found {
			fail(a.Seq, "the expected checkpoint %s is not in the log (deleted, or the chain was rewritten)", a)
		}
	}
	var (
		prevSeq   int64
		prev      Hash
		first     time.Time // record 1's time
		newest    time.Time // the last record's time
		uncovered time.Time // time of the first record after the newest valid checkpoint
	)
	err = src.AuditRecords(ctx, Query{}, func(r *Record) error {
		if problem != nil && problem.Seq <= r.Seq {
			return errStop
		}
		switch {
		case r.Seq != prevSeq+1:
			fail(prevSeq+1, "record %d is missing (next record is %d)", prevSeq+1, r.Seq)
		case r.PrevHash != prev:
			fail(r.Seq, "record %d does not link to record %d (inserted, or the previous record was replaced)", r.Seq, prevSeq)
		case r.Sum() != r.Hash:
			fail(r.Seq, "record %d was modified (its hash does not match its content)", r.Seq)
		}
		for _, c := range bySeq[r.Seq] {
			if err := c.VerifySignature(keys); err != nil {
				fail(r.Seq, "checkpoint at record %d: %v", r.Seq, err)
			} else if c.Hash != r.Hash {
				fail(r.Seq, "record %d differs from the signed checkpoint (chain rewritten up to here)", r.Seq)
			}
		}
		for _, h := range expect[r.Seq] {
			if h != r.Hash {
				fail(r.Seq, "record %d differs from the expected checkpoint %s (chain rewritten up to here)", r.Seq, Anchor{r.Seq, h})
			}
		}
		if r.Seq == 1 {
			first = r.Time
		}
		if r.Seq == newestValid+1 {
			uncovered = r.Time
		}
		newest = r.Time
		prevSeq, prev = r.Seq, r.Hash
		rep.Records++
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return Report{}, err
	}
	sorted := append([]Checkpoint(nil), cps...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Seq < sorted[j].Seq })
	for _, c := range sorted {
		if c.Seq <= prevSeq && c.Seq >= rep.LastCheckpoint && c.VerifySignature(keys) == nil {
			rep.LastCheckpoint, rep.LastCheckpointTime = c.Seq, c.Time
		}
		if problem == nil && c.Seq > prevSeq {
			if err := c.VerifySignature(keys); err != nil {
				fail(c.Seq, "checkpoint at record %d: %v", c.Seq, err)
			} else {
				fail(prevSeq+1, "records %d to %d are missing (a signed checkpoint covers record %d)", prevSeq+1, c.Seq, c.Seq)
			}
		}
	}
	for _, a := range opts.Expect {
		if a.Seq > prevSeq {
			fail(prevSeq+1, "records %d to %d are missing (the expected checkpoint %s covers them)", prevSeq+1, a.Seq, a)
		}
	}
	// Checkpoints that should exist: a gateway signs one every interval
	// while records are written.
	if iv := opts.CheckpointInterval; iv > 0 && rep.Records > 0 && problem == nil {
		maxAge := opts.MaxCheckpointAge
		if maxAge <= 0 {
			maxAge = DefaultMaxAge(iv)
		}
		switch {
		case rep.LastCheckpoint == 0 && newest.Sub(first) > 2*iv:
			fail(1, "no signed checkpoint covers records 1 to %d, which span %s (more than 2 checkpoint intervals of %s): checkpoints were deleted, or no gateway signs them",
				prevSeq, newest.Sub(first).Round(time.Second), iv)
		case rep.LastCheckpoint > 0 && rep.LastCheckpoint < prevSeq && newest.Sub(uncovered) > maxAge:
			fail(rep.LastCheckpoint+1, "records %d to %d are not covered by a signed checkpoint and span %s (more than the maximum checkpoint age %s): checkpoints were deleted, or no gateway signs them",
				rep.LastCheckpoint+1, prevSeq, newest.Sub(uncovered).Round(time.Second), maxAge)
		}
	}
	rep.Head = prev
	rep.Problem = problem
	rep.OK = problem == nil
	return rep, nil
}

// BrokenError is a chain that does not continue from a known point.
type BrokenError struct {
	Seq    int64
	Reason string
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("audit chain broken at record %d: %s", e.Seq, e.Reason)
}

// CheckSpan checks that the chain runs unbroken from the known point from
// (Seq 0: the start of the chain) to the head to, and passes through every
// point in also that lies in between. It returns a *BrokenError if not;
// other errors mean src could not be read.
func CheckSpan(ctx context.Context, src RecordSource, from, to Anchor, also ...Anchor) error {
	if to.Seq < from.Seq {
		return &BrokenError{to.Seq + 1, fmt.Sprintf("the chain ends at record %d, but record %d (hash %s) was seen before: records were deleted", to.Seq, from.Seq, from.Hash)}
	}
	if from.Seq == to.Seq && from.Seq > 0 && from.Hash != to.Hash {
		return &BrokenError{to.Seq, fmt.Sprintf("record %d has hash %s, but %s when it was last seen: the chain was rewritten", to.Seq, to.Hash, from.Hash)}
	}
	want := map[int64]Hash{from.Seq: from.Hash, to.Seq: to.Hash}
	for _, a := range also {
		if a.Seq < from.Seq || a.Seq > to.Seq {
			continue
		}
		if h, ok := want[a.Seq]; ok && h != a.Hash {
			return &BrokenError{a.Seq, fmt.Sprintf("record %d has two known hashes, %s and %s", a.Seq, h, a.Hash)}
		}
		want[a.Seq] = a.Hash
	}
	if to.Seq == 0 {
		return nil
	}
	var broken *BrokenError
	prevSeq, prev := from.Seq, from.Hash
	q := Query{Limit: int(to.Seq)}
	seen := from.Seq == 0 // the known point was found (nothing to find at the start)
	if from.Seq > 0 {
		q = Query{AfterSeq: from.Seq - 1, Limit: int(to.Seq - from.Seq + 1)}
	}
	err := src.AuditRecords(ctx, q, func(r *Record) error {
		switch {
		case !seen:
			seen = true
			if r.Seq != from.Seq {
				broken = &BrokenError{from.Seq, fmt.Sprintf("record %d (hash %s when it was last seen) is missing: records were deleted", from.Seq, from.Hash)}
			} else if r.Hash != from.Hash {
				broken = &BrokenError{r.Seq, fmt.Sprintf("record %d has hash %s, but %s when it was last seen: the chain was rewritten", r.Seq, r.Hash, from.Hash)}
			} else if r.Sum() != r.Hash {
				broken = &BrokenError{r.Seq, fmt.Sprintf("record %d was modified", r.Seq)}
			}
			if broken != nil {
				return errStop
			}
			return nil
		case r.Seq != prevSeq+1:
			broken = &BrokenError{prevSeq + 1, fmt.Sprintf("record %d is missing", prevSeq+1)}
		case r.PrevHash != prev:
			broken = &BrokenError{r.Seq, fmt.Sprintf("record %d does not link to record %d", r.Seq, prevSeq)}
		case r.Sum() != r.Hash:
			broken = &BrokenError{r.Seq, fmt.Sprintf("record %d was modified", r.Seq)}
		}
		if h, ok := want[r.Seq]; broken == nil && ok && h != r.Hash {
			broken = &BrokenError{r.Seq, fmt.Sprintf("record %d has hash %s, but a checkpoint says %s", r.Seq, r.Hash, h)}
		}
		if broken != nil {
			return errStop
		}
		prevSeq, prev = r.Seq, r.Hash
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	if broken != nil {
		return broken
	}
	if !seen {
		return &BrokenError{from.Seq, fmt.Sprintf("record %d (hash %s when it was last seen) is missing: records were deleted", from.Seq, from.Hash)}
	}
	if prevSeq != to.Seq {
		return &BrokenError{prevSeq + 1, fmt.Sprintf("record %d is missing (the head is %d)", prevSeq+1, to.Seq)}
	}
	return nil
}

type stopError struct{}

func (stopError) Error() string { return "stop" }

var errStop error = stopError{}
