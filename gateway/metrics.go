package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mattersync/mattersync/gateway/api"
)

// Pinger checks the metadata store is reachable (readyz).
type Pinger interface {
	Ping(ctx context.Context) error
}

type metrics struct {
	requests        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	bytesIn         *prometheus.CounterVec
	bytesOut        *prometheus.CounterVec
	denials         *prometheus.CounterVec
	auditAppends    *prometheus.CounterVec
	auditSeconds    prometheus.Histogram
	denyEntries     prometheus.Gauge
	chainBroken     prometheus.Gauge
	auditSuppressed prometheus.Counter
	inflightBytes   prometheus.Gauge
	checkpoints     prometheus.Counter
	pushes          *prometheus.CounterVec
	listening       prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns = "mattersync_gateway"
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "requests_total",
			Help: "API requests by route pattern, method and status."}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "request_duration_seconds",
			Help: "API request latency by route pattern.", Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14)}, []string{"route"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "received_bytes_total",
			Help: "Chunk and manifest bytes accepted, by route pattern."}, []string{"route"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "sent_bytes_total",
			Help: "Response bytes sent, by route pattern."}, []string{"route"}),
		denials: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "denials_total",
			Help: "Requests refused by authentication or authorization, by reason."}, []string{"reason"}),
		auditAppends: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "audit_appends_total",
			Help: "Audit records appended, by result (error: the request was refused)."}, []string{"result"}),
		auditSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "audit_append_seconds",
			Help: "Latency of stand-alone audit appends (reads and refusals).", Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 14)}),
		denyEntries: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "deny_list_entries",
			Help: "Entities on the deny list as this replica last saw it."}),
		chainBroken: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "audit_chain_broken",
			Help: "1 if this replica found the audit chain rewritten, truncated or its checkpoints deleted (it signs nothing more until restarted)."}),
		auditSuppressed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "audit_suppressed_total",
			Help: "Refusals before authentication not audited on their own (beyond one per source per second, or the gateway-wide audit.refusal_records_per_second): each is counted in an auth.failures summary record."}),
		inflightBytes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "inflight_body_bytes",
			Help: "Request body bytes reserved by requests in flight (limits.max_inflight_bytes)."}),
		checkpoints: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "audit_checkpoints_total",
			Help: "Audit checkpoints this replica signed."}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "store_pushes_total",
			Help: "Changes the store pushed to this replica (PostgreSQL LISTEN/NOTIFY), by kind: deny (deny list or reissue stamp), commit (another replica's), resync (the listening connection (re-)established)."}, []string{"kind"}),
		listening: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "store_listening",
			Help: "1 while this replica holds its listening connection to the store (PostgreSQL); 0: it learns of other replicas' changes by polling only."}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.bytesIn, m.bytesOut, m.denials, m.auditAppends, m.auditSeconds, m.denyEntries, m.chainBroken, m.checkpoints, m.auditSuppressed, m.inflightBytes, m.pushes, m.listening} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// OpsHandler returns the handler of the operational endpoints, /healthz,
// /readyz and /metrics (Config.OpsListen). They are unauthenticated, so
// they never share the API's listener: a path deny in front of the API
// can be bypassed by encoding (/%6detrics), a separate port cannot.
func (s *Server) OpsHandler() http.Handler {
	metrics := promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, api.Error{Code: api.CodeMethodNotAllowed, Message: "GET or HEAD only"})
			return
		}
		if p := r.URL.EscapedPath(); s.cfg.OpsPprof && strings.HasPrefix(p, "/debug/pprof/") {
			// A CPU profile runs for ?seconds= (at most the ops listener's
			// write timeout, request_timeout).
			switch p {
			case "/debug/pprof/profile":
				pprof.Profile(w, r)
			case "/debug/pprof/trace":
				pprof.Trace(w, r)
			case "/debug/pprof/cmdline":
				pprof.Cmdline(w, r)
			case "/debug/pprof/symbol":
				pprof.Symbol(w, r)
			default:
				pprof.Index(w, r)
			}
			return
		}
		switch r.URL.EscapedPath() {
		case "/healthz":
			s.healthz(w, r)
		case "/readyz":
			s.readyz(w, r)
		case "/metrics":
			metrics.ServeHTTP(w, r)
		default:
			writeJSON(w, http.StatusNotFound, api.Error{Code: api.CodeNotFound, Message: "operational endpoints: /healthz, /readyz, /metrics"})
		}
	})
}

// healthz says the process is up; it checks nothing else.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, api.Health{Status: "ok"})
}

// readyz checks every dependency a request needs: store, S3, the JWKS, a
// fresh deny list and an unbroken audit chain. It answers only ok or fail
// per check: the causes (which name hosts, users, buckets) go to the log.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{}
	ok := true
	check := func(name string, err error) {
		if err != nil {
			ok = false
			checks[name] = "fail"
			s.log.Warn("readiness check failed", "check", name, "err", err)
			return
		}
		checks[name] = "ok"
	}
	check("store", s.pinger.Ping(ctx))
	check("s3", s.blobs.Ready(ctx))
	check("jwks", s.verifier.Ready(ctx))
	if _, fresh := s.live.denied("", s.cfg.Limits.DenyMaxStaleness); fresh {
		check("deny_list", nil)
	} else {
		check("deny_list", errors.New("deny list not refreshed recently"))
	}
	if s.chainBroken() {
		check("audit", errors.New("audit chain broken: this replica refuses to sign checkpoints (see the \"audit chain broken\" log line)"))
	} else {
		check("audit", nil)
	}
	h := api.Health{Status: "ok", Checks: checks}
	status := http.StatusOK
	if !ok {
		h.Status, status = "unavailable", http.StatusServiceUnavailable
	}
	writeJSON(w, status, h)
}
