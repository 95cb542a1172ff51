package gateway

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

// AuditStore keeps the hash-chained audit log and its signed checkpoints
// (every request's record, the checkpoint signer, audit export and
// verification). It is an audit.Source.
type AuditStore interface {
	// AppendAudit links rec to the chain head and stores it (a record
	// without a change; a change stores its record itself).
	AppendAudit(ctx context.Context, rec *audit.Record) error
	// AuditHead returns the last record's sequence number and hash (0 and
	// zero hash for an empty chain).
	AuditHead(ctx context.Context) (int64, audit.Hash, error)
	// AuditRecords calls fn for each record matching q, in Seq order.
	AuditRecords(ctx context.Context, q audit.Query, fn func(*audit.Record) error) error
	// AddCheckpoint stores a signed checkpoint if the latest stored one is
	// the one it follows (c.PrevSeq; 0: none stored), atomically, so the
	// checkpoints of all replicas form one chain. Otherwise it stores
	// nothing and returns store.ErrCheckpointConflict (another replica
	// signed first: read the latest and sign again).
	AddCheckpoint(ctx context.Context, c audit.Checkpoint) error
	// LastCheckpoint returns the checkpoint with the highest Seq, or
	// store.ErrNotFound.
	LastCheckpoint(ctx context.Context) (audit.Checkpoint, error)
	// Checkpoints returns every checkpoint in Seq order.
	Checkpoints(ctx context.Context) ([]audit.Checkpoint, error)
}

// signer signs audit checkpoints, and refuses to sign a head that does not
// continue the chain this replica saw before: someone with write access to
// the database could rewrite the records (recomputing every hash), delete
// the tail and the checkpoints; the database alone would then verify.
//
// It remembers, in memory, the last head it verified (anchor) and the
// newest checkpoint it knows exists (known). Before signing, the records
// must run unbroken from the anchor to the new head, through the newest
// stored checkpoint, and no checkpoint it knew may have disappeared. If
// not, the chain is marked broken for the life of the process: nothing more
// is signed, /readyz fails its audit check, mattersync_gateway_audit_chain_broken
// is 1 and every attempt logs "audit chain broken".
type signer struct {
	mu     sync.Mutex // one checkpoint at a time; guards the fields below
	anchor audit.Anchor
	known  *audit.Checkpoint
	broken *audit.BrokenError // sticky
	// anchoring: the copies outside the database (anchors.go).
	anchoring anchoring
}

// chainBroken reports whether this replica found the audit chain broken.
func (s *Server) chainBroken() bool {
	s.signer.mu.Lock()
	defer s.signer.mu.Unlock()
	return s.signer.broken != nil
}

// Checkpoint signs the current audit chain head if it moved since the
// latest stored checkpoint, after checking the chain continues what this
// replica saw before. A broken chain is an error and is never signed.
func (s *Server) Checkpoint(ctx context.Context) error {
	g := &s.signer
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.broken != nil {
		s.log.Error("audit chain broken", "seq", g.broken.Seq, "reason", g.broken.Reason, "anchor", g.anchor.String(), "action", "refusing to sign checkpoints until restart")
		return fmt.Errorf("gateway: refusing to sign an audit checkpoint: %w", g.broken)
	}
	for range 5 {
		done, err := s.checkpointOnce(ctx)
		if done || err != nil {
			return err
		}
	}
	return errors.New("gateway: audit checkpoint: other replicas kept signing first")
}

// checkpointOnce makes one attempt; done is false if another replica
// stored a checkpoint in between (try again).
func (s *Server) checkpointOnce(ctx context.Context) (done bool, err error) {
	g := &s.signer
	// The latest checkpoint first, then the head: a head read later is
	// never older than a checkpoint read before it.
	var last *audit.Checkpoint
	switch c, err := s.auditLog.LastCheckpoint(ctx); {
	case err == nil:
		last = &c
	case !errors.Is(err, store.ErrNotFound):
		return false, err
	}
	seq, head, err := s.auditLog.AuditHead(ctx)
	if err != nil {
		return false, err
	}
	if last != nil {
		if err := last.VerifySignature(s.keys); err != nil {
			return false, s.markBroken(&audit.BrokenError{Seq: last.Seq, Reason: fmt.Sprintf("the newest stored checkpoint (record %d) does not verify: %v", last.Seq, err)})
		}
	}
	// Once per process: is the database behind the copies outside it?
	s.checkAnchors(ctx, last)
	if k := g.known; k != nil {
		switch {
		case last == nil || last.Seq < k.Seq:
			return false, s.markBroken(&audit.BrokenError{Seq: k.Seq, Reason: fmt.Sprintf("the checkpoint of record %d (hash %s) signed at %s is gone from the store: checkpoints were deleted",
				k.Seq, k.Hash, k.Time.Format(time.RFC3339))})
		case last.Seq == k.Seq && last.Digest() != k.Digest():
			return false, s.markBroken(&audit.BrokenError{Seq: k.Seq, Reason: fmt.Sprintf("the checkpoint of record %d was replaced", k.Seq)})
		}
	}
	from := g.anchor
	if from.Seq == 0 && last != nil {
		// First checkpoint of this process: start from the newest
		// signed one, which must match its record.
		from = audit.Anchor{Seq: last.Seq, Hash: last.Hash}
	}
	var also []audit.Anchor
	if last != nil {
		also = append(also, audit.Anchor{Seq: last.Seq, Hash: last.Hash})
	}
	to := audit.Anchor{Seq: seq, Hash: head}
	if err := audit.CheckSpan(ctx, s.auditLog, from, to, also...); err != nil {
		var be *audit.BrokenError
		if errors.As(err, &be) {
			return false, s.markBroken(be)
		}
		return false, err
	}
	if seq == 0 || (last != nil && last.Seq == seq) {
		// Nothing new to sign; the chain up to the head is as it was.
		g.anchor, g.known = to, last
		s.anchorCheckpoint(ctx, nil) // copies still pending
		return true, nil
	}
	c := audit.Sign(s.key, seq, head, time.Now(), last)
	if err := s.auditLog.AddCheckpoint(ctx, c); err != nil {
		if errors.Is(err, store.ErrCheckpointConflict) {
			return false, nil
		}
		return false, err
	}
	g.anchor, g.known = to, &c
	// A copy outside the database: the firm's SIEM keeps these lines, and
	// `mattersync-admin audit verify --expect-checkpoint <anchor>` checks
	// the log still holds them.
	s.log.LogAttrs(ctx, slog.LevelInfo, "audit checkpoint signed",
		slog.Int64("seq", c.Seq), slog.String("hash", c.Hash.String()), slog.Time("checkpoint_time", c.Time),
		slog.String("key_id", c.KeyID), slog.String("signature", base64.StdEncoding.EncodeToString(c.Signature)),
		slog.Int64("prev_seq", c.PrevSeq), slog.String("prev", c.Prev.String()), slog.String("anchor", audit.Anchor{Seq: c.Seq, Hash: c.Hash}.String()))
	s.metrics.checkpoints.Inc()
	s.anchorCheckpoint(ctx, &c)
	return true, nil
}

// markBroken records that the chain does not continue what this replica
// saw; called with signer.mu held.
func (s *Server) markBroken(be *audit.BrokenError) error {
	s.signer.broken = be
	s.metrics.chainBroken.Set(1)
	s.log.Error("audit chain broken", "seq", be.Seq, "reason", be.Reason, "anchor", s.signer.anchor.String(),
		"action", "refusing to sign checkpoints until restart")
	s.integrityAlert(context.Background(), "chain-"+strconv.FormatInt(be.Seq, 10), "audit chain broken at record "+strconv.FormatInt(be.Seq, 10)+": "+be.Reason)
	return fmt.Errorf("gateway: refusing to sign an audit checkpoint: %w", be)
}
