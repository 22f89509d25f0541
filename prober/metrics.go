package prober

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the prober's Prometheus series. Per-target children are
// looked up once when a target is bound (not per probe: at 10,000 probes/s
// the label hashing would show) and deleted when it goes away, so series of
// removed endpoints do not linger.
type metrics struct {
	duration    *prometheus.HistogramVec
	success     *prometheus.GaugeVec
	probes      *prometheus.CounterVec
	skipped     *prometheus.CounterVec
	skippedBusy prometheus.Counter
	skippedLate prometheus.Counter
	sinkErrors  prometheus.Counter
	flushed     prometheus.Counter
	targets     prometheus.Gauge

	// durationRefs counts targets per duration series: its labels lack the
	// service, so two services' endpoints of one name share a series.
	// Touched only under Prober.mu.
	durationRefs map[[3]string]int
}

// targetMetrics are one target's series.
type targetMetrics struct {
	duration prometheus.Observer
	success  prometheus.Gauge
	ok, fail prometheus.Counter
	labels   []string // success labels: source, service, endpoint, kind
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gtm_probe_duration_seconds",
			Help: "Duration of probes (the whole probe, failed ones too).",
			// 250µs (loopback) to ~8s (past any sane timeout).
			Buckets: prometheus.ExponentialBuckets(0.00025, 2, 16),
		}, []string{"source", "endpoint", "kind"}),
		success: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gtm_probe_success",
			Help: "1 if the last probe of the endpoint succeeded, else 0.",
		}, []string{"source", "service", "endpoint", "kind"}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gtm_probes_total",
			Help: "Probes done, by kind and result (ok or fail).",
		}, []string{"kind", "result"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gtm_probe_skipped_total",
			Help: "Probe ticks skipped: reason busy (the target's previous probe still ran) or late (every worker was busy).",
		}, []string{"reason"}),
		sinkErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gtm_probe_sink_errors_total",
			Help: "Failed writes of result batches to the sink.",
		}),
		flushed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gtm_probe_results_flushed_total",
			Help: "Results written to the sink.",
		}),
		targets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gtm_probe_targets",
			Help: "Targets scheduled, control targets included.",
		}),
		durationRefs: map[[3]string]int{},
	}
	m.skippedBusy = m.skipped.WithLabelValues("busy")
	m.skippedLate = m.skipped.WithLabelValues("late")
	if reg != nil {
		for _, c := range []prometheus.Collector{m.duration, m.success, m.probes, m.skipped, m.sinkErrors, m.flushed, m.targets} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("registering metrics: %w", err)
			}
		}
	}
	return m, nil
}

// bind gives t its series for source (the node's region).
func (m *metrics) bind(t *target, source string) {
	dl := [3]string{source, t.endpoint, t.kind}
	m.durationRefs[dl]++
	tm := &targetMetrics{
		duration: m.duration.WithLabelValues(dl[:]...),
		labels:   []string{source, t.service, t.endpoint, t.kind},
		ok:       m.probes.WithLabelValues(t.kind, "ok"),
		fail:     m.probes.WithLabelValues(t.kind, "fail"),
	}
	tm.success = m.success.WithLabelValues(tm.labels...)
	t.metrics.Store(tm)
}

// unbind deletes t's series. A probe still in flight may set the old
// handles; deleted children are no longer exported, so that is harmless.
func (m *metrics) unbind(t *target) {
	tm := t.metrics.Swap(nil)
	if tm == nil {
		return
	}
	m.success.DeleteLabelValues(tm.labels...)
	dl := [3]string{tm.labels[0], tm.labels[2], tm.labels[3]}
	if m.durationRefs[dl]--; m.durationRefs[dl] <= 0 {
		delete(m.durationRefs, dl)
		m.duration.DeleteLabelValues(dl[:]...)
	}
}
