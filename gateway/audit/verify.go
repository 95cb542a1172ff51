package audit

import (
	"context"
	"crypto/ed25519"
	"fmt"
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
	LastCheckpoint int64    `json:"last_checkpoint"`
	Problem        *Problem `json:"problem,omitempty"`
}

// Source yields the whole chain in ascending sequence order, and the
// checkpoints. Both stores and a JSON-lines export implement it.
type Source interface {
	AuditRecords(ctx context.Context, q Query, fn func(*Record) error) error
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
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

// Verify walks the whole chain of src and checks every link and every
// checkpoint against the trusted keys. It reports the first problem in
// sequence order; an error means the source could not be read.
func Verify(ctx context.Context, src Source, keys []ed25519.PublicKey) (Report, error) {
	cps, err := src.Checkpoints(ctx)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Checkpoints: len(cps)}
	bySeq := make(map[int64][]Checkpoint, len(cps))
	for _, c := range cps {
		bySeq[c.Seq] = append(bySeq[c.Seq], c)
	}
	var (
		prevSeq int64
		prev    Hash
		problem *Problem
	)
	fail := func(seq int64, format string, args ...any) {
		if problem == nil || seq < problem.Seq {
			problem = &Problem{Seq: seq, Reason: fmt.Sprintf(format, args...)}
		}
	}
	err = src.AuditRecords(ctx, Query{}, func(r *Record) error {
		if problem != nil {
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
		prevSeq, prev = r.Seq, r.Hash
		rep.Records++
		return nil
	})
	if err != nil && err != errStop {
		return Report{}, err
	}
	for _, c := range cps {
		if c.Seq > rep.LastCheckpoint && c.Seq <= prevSeq {
			rep.LastCheckpoint = c.Seq
		}
		if problem == nil && c.Seq > prevSeq {
			if err := c.VerifySignature(keys); err != nil {
				fail(c.Seq, "checkpoint at record %d: %v", c.Seq, err)
			} else {
				fail(prevSeq+1, "records %d to %d are missing (a signed checkpoint covers record %d)", prevSeq+1, c.Seq, c.Seq)
			}
		}
	}
	rep.Head = prev
	rep.Problem = problem
	rep.OK = problem == nil
	return rep, nil
}

type stopError struct{}

func (stopError) Error() string { return "stop" }

var errStop error = stopError{}
