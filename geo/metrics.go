package geo

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Provider's Prometheus metrics. They are created even
// without a Registerer so the code that updates them needs no nil checks.
type metrics struct {
	reloads *prometheus.CounterVec
	built   *prometheus.GaugeVec
}

// newMetrics creates the metrics and registers them with reg, if not nil.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gtm", Subsystem: "geo", Name: "reloads_total",
			Help: "Database reloads (SIGHUP or file change) by result: success or failure (the previous database stays in use).",
		}, []string{"result"}),
		built: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "gtm", Subsystem: "geo", Name: "database_build_timestamp_seconds",
			Help: "Build time (metadata build_epoch) of the database in use, by database: location or asn. Alert on its age.",
		}, []string{"database"}),
	}
	// Both results exist from the start, so a rate() sees the first failure.
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.reloads, m.built} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("geo: metrics already registered (one Provider per registry): %w", err)
			}
			return nil, fmt.Errorf("geo: register metrics: %w", err)
		}
	}
	return m, nil
}
