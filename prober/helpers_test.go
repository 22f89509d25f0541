package prober

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
)

// recordSink keeps every result it is given.
type recordSink struct {
	mu    sync.Mutex
	rs    []store.ProbeResult
	calls int
}

func (s *recordSink) PutResults(_ context.Context, rs []store.ProbeResult) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rs = append(s.rs, rs...)
	s.calls++
	return nil
}

// results returns a copy of the results of key (all when key is "").
func (s *recordSink) results(key string) []store.ProbeResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.ProbeResult
	for _, r := range s.rs {
		if key == "" || r.Key() == key {
			out = append(out, r)
		}
	}
	return out
}

// waitFor polls until cond holds for the results of key, or fails the test.
func (s *recordSink) waitFor(t *testing.T, key string, d time.Duration, what string, cond func([]store.ProbeResult) bool) []store.ProbeResult {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		rs := s.results(key)
		if cond(rs) {
			return rs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; %d results of %q, last %+v", what, d, len(rs), key, last(rs))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func last(rs []store.ProbeResult) store.ProbeResult {
	if len(rs) == 0 {
		return store.ProbeResult{}
	}
	return rs[len(rs)-1]
}

// testInterval is the interval of checks that probeOnceWith defaults.
const testInterval = 20 * time.Second

// testConfig is a config whose services each probe the given endpoints.
func testConfig(services ...*zones.Service) *zones.Config {
	return &zones.Config{
		Node:     zones.Node{Region: "test-region", ID: "prober-1"},
		Services: services,
		Prober:   zones.Prober{Concurrency: 50, ICMP: "auto"},
	}
}

// service builds a checked service with one endpoint per address.
func service(name string, ch zones.Check, addrs ...string) *zones.Service {
	s := &zones.Service{Name: name, Check: &ch}
	for i, a := range addrs {
		s.Endpoints = append(s.Endpoints, &zones.Endpoint{
			Name: "ep" + strconv.Itoa(i), Region: "test-region", Address: a,
		})
	}
	return s
}

// hostPort splits a listener address into the endpoint address and port.
func hostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatalf("parse %q: %v", addr, err)
	}
	return ap.Addr().String(), int(ap.Port())
}

// newTestProber builds a Prober with a recordSink and its own registry.
func newTestProber(t *testing.T, cfg *zones.Config, opts Options) (*Prober, *recordSink, *prometheus.Registry) {
	t.Helper()
	sink := &recordSink{}
	reg := prometheus.NewRegistry()
	if opts.Sink == nil {
		opts.Sink = sink
	}
	opts.Registerer = reg
	opts.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	p, err := New(cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p, sink, reg
}

// probeOnceWith probes the single endpoint of a one-service config once,
// synchronously, and returns its result.
func probeOnceWith(t *testing.T, ch zones.Check, addr string, opts Options) store.ProbeResult {
	t.Helper()
	if ch.Timeout == 0 {
		// Generous, so a starved test machine does not turn a success into
		// a timeout; tests of timeouts set their own.
		ch.Interval, ch.Timeout = zones.Duration(testInterval), zones.Duration(10*time.Second)
	}
	p, _, _ := newTestProber(t, testConfig(service("svc.example.", ch, addr)), opts)
	tg := p.targets["svc.example./ep0"]
	if tg == nil {
		t.Fatalf("no target built; have %v", p.targets)
	}
	r, ok := p.probeOnce(context.Background(), tg)
	if !ok {
		t.Fatal("probe reported cancellation")
	}
	return r
}

// run starts p.Run and returns a stop function that cancels it and waits.
func run(t *testing.T, p *Prober) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return within 10s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// listenTCP is a TCP listener on loopback that accepts and closes.
func listenTCP(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln
}

// metricValue reads one counter, gauge or histogram count from reg; ok is
// false when the series does not exist.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			return value(m), true
		}
	}
	return 0, false
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}
