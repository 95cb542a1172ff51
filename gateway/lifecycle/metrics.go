package lifecycle

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mattersync/mattersync/gateway/store"
)

type metrics struct {
	runs      *prometheus.CounterVec
	reclaimed prometheus.Counter
	bytes     *prometheus.GaugeVec
	objects   *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns = "mattersync_gateway"
	m := &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "lifecycle_runs_total",
			Help: "Lifecycle runs (purge, garbage collection, deletions) by result."}, []string{"result"}),
		reclaimed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "lifecycle_reclaimed_bytes_total",
			Help: "Bytes of objects the lifecycle deleted from the bucket."}),
		bytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "matter_storage_bytes",
			Help: "A matter's bytes in the bucket by what keeps them (live: current versions; old: superseded versions and deleted files kept by retention; garbage: awaiting collection; queued: awaiting deletion), as of the last lifecycle run."},
			[]string{"matter", "kind"}),
		objects: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "matter_objects",
			Help: "A matter's objects in the bucket by what keeps them (live, old, garbage, queued, held: under legal hold), as of the last lifecycle run."},
			[]string{"matter", "kind"}),
	}
	for _, c := range []prometheus.Collector{m.runs, m.reclaimed, m.bytes, m.objects} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// observe sets the usage gauges of matters after a run over all of them.
func (r *Runner) observe(ctx context.Context, matters []store.MatterState) {
	r.metrics.bytes.Reset()
	r.metrics.objects.Reset()
	for _, m := range matters {
		u, err := r.st.Collector.LifecycleUsage(ctx, m.Matter)
		if err != nil {
			r.log.Warn("lifecycle usage", "matter", m.Matter, "err", err)
			continue
		}
		r.setGauges(m.Matter, m.Hold, u)
	}
}

func (r *Runner) setGauges(matter string, held bool, u store.LifecycleUsage) {
	for kind, v := range map[string][2]int64{
		"live":    {u.LiveChunks + u.LiveManifests, u.LiveChunkBytes + u.LiveBytes},
		"old":     {u.OldChunks + u.OldManifests, u.OldChunkBytes + u.OldBytes},
		"garbage": {u.Garbage, u.GarbageBytes},
		"queued":  {u.Doomed, u.DoomedBytes},
	} {
		r.metrics.objects.WithLabelValues(matter, kind).Set(float64(v[0]))
		r.metrics.bytes.WithLabelValues(matter, kind).Set(float64(v[1]))
	}
	var heldObjects int64
	if held {
		heldObjects = u.LiveChunks + u.OldChunks + u.Garbage + u.LiveManifests + u.OldManifests + u.Doomed
	}
	r.metrics.objects.WithLabelValues(matter, "held").Set(float64(heldObjects))
}
