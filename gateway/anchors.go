package gateway

// Copies of the signed checkpoints outside the database (gateway/anchor):
// every checkpoint this replica signs goes to each anchor (S3 under Object
// Lock, the head in Vault); a copy that cannot be written now is retried at
// the next checkpoint. When the process signs its first checkpoint it
// checks that the database is not behind the anchors (restored from an
// older copy, or its tail deleted): the anchors hold what a database writer
// cannot take back.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mattersync/mattersync/gateway/anchor"
	"github.com/mattersync/mattersync/gateway/audit"
)

// Anchor keeps copies of signed checkpoints outside the database
// (anchor.S3, anchor.Head).
type Anchor interface {
	audit.Witness
	// Put stores a copy of c.
	Put(ctx context.Context, c audit.Checkpoint) error
	// Since calls fn for the copies of records from seq on.
	Since(ctx context.Context, seq int64, fn func(*audit.Witnessed) error) error
}

// maxPendingAnchors bounds the checkpoints queued for an anchor that
// cannot be written (a week of one-minute checkpoints); older ones are
// dropped with an error (verify lists them as not anchored).
const maxPendingAnchors = 10080

// anchoring is the signer's state for the anchors; guarded by signer.mu.
type anchoring struct {
	pending [][]audit.Checkpoint // per anchor, oldest first
	checked bool                 // the startup check ran
	behind  bool                 // the database is behind the anchors
}

type anchorMetrics struct {
	written  *prometheus.CounterVec
	failures *prometheus.CounterVec
	pending  *prometheus.GaugeVec
	behind   prometheus.Gauge
}

func newAnchorMetrics(reg prometheus.Registerer) (*anchorMetrics, error) {
	const ns = "mattersync_gateway"
	m := &anchorMetrics{
		written: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "audit_anchors_written_total",
			Help: "Checkpoint copies written outside the database, by anchor (s3, vault)."}, []string{"anchor"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "audit_anchor_failures_total",
			Help: "Failed attempts to write a checkpoint copy outside the database, by anchor (retried at the next checkpoint)."}, []string{"anchor"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "audit_anchors_pending",
			Help: "Signed checkpoints not yet copied to the anchor."}, []string{"anchor"}),
		behind: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "audit_behind_anchors",
			Help: "1 if the database lacks checkpoints its anchors hold: restored from an older copy, or its newest records deleted."}),
	}
	for _, c := range []prometheus.Collector{m.written, m.failures, m.pending, m.behind} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// anchorLabel is an anchor's metric label.
func anchorLabel(a Anchor) string {
	switch a.(type) {
	case *anchor.S3:
		return "s3"
	case *anchor.Head:
		return "vault"
	}
	return "other"
}

// Witnesses are the anchors as audit.Verify reads them.
func (s *Server) Witnesses() []audit.Witness {
	out := make([]audit.Witness, len(s.anchors))
	for i, a := range s.anchors {
		out[i] = a
	}
	return out
}

// anchorCheckpoint queues c for every anchor and writes what is queued;
// called with signer.mu held.
func (s *Server) anchorCheckpoint(ctx context.Context, c *audit.Checkpoint) {
	g := &s.signer.anchoring
	if len(g.pending) != len(s.anchors) {
		g.pending = make([][]audit.Checkpoint, len(s.anchors))
	}
	for i, a := range s.anchors {
		if c != nil {
			g.pending[i] = append(g.pending[i], *c)
			if n := len(g.pending[i]); n > maxPendingAnchors {
				drop := g.pending[i][0]
				g.pending[i] = g.pending[i][1:]
				s.log.Error("audit anchor backlog full: a checkpoint will never be copied outside the database", "anchor", a.Name(), "seq", drop.Seq)
			}
		}
		label := anchorLabel(a)
		for len(g.pending[i]) > 0 {
			cp := g.pending[i][0]
			actx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := a.Put(actx, cp)
			cancel()
			var be *anchor.BehindError
			if errors.As(err, &be) {
				err = s.behindHead(ctx, be)
			}
			if err != nil {
				s.anchorMetrics.failures.WithLabelValues(label).Inc()
				s.log.Error("audit anchor write failed; retried at the next checkpoint", "anchor", a.Name(), "seq", cp.Seq,
					"pending", len(g.pending[i]), "err", err)
				break
			}
			s.anchorMetrics.written.WithLabelValues(label).Inc()
			g.pending[i] = g.pending[i][1:]
		}
		s.anchorMetrics.pending.WithLabelValues(label).Set(float64(len(g.pending[i])))
	}
}

// behindHead handles a head in Vault newer than the checkpoint being
// written: fine if this database holds that head (another replica signed it
// meanwhile), else the database is behind its anchors.
func (s *Server) behindHead(ctx context.Context, be *anchor.BehindError) error {
	last, err := s.auditLog.LastCheckpoint(ctx)
	if err == nil && last.Seq >= be.Head.Seq {
		return nil
	}
	s.noteBehind(ctx, be.Head.Seq, be.Where, be.Error())
	return nil // the head stays where it is: it names what the database lost
}

// checkAnchors is the startup check: no anchor may hold a genuine
// checkpoint past the database's newest (last), nor another at its record.
// It also queues last for the anchors that lack it (a crash between
// signing and copying). Called with signer.mu held, once per process.
func (s *Server) checkAnchors(ctx context.Context, last *audit.Checkpoint) {
	g := &s.signer.anchoring
	if g.checked || len(s.anchors) == 0 {
		return
	}
	g.checked = true
	var from int64 = 1
	if last != nil {
		from = last.Seq
	}
	if len(g.pending) != len(s.anchors) {
		g.pending = make([][]audit.Checkpoint, len(s.anchors))
	}
	for i, a := range s.anchors {
		has := false
		err := a.Since(ctx, from, func(w *audit.Witnessed) error {
			if last != nil && w.Seq == last.Seq && w.Hash == last.Hash {
				has = true
				return nil
			}
			if last != nil && w.Seq < last.Seq {
				return nil
			}
			var c audit.Checkpoint
			var err error
			switch {
			case w.Checkpoint != nil:
				c = *w.Checkpoint
			case w.Open != nil:
				c, err = w.Open(ctx)
			default:
				err = errors.New("no checkpoint")
			}
			if err == nil {
				err = c.VerifySignature(s.keys)
			}
			if err != nil || c.Seq != w.Seq || c.Hash != w.Hash {
				s.log.Warn("audit anchor holds a copy no trusted key signed (ignored)", "where", w.Where, "seq", w.Seq, "err", err)
				return nil
			}
			have := int64(0)
			if last != nil {
				have = last.Seq
			}
			s.noteBehind(ctx, w.Seq, w.Where, fmt.Sprintf("the database's newest checkpoint is of record %d, but %s holds a signed checkpoint of record %d (hash %s)", have, w.Where, w.Seq, w.Hash))
			return errStopAnchors
		})
		if err != nil && !errors.Is(err, errStopAnchors) {
			s.anchorMetrics.failures.WithLabelValues(anchorLabel(a)).Inc()
			s.log.Error("audit anchors unreadable at startup; the database is not checked against them", "anchor", a.Name(), "err", err)
			continue
		}
		if last != nil && !has && !g.behind {
			g.pending[i] = append(g.pending[i], *last)
		}
	}
}

var errStopAnchors = errors.New("stop")

// noteBehind reports, once per process, that the database lacks what its
// anchors hold. The replica keeps serving and signing (after a restore from
// backup, the firm decides); verify names the records lost, and the alert
// rules see the integrity event.
func (s *Server) noteBehind(ctx context.Context, seq int64, where, detail string) {
	g := &s.signer.anchoring
	s.anchorMetrics.behind.Set(1)
	if g.behind {
		return
	}
	g.behind = true
	s.integrityAlert(ctx, fmt.Sprintf("behind-%d", seq), "audit log behind its anchors: "+detail)
	s.log.LogAttrs(ctx, slog.LevelError, "audit log behind its anchors",
		slog.Int64("anchored_seq", seq), slog.String("where", where), slog.String("detail", detail),
		slog.String("action", "records up to the anchored checkpoint are missing from the database (restored from an older copy, or deleted): run mattersync-admin audit verify"))
}
