package gateway

// Real-time alerts (package alerts): with audit.alerts.enabled, the replica
// reads every new record of the chain from the store (all replicas'
// records, in order) each audit.alerts.poll, applies the rules, and for
// each alert appends an audit record (action alert.<rule>), counts it in
// mattersync_gateway_alerts_total and queues it for the sinks (webhook,
// syslog), which never block a request. Enable it on one replica: each
// enabled replica reads the whole chain and would alert again.

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mattersync/mattersync/gateway/alerts"
	"github.com/mattersync/mattersync/gateway/audit"
)

type alerting struct {
	engine *alerts.Engine
	sinks  []alerts.Sink
	// dispatcher delivers to sinks; started by runAlerts (nil before).
	mu         sync.Mutex
	dispatcher *alerts.Dispatcher
	total      *prometheus.CounterVec
	deliveries *prometheus.CounterVec
}

func newAlerting(s *Server, sinks []alerts.Sink, reg prometheus.Registerer) (*alerting, error) {
	const ns = "mattersync_gateway"
	a := &alerting{
		sinks: sinks,
		total: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "alerts_total",
			Help: "Alerts raised by the rules on the audit stream, by rule."}, []string{"rule"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "alert_deliveries_total",
			Help: "Alert deliveries by sink (webhook, syslog) and result (ok, retry, dropped)."}, []string{"sink", "result"}),
	}
	for _, c := range []prometheus.Collector{a.total, a.deliveries} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	if !s.cfg.Audit.Alerts.Enabled {
		return a, nil
	}
	var err error
	if a.engine, err = alerts.New(s.cfg.Audit.Alerts, auditHistory{s.auditLog}); err != nil {
		return nil, err
	}
	return a, nil
}

// deliver queues al for the sinks, once runAlerts started them.
func (a *alerting) deliver(al alerts.Alert) {
	a.mu.Lock()
	d := a.dispatcher
	a.mu.Unlock()
	if d != nil {
		d.Enqueue(al)
	}
}

// auditHistory answers the first-access rule from the audit log (an
// index on entity, matter, time).
type auditHistory struct{ log AuditStore }

func (h auditHistory) Accessed(ctx context.Context, entity, matter string, since, before time.Time) (bool, error) {
	found := false
	err := h.log.AuditRecords(ctx, audit.Query{Entity: entity, Matter: matter, Since: since.UnixMicro(), Until: before.UnixMicro(),
		Result: audit.ResultOK, Actions: []string{"chunk.get", "file.get", "chunk.put", "file.commit", "file.delete"}, Limit: 1},
		func(*audit.Record) error { found = true; return nil })
	return found, err
}

func (h auditHistory) Oldest(ctx context.Context) (time.Time, error) {
	var t time.Time
	err := h.log.AuditRecords(ctx, audit.Query{Limit: 1}, func(r *audit.Record) error { t = r.Time; return nil })
	return t, err
}

// runAlerts reads the chain from its head at start and applies the rules
// until ctx ends.
func (s *Server) runAlerts(ctx context.Context) {
	a := s.alerting
	if a == nil || a.engine == nil {
		return
	}
	maxAttempts := max(s.cfg.Audit.Alerts.Webhook.MaxAttempts, 1)
	d := alerts.NewDispatcher(ctx, a.sinks, maxAttempts, func(sink, result string) { a.deliveries.WithLabelValues(sink, result).Inc() }, s.log)
	a.mu.Lock()
	a.dispatcher = d
	a.mu.Unlock()
	defer d.Wait()
	var last int64
	for {
		seq, _, err := s.auditLog.AuditHead(ctx)
		if err == nil {
			last = seq
			break
		}
		s.log.Warn("alerts: cannot read the audit head; retrying", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.cfg.Audit.Alerts.Poll):
		}
	}
	t := time.NewTicker(s.cfg.Audit.Alerts.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for {
			n := 0
			err := s.auditLog.AuditRecords(ctx, audit.Query{AfterSeq: last, Limit: 10_000}, func(r *audit.Record) error {
				n++
				last = r.Seq
				for _, al := range a.engine.Observe(ctx, r) {
					s.raiseAlert(ctx, al)
				}
				return nil
			})
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("alerts: reading the audit log failed", "err", err)
				}
				break
			}
			if n < 10_000 {
				break
			}
		}
	}
}

// raiseAlert audits, counts, logs and delivers one alert.
func (s *Server) raiseAlert(ctx context.Context, al alerts.Alert) {
	a := s.alerting
	if a == nil || a.engine == nil {
		return
	}
	a.total.WithLabelValues(al.Rule).Inc()
	obj := "id=" + al.ID + " " + al.Summary
	if len(obj) > 1024 {
		obj = obj[:1024]
	}
	rec := audit.Record{Time: time.Now(), Entity: al.Entity, User: al.User, Device: al.Device, Source: al.Source, Matter: al.Matter,
		Action: "alert." + al.Rule, Object: obj, Result: audit.ResultOK, RequestID: newRequestID()}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	err := s.auditLog.AppendAudit(actx, &rec)
	cancel()
	if err != nil {
		s.log.Error("alert not audited", "alert", al.ID, "err", err)
	}
	s.log.LogAttrs(ctx, slog.LevelWarn, "alert", slog.String("id", al.ID), slog.String("rule", al.Rule), slog.String("severity", al.Severity),
		slog.String("user", al.User), slog.String("matter", al.Matter), slog.String("summary", al.Summary))
	a.deliver(al)
}

// integrityAlert raises an integrity alert the gateway found itself (the
// audit chain broken, the database behind its anchors).
func (s *Server) integrityAlert(ctx context.Context, id, summary string) {
	s.raiseAlert(ctx, alerts.Alert{ID: alerts.RuleIntegrity + "-" + id, Rule: alerts.RuleIntegrity, Severity: alerts.Critical, Time: time.Now(), Summary: summary})
}
