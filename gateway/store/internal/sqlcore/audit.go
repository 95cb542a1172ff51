package sqlcore

// The audit chain and its signed checkpoints.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mattersync/mattersync/gateway/audit"
	"github.com/mattersync/mattersync/gateway/store"
)

// appendAudit links rec to the chain head and stores it, in tx: a
// rolled-back transaction leaves no record. Where the head is a locked row
// (Dialect.AuditHead), appends from all writers are serialized on it.
func (s *Store) appendAudit(ctx context.Context, tx Querier, rec *audit.Record) error {
	if rec == nil {
		return errors.New("no audit record")
	}
	var seq int64
	var hb []byte
	err := tx.QueryRow(ctx, s.d.AuditHead).Scan(&seq, &hb)
	if err != nil && !(errors.Is(err, sql.ErrNoRows) && s.d.SetAuditHead == "") {
		return fmt.Errorf("audit head: %w", err)
	}
	var prev audit.Hash
	copy(prev[:], hb)
	// Decided now, under the head's lock (or the one writer): decision
	// times follow the chain's order, whatever the arrival times.
	rec.Decided = time.Now()
	rec.Link(seq, prev)
	if _, err := tx.Exec(ctx, `INSERT INTO audit_records (`+auditCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		auditValues(rec)...); err != nil {
		return fmt.Errorf("audit append: %w", err)
	}
	if s.d.SetAuditHead != "" {
		if _, err := tx.Exec(ctx, s.d.SetAuditHead, rec.Seq, rec.Hash[:]); err != nil {
			return fmt.Errorf("audit head: %w", err)
		}
	}
	return nil
}

// auditWriteTimeout bounds one group's transaction: a store that hangs
// answers its callers with an error (503) instead of holding them forever.
const auditWriteTimeout = 10 * time.Second

// AppendAudit implements gateway.AuditStore. Records of concurrent calls
// (reads, refusals: every request that changes nothing) share one write
// transaction, a group commit: a download of many files used to wait for
// one transaction, and its fsync, per chunk and manifest, one after the
// other on the store's writer. A writer goroutine, not a caller, writes the
// groups, so no request waits for other requests' groups after its own.
// Each call returns nil only once its own record is durable in the chain
// (fail closed), and a group that fails is tried again record by record,
// so one bad record fails only its request. A caller whose context ends
// before its record was taken into a group gets an error and its record is
// never written: the chain holds no record of an access that was refused.
func (s *Store) AppendAudit(ctx context.Context, rec *audit.Record) error {
	r := &auditReq{rec: rec, done: make(chan error, 1)}
	g := &s.audits
	g.mu.Lock()
	g.pending = append(g.pending, r)
	if !g.writing {
		g.writing = true
		go s.writeAudits()
	}
	g.mu.Unlock()
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
	}
	g.mu.Lock()
	taken := r.taken
	if !taken {
		r.abandoned = true
	}
	g.mu.Unlock()
	if !taken {
		return fmt.Errorf("%s: audit append: %w", s.d.Name, ctx.Err())
	}
	// Its transaction is under way (bounded by auditWriteTimeout): its
	// outcome is the answer.
	return <-r.done
}

// writeAudits writes the waiting records, group after group, until none
// wait.
func (s *Store) writeAudits() {
	g := &s.audits
	for {
		g.mu.Lock()
		var group []*auditReq
		for _, r := range g.pending {
			if !r.abandoned {
				r.taken = true
				group = append(group, r)
			}
		}
		g.pending = nil
		if len(group) == 0 {
			g.writing = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		s.writeAuditGroup(group)
	}
}

// writeAuditGroup appends group's records in one transaction, or, when that
// fails, each in its own, and answers every caller.
func (s *Store) writeAuditGroup(group []*auditReq) {
	ctx, cancel := context.WithTimeout(context.Background(), auditWriteTimeout)
	err := s.db.Write(ctx, func(tx Querier) error {
		for _, p := range group {
			if err := s.appendAudit(ctx, tx, p.rec); err != nil {
				return err
			}
		}
		return nil
	})
	cancel()
	if err == nil || len(group) == 1 || ctx.Err() != nil {
		// A timeout says the store hangs, not that a record is bad:
		// trying each record again would hold the writer N times as long.
		if err != nil {
			err = fmt.Errorf("%s: %w", s.d.Name, err)
		}
		for _, p := range group {
			p.done <- err
		}
		return
	}
	// One record may be at fault: each alone, all within one more bound.
	rctx, rcancel := context.WithTimeout(context.Background(), auditWriteTimeout)
	defer rcancel()
	for _, p := range group {
		p.done <- s.appendOne(rctx, p.rec)
	}
}

// appendOne appends rec in a transaction of its own.
func (s *Store) appendOne(ctx context.Context, rec *audit.Record) error {
	if err := s.db.Write(ctx, func(tx Querier) error { return s.appendAudit(ctx, tx, rec) }); err != nil {
		return fmt.Errorf("%s: %w", s.d.Name, err)
	}
	return nil
}

// auditGroup collects the records of concurrent AppendAudit calls for the
// writer goroutine (at most one runs).
type auditGroup struct {
	mu      sync.Mutex // guards pending, writing and each request's taken and abandoned
	pending []*auditReq
	writing bool
}

type auditReq struct {
	rec       *audit.Record
	done      chan error
	taken     bool // in a group being written: the caller must wait for it
	abandoned bool // the caller left first: never written
}

// AuditHead implements gateway.AuditStore. It reads the last record, not
// a head row, so a verifier sees what the records say.
func (s *Store) AuditHead(ctx context.Context) (int64, audit.Hash, error) {
	var seq int64
	var hb []byte
	var h audit.Hash
	err := s.db.Read().QueryRow(ctx, `SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hb)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, h, nil
	}
	if err != nil {
		return 0, h, s.wrap("audit head", err)
	}
	copy(h[:], hb)
	return seq, h, nil
}

// AuditRecords implements gateway.AuditStore. Errors reading the records
// are wrapped; fn's come back as they are.
func (s *Store) AuditRecords(ctx context.Context, q audit.Query, fn func(*audit.Record) error) error {
	query, args := auditQuery(q)
	rows, err := s.db.Read().Query(ctx, query, args...)
	if err != nil {
		return s.wrap("audit records", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanAuditRecord(rows)
		if err != nil {
			return s.wrap("audit records", err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.wrap("audit records", err)
	}
	return nil
}

// AddCheckpoint implements gateway.AuditStore.
func (s *Store) AddCheckpoint(ctx context.Context, c audit.Checkpoint) error {
	err := s.db.Write(ctx, func(tx Querier) error {
		if s.d.CheckpointLock != "" {
			if _, err := tx.Exec(ctx, s.d.CheckpointLock); err != nil {
				return err
			}
		}
		var last int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM audit_checkpoints`).Scan(&last); err != nil {
			return err
		}
		if last != c.PrevSeq || c.Seq <= last {
			return store.ErrCheckpointConflict
		}
		_, err := tx.Exec(ctx, `INSERT INTO audit_checkpoints (`+checkpointCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			c.Seq, c.KeyID, c.Hash[:], c.Time.UnixMicro(), c.Signature, checkpointVersion(c), c.PrevSeq, c.Prev[:])
		return err
	})
	if errors.Is(err, store.ErrCheckpointConflict) {
		return err
	}
	if err != nil {
		return s.wrap("add checkpoint", err)
	}
	return nil
}

// LastCheckpoint implements gateway.AuditStore.
func (s *Store) LastCheckpoint(ctx context.Context) (audit.Checkpoint, error) {
	c, err := scanCheckpoint(s.db.Read().QueryRow(ctx, `SELECT `+checkpointCols+` FROM audit_checkpoints ORDER BY seq DESC, key_id LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return c, store.ErrNotFound
	}
	if err != nil {
		return c, s.wrap("last checkpoint", err)
	}
	return c, nil
}

// Checkpoints implements gateway.AuditStore.
func (s *Store) Checkpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	out, err := queryAll(ctx, s.db.Read(), nil, scanCheckpoint, `SELECT `+checkpointCols+` FROM audit_checkpoints ORDER BY seq, key_id`)
	if err != nil {
		return nil, s.wrap("checkpoints", err)
	}
	return out, nil
}
