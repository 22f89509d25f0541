package health

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Monitor's Prometheus collectors. Labels are bounded by
// the config (services, endpoints, regions, zones) and by the probers.
type metrics struct {
	endpointUp      *prometheus.GaugeVec
	endpointDrained *prometheus.GaugeVec
	regionUp        *prometheus.GaugeVec
	zoneUp          *prometheus.GaugeVec
	proberImpaired  *prometheus.GaugeVec
	transitions     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		endpointUp: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gtm_endpoint_up",
			Help: "1 when routing may answer the endpoint (not down, not drained; unknown counts as up), else 0.",
		}, []string{"service", "endpoint", "region"})),
		endpointDrained: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gtm_endpoint_drained",
			Help: "1 when an endpoint, zone or region drain takes the endpoint out of answers.",
		}, []string{"service", "endpoint", "region"})),
		regionUp: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gtm_region_up",
			Help: "1 when at least one endpoint of the region is usable, 0 when the region is out.",
		}, []string{"region"})),
		zoneUp: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gtm_zone_up",
			Help: "1 when at least one endpoint of the availability zone is usable, 0 when it is out.",
		}, []string{"region", "zone"})),
		proberImpaired: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gtm_prober_impaired",
			Help: "1 when the prober's votes are set aside (control targets fail, or it sees everything down alone).",
		}, []string{"prober", "source"})),
		transitions: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gtm_health_transitions_total",
			Help: "Health transitions by kind (endpoint, region, zone, prober) and new state.",
		}, []string{"kind", "to"})),
	}
}

// register adds c to reg, reusing an identical collector already there (a
// second Monitor on one registry shares the series instead of panicking).
// A nil reg keeps the metrics unregistered.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) T {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing
			}
		}
		// A conflicting definition is a programming error, as with
		// MustRegister.
		panic(fmt.Errorf("health: register metrics: %w", err))
	}
	return c
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// set publishes st and removes series of endpoints, regions, zones and
// probers that prev had and st no longer has.
func (m *metrics) set(prev, st *Status) {
	for _, ss := range st.services {
		for _, e := range ss.Endpoints {
			m.endpointUp.WithLabelValues(e.Service, e.Endpoint, e.Region).Set(b2f(e.Usable()))
			m.endpointDrained.WithLabelValues(e.Service, e.Endpoint, e.Region).Set(b2f(e.Drained))
		}
	}
	for _, r := range st.regions {
		m.regionUp.WithLabelValues(r.Name).Set(b2f(!r.Out))
	}
	for _, z := range st.zones {
		m.zoneUp.WithLabelValues(z.Region, z.Zone).Set(b2f(!z.Out))
	}
	for _, p := range st.probers {
		m.proberImpaired.WithLabelValues(p.ID, p.Region).Set(b2f(p.Impaired))
	}
	if prev == nil {
		return
	}
	for _, ss := range prev.services {
		for _, e := range ss.Endpoints {
			if now := st.Endpoint(e.Service, e.Endpoint); now.Region == e.Region && st.configured(e.Service, e.Endpoint) {
				continue
			}
			m.endpointUp.DeleteLabelValues(e.Service, e.Endpoint, e.Region)
			m.endpointDrained.DeleteLabelValues(e.Service, e.Endpoint, e.Region)
		}
	}
	for name := range prev.regions {
		if _, ok := st.regions[name]; !ok {
			m.regionUp.DeleteLabelValues(name)
		}
	}
	for k := range prev.zones {
		if _, ok := st.zones[k]; !ok {
			m.zoneUp.DeleteLabelValues(k.region, k.zone)
		}
	}
	for _, p := range prev.probers {
		if q, ok := st.prober(p.ID); !ok || q.Region != p.Region {
			m.proberImpaired.DeleteLabelValues(p.ID, p.Region)
		}
	}
}
