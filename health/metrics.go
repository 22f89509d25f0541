package health

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Monitor's Prometheus collectors. Labels are bounded by
// the config (services, endpoints, regions, zones) and by the probers.
type metrics struct {
	endpoints      *endpointCollector
	regionUp       *prometheus.GaugeVec
	zoneUp         *prometheus.GaugeVec
	proberImpaired *prometheus.GaugeVec
	transitions    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		endpoints: register(reg, newEndpointCollector()),
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

// endpointCollector publishes gtm_endpoint_up and gtm_endpoint_drained,
// one series per configured endpoint, from the latest Status at scrape
// time. Gauge vectors would keep a child (label pairs, hashes, the value)
// per endpoint and series: about 550 bytes each, 33 MB for 30,000
// endpoints, while the Status already holds everything they say. The
// series of an endpoint that leaves the config go with it.
type endpointCollector struct {
	up, drained *prometheus.Desc
	cur         atomic.Pointer[Status]
}

func newEndpointCollector() *endpointCollector {
	labels := []string{"service", "endpoint", "region"}
	return &endpointCollector{
		up: prometheus.NewDesc("gtm_endpoint_up",
			"1 when routing may answer the endpoint (not down, not drained; unknown counts as up), else 0.", labels, nil),
		drained: prometheus.NewDesc("gtm_endpoint_drained",
			"1 when an endpoint, zone or region drain takes the endpoint out of answers.", labels, nil),
	}
}

func (c *endpointCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.drained
}

func (c *endpointCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.cur.Load()
	if st == nil {
		return
	}
	for _, ss := range st.services {
		for _, e := range ss.Endpoints {
			ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, b2f(e.Usable()), e.Service, e.Endpoint, e.Region)
			ch <- prometheus.MustNewConstMetric(c.drained, prometheus.GaugeValue, b2f(e.Drained), e.Service, e.Endpoint, e.Region)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// set publishes st and removes series of regions, zones and probers that
// prev had and st no longer has (the endpoints' series are st's own).
func (m *metrics) set(prev, st *Status) {
	m.endpoints.cur.Store(st)
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
