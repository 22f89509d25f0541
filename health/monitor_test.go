package health

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
)

// fakeClock is the only fake: time moves when the test says so.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer lets the race detector see log writes as ordered.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// logLines decodes the JSON log lines written so far.
func (s *syncBuffer) logLines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(s.b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

type monitorFixture struct {
	cfg   *zones.Config
	clock *fakeClock
	reg   *prometheus.Registry
	logs  *syncBuffer
	mon   *Monitor
}

func newMonitorFixture() *monitorFixture {
	f := &monitorFixture{
		cfg:   config(checked("api.", ep("eu-1", "eu", "a"), ep("us-1", "us", "a"))),
		clock: &fakeClock{t: t0},
		reg:   prometheus.NewRegistry(),
		logs:  &syncBuffer{},
	}
	f.mon = NewMonitor(zerolog.New(f.logs), f.reg, f.clock.Now)
	return f
}

// update feeds p1 (eu) and p2 (us) results taken now, with the given
// verdict for each endpoint, plus extra results and drains.
func (f *monitorFixture) update(eu1, us1 State, extra []store.ProbeResult, drains ...store.Drain) (*Status, []Transition) {
	now := f.clock.Now()
	rs := append([]store.ProbeResult{
		res("p1", "eu", "api.", "eu-1", eu1, now), res("p2", "us", "api.", "eu-1", eu1, now),
		res("p1", "eu", "api.", "us-1", us1, now), res("p2", "us", "api.", "us-1", us1, now),
	}, extra...)
	return f.mon.Update(Input{Config: f.cfg, Results: rs, Drains: drains})
}

func (f *monitorFixture) gather(t *testing.T, want string, names ...string) {
	t.Helper()
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

func kinds(ts []Transition) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t.Kind) + ":" + t.Region + "/" + t.Endpoint + t.Prober + ":" + t.From + ">" + t.To
	}
	return out
}

func wantTransitions(t *testing.T, ts []Transition, want ...string) {
	t.Helper()
	if got := kinds(ts); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("transitions\n got %q\nwant %q", got, want)
	}
}

func TestMonitorTransitions(t *testing.T) {
	f := newMonitorFixture()
	if f.mon.Current() != nil {
		t.Fatal("Current before the first Update is not nil")
	}

	// t0: everything up. Uses the clock, as Input.Now is zero.
	st, ts := f.update(Up, Up, nil)
	wantTransitions(t, ts, "endpoint:eu/eu-1:unknown>up", "endpoint:us/us-1:unknown>up")
	if !st.At().Equal(t0) || f.mon.Current() != st {
		t.Fatalf("Status at %v, Current %p; want t0 and the returned Status", st.At(), f.mon.Current())
	}
	f.gather(t, `
# HELP gtm_endpoint_up 1 when routing may answer the endpoint (not down, not drained; unknown counts as up), else 0.
# TYPE gtm_endpoint_up gauge
gtm_endpoint_up{endpoint="eu-1",region="eu",service="api."} 1
gtm_endpoint_up{endpoint="us-1",region="us",service="api."} 1
`, "gtm_endpoint_up")

	// t0+10s: us-1 goes down on both probers; its zone and region go out.
	f.clock.Advance(10 * time.Second)
	st, ts = f.update(Up, Down, nil)
	wantTransitions(t, ts, "endpoint:us/us-1:up>down", "zone:us/:up>down", "region:us/:up>down")
	if ts[0].Lasted != 10*time.Second || !strings.Contains(ts[0].Reason, "2 of 2") {
		t.Errorf("us-1 transition = %+v, want lasted 10s and a quorum reason", ts[0])
	}
	if e := st.Endpoint("api.", "eu-1"); !e.Since.Equal(t0) {
		t.Errorf("eu-1 Since = %v, want t0 carried over", e.Since)
	}
	if e := st.Endpoint("api.", "us-1"); !e.Since.Equal(t0.Add(10 * time.Second)) {
		t.Errorf("us-1 Since = %v, want t0+10s", e.Since)
	}
	if r := st.Region("eu"); !r.Since.Equal(t0) {
		t.Errorf("eu Since = %v, want t0 carried over", r.Since)
	}
	f.gather(t, `
# HELP gtm_region_up 1 when at least one endpoint of the region is usable, 0 when the region is out.
# TYPE gtm_region_up gauge
gtm_region_up{region="eu"} 1
gtm_region_up{region="us"} 0
`, "gtm_region_up")

	// The log line of the endpoint going down carries typed, stable keys.
	var downLine map[string]any
	for _, l := range f.logs.logLines(t) {
		if l["kind"] == "endpoint" && l["to"] == "down" {
			downLine = l
		}
	}
	for k, want := range map[string]any{
		"level": "warn", "message": "endpoint down", "service": "api.", "endpoint": "us-1",
		"region": "us", "zone": "a", "from": "up", "lasted": float64(10000),
	} {
		if downLine[k] != want {
			t.Errorf("log field %s = %v, want %v (line %v)", k, downLine[k], want, downLine)
		}
	}
	if r, _ := downLine["reason"].(string); r == "" {
		t.Errorf("log line has no reason: %v", downLine)
	}

	// t0+20s: p1's control targets fail, so p1 is impaired; us-1 stays down
	// on p2's word alone.
	f.clock.Advance(10 * time.Second)
	ctl := []store.ProbeResult{control("p1", "eu", "198.51.100.1:443", false, f.clock.Now())}
	st, ts = f.update(Up, Down, ctl)
	wantTransitions(t, ts, "prober:/p1:recovered>impaired")
	if ts[0].Source != "eu" || !strings.Contains(ts[0].Reason, "198.51.100.1:443") {
		t.Errorf("prober transition = %+v, want source eu and the failing target in the reason", ts[0])
	}
	if e := st.Endpoint("api.", "us-1"); e.State != Down || !e.Since.Equal(t0.Add(10*time.Second)) {
		t.Errorf("us-1 = %v since %v, want down since t0+10s", e.State, e.Since)
	}
	f.gather(t, `
# HELP gtm_prober_impaired 1 when the prober's votes are set aside (control targets fail, or it sees everything down alone).
# TYPE gtm_prober_impaired gauge
gtm_prober_impaired{prober="p1",source="eu"} 1
gtm_prober_impaired{prober="p2",source="us"} 0
`, "gtm_prober_impaired")

	// t0+30s: control recovers, us-1 comes back, eu-1 is drained: eu goes out.
	f.clock.Advance(10 * time.Second)
	ctl = []store.ProbeResult{control("p1", "eu", "198.51.100.1:443", true, f.clock.Now())}
	drain := store.Drain{Kind: store.DrainEndpoint, Name: "eu-1", By: "alice", Reason: "upgrade"}
	st, ts = f.update(Up, Up, ctl, drain)
	wantTransitions(t, ts,
		"prober:/p1:impaired>recovered",
		"endpoint:eu/eu-1:undrained>drained",
		"endpoint:us/us-1:down>up",
		"zone:eu/:up>down", "zone:us/:down>up",
		"region:eu/:up>down", "region:us/:down>up")
	if e := st.Endpoint("api.", "eu-1"); e.State != Up || !e.Since.Equal(t0) || !e.Drained {
		t.Errorf("eu-1 = %+v, want up since t0 and drained", e)
	}
	f.gather(t, `
# HELP gtm_endpoint_drained 1 when an endpoint, zone or region drain takes the endpoint out of answers.
# TYPE gtm_endpoint_drained gauge
gtm_endpoint_drained{endpoint="eu-1",region="eu",service="api."} 1
gtm_endpoint_drained{endpoint="us-1",region="us",service="api."} 0
# HELP gtm_endpoint_up 1 when routing may answer the endpoint (not down, not drained; unknown counts as up), else 0.
# TYPE gtm_endpoint_up gauge
gtm_endpoint_up{endpoint="eu-1",region="eu",service="api."} 0
gtm_endpoint_up{endpoint="us-1",region="us",service="api."} 1
`, "gtm_endpoint_up", "gtm_endpoint_drained")

	// t0+40s: the drain is lifted.
	f.clock.Advance(10 * time.Second)
	_, ts = f.update(Up, Up, nil)
	wantTransitions(t, ts, "endpoint:eu/eu-1:drained>undrained", "zone:eu/:down>up", "region:eu/:down>up")
	if !strings.Contains(ts[0].Reason, "alice") {
		t.Errorf("undrain reason %q does not name the drain", ts[0].Reason)
	}

	f.gather(t, `
# HELP gtm_health_transitions_total Health transitions by kind (endpoint, region, zone, prober) and new state.
# TYPE gtm_health_transitions_total counter
gtm_health_transitions_total{kind="endpoint",to="down"} 1
gtm_health_transitions_total{kind="endpoint",to="drained"} 1
gtm_health_transitions_total{kind="endpoint",to="undrained"} 1
gtm_health_transitions_total{kind="endpoint",to="up"} 3
gtm_health_transitions_total{kind="prober",to="impaired"} 1
gtm_health_transitions_total{kind="prober",to="recovered"} 1
gtm_health_transitions_total{kind="region",to="down"} 2
gtm_health_transitions_total{kind="region",to="up"} 2
gtm_health_transitions_total{kind="zone",to="down"} 2
gtm_health_transitions_total{kind="zone",to="up"} 2
`, "gtm_health_transitions_total")

	if got := len(f.mon.Recent()); got != 16 {
		t.Errorf("Recent() holds %d transitions, want 19", got)
	}
}

func TestMonitorRemovesSeriesOfUnconfiguredEndpoints(t *testing.T) {
	f := newMonitorFixture()
	f.update(Up, Up, nil)
	if n := testutil.CollectAndCount(f.reg, "gtm_endpoint_up", "gtm_region_up", "gtm_zone_up", "gtm_prober_impaired"); n != 8 {
		t.Fatalf("%d series before, want 8", n)
	}
	// us-1 leaves the config and p2 stops reporting.
	f.cfg = config(checked("api.", ep("eu-1", "eu", "a")))
	f.clock.Advance(time.Second)
	_, ts := f.mon.Update(Input{Config: f.cfg, Results: []store.ProbeResult{res("p1", "eu", "api.", "eu-1", Up, f.clock.Now())}})
	if len(ts) != 0 {
		t.Errorf("transitions on removal: %q, want none", kinds(ts))
	}
	f.gather(t, `
# HELP gtm_endpoint_up 1 when routing may answer the endpoint (not down, not drained; unknown counts as up), else 0.
# TYPE gtm_endpoint_up gauge
gtm_endpoint_up{endpoint="eu-1",region="eu",service="api."} 1
# HELP gtm_region_up 1 when at least one endpoint of the region is usable, 0 when the region is out.
# TYPE gtm_region_up gauge
gtm_region_up{region="eu"} 1
# HELP gtm_prober_impaired 1 when the prober's votes are set aside (control targets fail, or it sees everything down alone).
# TYPE gtm_prober_impaired gauge
gtm_prober_impaired{prober="p1",source="eu"} 0
`, "gtm_endpoint_up", "gtm_region_up", "gtm_prober_impaired")
	if n := testutil.CollectAndCount(f.reg, "gtm_zone_up", "gtm_endpoint_drained"); n != 2 {
		t.Errorf("%d zone and drained series, want 2", n)
	}

	// An endpoint that moves region loses its old series.
	f.cfg = config(checked("api.", ep("eu-1", "eu-central", "a")))
	f.mon.Update(Input{Config: f.cfg})
	if n := testutil.CollectAndCount(f.reg, "gtm_endpoint_up"); n != 1 {
		t.Errorf("%d gtm_endpoint_up series after a region move, want 1", n)
	}
}

func TestMonitorRecentRing(t *testing.T) {
	f := newMonitorFixture()
	var all []Transition
	for i := range 150 {
		v := Up
		if i%2 == 1 {
			v = Down
		}
		f.clock.Advance(time.Second)
		_, ts := f.update(Up, v, nil)
		all = append(all, ts...)
	}
	got := f.mon.Recent()
	if len(got) != RecentSize {
		t.Fatalf("Recent() holds %d, want %d", len(got), RecentSize)
	}
	want := all[len(all)-RecentSize:]
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("Recent()[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if !got[0].At.Before(got[len(got)-1].At) {
		t.Error("Recent() is not oldest first")
	}
}

// TestMonitorConcurrentReaders runs readers of Current and Recent against
// Updates; the race detector checks that a published Status is immutable.
func TestMonitorConcurrentReaders(t *testing.T) {
	f := newMonitorFixture()
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for ctx.Err() == nil {
				st := f.mon.Current()
				_ = st.Usable("api.", "us-1")
				for _, s := range st.Services() {
					for _, e := range s.Endpoints {
						_ = e.Since
					}
				}
				_ = st.Regions()
				_ = f.mon.Recent()
			}
		})
	}
	for i := range 200 {
		v := Up
		if i%3 == 0 {
			v = Down
		}
		f.clock.Advance(time.Second)
		f.update(v, Up, nil)
	}
	cancel()
	wg.Wait()
	if f.mon.Current().Endpoint("api.", "us-1").State != Up {
		t.Error("us-1 should be up")
	}
}

func TestMonitorSharesRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := NewMonitor(zerolog.Nop(), reg, nil)
	b := NewMonitor(zerolog.Nop(), reg, nil)
	cfg := config(static("www.", ep("w1", "eu", "a")))
	a.Update(Input{Config: cfg})
	b.Update(Input{Config: cfg})
	if got := testutil.ToFloat64(b.m.transitions.WithLabelValues("endpoint", "up")); got != 2 {
		t.Errorf("transitions counted %v, want 2 from both monitors", got)
	}
	// A nil registry works too, and a nil clock means time.Now.
	c := NewMonitor(zerolog.Nop(), nil, nil)
	if st, _ := c.Update(Input{Config: cfg}); st.At().IsZero() {
		t.Error("nil clock: Status has no time")
	}
}
