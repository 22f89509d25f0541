package health

import (
	"fmt"
	"testing"
	"time"

	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
)

// benchInput has 10 services of n/10 endpoints over 4 regions and 2 zones,
// each probed by every prober; every seventh endpoint is down for all.
func benchInput(n, probers int) Input {
	cfg := &zones.Config{}
	var rs []store.ProbeResult
	now := t0.Add(time.Hour)
	for s := range 10 {
		svc := checked(fmt.Sprintf("svc%d.", s))
		for i := range n / 10 {
			k := s*(n/10) + i
			e := ep(fmt.Sprintf("ep%d", k), fmt.Sprintf("r%d", k%4), string(rune('a'+k%2)))
			svc.Endpoints = append(svc.Endpoints, e)
			for p := range probers {
				v := Up
				if k%7 == 0 {
					v = Down
				}
				rs = append(rs, res(fmt.Sprintf("p%d", p), fmt.Sprintf("r%d", p), svc.Name, e.Name, v, now.Add(-time.Duration(p)*time.Second)))
			}
		}
		cfg.Services = append(cfg.Services, svc)
	}
	return Input{Config: cfg, Results: rs, Now: now}
}

func BenchmarkEvaluate100x3(b *testing.B) {
	in := benchInput(100, 3)
	if st := Evaluate(in); st.Endpoint("svc0.", "ep0").State != Down || st.Endpoint("svc0.", "ep1").State != Up {
		b.Fatal("unexpected fixture states")
	}
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(in)
	}
}

func BenchmarkUsable(b *testing.B) {
	st := Evaluate(benchInput(100, 3))
	b.ReportAllocs()
	for b.Loop() {
		if !st.Usable("svc5.", "ep55") {
			b.Fatal("ep55 should be usable")
		}
	}
}
