package health

import (
	"time"

	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
)

// t0 is the fake clock's epoch; tests pass times explicitly.
var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

const interval = 5 * time.Second

func ep(name, region, zone string) *zones.Endpoint {
	return &zones.Endpoint{Name: name, Region: region, Zone: zone, Address: "192.0.2.1"}
}

// checked is a service with an HTTP check every 5s.
func checked(name string, eps ...*zones.Endpoint) *zones.Service {
	return &zones.Service{Name: name, Check: &zones.Check{Type: "http", Interval: zones.Duration(interval), Rise: 2, Fall: 3}, Endpoints: eps}
}

// static is a service without a check.
func static(name string, eps ...*zones.Endpoint) *zones.Service {
	return &zones.Service{Name: name, Endpoints: eps}
}

func config(svcs ...*zones.Service) *zones.Config { return &zones.Config{Services: svcs} }

// res is a fresh result from prober (named "p-<region>") with a verdict.
func res(prober, source, service, endpoint string, v State, at time.Time) store.ProbeResult {
	return store.ProbeResult{
		Service: service, Endpoint: endpoint, Target: "192.0.2.1:443", Kind: "http",
		Source: source, Prober: prober, OK: v != Down, RTT: 12 * time.Millisecond,
		At: at, Interval: interval, Verdict: v.String(),
	}
}

// control is a control-target result.
func control(prober, source, target string, ok bool, at time.Time) store.ProbeResult {
	v := Up
	if !ok {
		v = Down
	}
	return store.ProbeResult{
		Service: ControlService, Endpoint: target, Target: target, Kind: "tcp",
		Source: source, Prober: prober, OK: ok, At: at, Interval: interval, Verdict: v.String(),
	}
}

// votes makes one result per prober p1..pn on one endpoint, with the given
// verdicts.
func votes(service, endpoint string, at time.Time, vs ...State) []store.ProbeResult {
	out := make([]store.ProbeResult, len(vs))
	for i, v := range vs {
		id := string(rune('1' + i))
		out[i] = res("p"+id, "r"+id, service, endpoint, v, at)
	}
	return out
}
