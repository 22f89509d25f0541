package prober

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/gtm-project/gtm/store"
)

// TestAllowList: by default only public unicast addresses; a list allows
// what it names; unspecified and multicast never.
func TestAllowList(t *testing.T) {
	def := AllowList{}
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "2a00:1450:4001::1": true, "::ffff:8.8.8.8": true,
		"10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false, "127.0.0.1": false, "::1": false,
		"169.254.1.1": false, "fe80::1": false, "224.0.0.1": false, "ff02::1": false, "0.0.0.0": false, "::": false,
		"192.0.2.1": false, "198.51.100.1": false, "203.0.113.1": false, "2001:db8::1": false, "3fff::1": false,
		"100.64.0.1": false, "198.18.0.1": false, "240.0.0.1": false, "255.255.255.255": false, "fd00::1": false,
		"64:ff9b::a00:1": false, "2002:a00:1::1": false,
	} {
		if got := def.Allows(netip.MustParseAddr(addr)); got != want {
			t.Errorf("default Allows(%s) = %v, want %v", addr, got, want)
		}
	}
	loop, err := ParseAllowList([]string{"127.0.0.0/8", " ::1/128"})
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{"127.0.0.1": true, "127.9.9.9": true, "::1": true, "8.8.8.8": false, "0.0.0.0": false} {
		if got := loop.Allows(netip.MustParseAddr(addr)); got != want {
			t.Errorf("loopback list Allows(%s) = %v, want %v", addr, got, want)
		}
	}
	if _, err := ParseAllowList([]string{"127.0.0.1"}); err == nil {
		t.Error("an address without a length was accepted as a prefix")
	}
}

// sampleStore is a store.Memory holding resolver samples.
func sampleStore(t *testing.T, ss ...store.ResolverSample) *store.Memory {
	t.Helper()
	m := store.NewMemory(nil)
	if err := m.PutResolverSamples(context.Background(), ss); err != nil {
		t.Fatal(err)
	}
	return m
}

func rsample(prefix, addr, node string, count uint64) store.ResolverSample {
	return store.ResolverSample{Prefix: netip.MustParsePrefix(prefix), Addr: netip.MustParseAddr(addr), Node: node, Count: count}
}

// countingListener accepts TCP connections on 127.0.0.1 and counts them:
// the "resolver port" the latency prober connects to.
func countingListener(t *testing.T) (uint16, *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return uint16(l.Addr().(*net.TCPAddr).Port), &n
}

func newLatencyProber(t *testing.T, mem *store.Memory, opts LatencyOptions) *LatencyProber {
	t.Helper()
	p, err := New(testConfig(), Options{Sink: &recordSink{}, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	opts.Source, opts.Sink = mem, mem
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	lp, err := p.Latency(opts)
	if err != nil {
		t.Fatal(err)
	}
	return lp
}

// TestLatencyRoundTCP: a round measures the sampled resolver addresses
// that the allow-list permits, by TCP connect (an accept or a refusal
// both measure), stamps them with the node's region and id, and writes
// them to the store; samples of several nodes for one network merge.
func TestLatencyRoundTCP(t *testing.T) {
	port, accepted := countingListener(t)
	allow, _ := ParseAllowList([]string{"127.0.0.0/8"})
	mem := sampleStore(t,
		rsample("127.0.0.0/24", "127.0.0.1", "dns-1", 10), // a listener: accepted
		rsample("127.0.0.0/24", "127.0.0.9", "dns-2", 3),  // same network, fewer queries
		rsample("127.0.2.0/24", "127.0.2.1", "dns-1", 5),  // nothing listens: refused, still measured
		rsample("127.0.5.0/24", "127.0.6.1", "dns-1", 50), // address outside its network: invalid
		rsample("192.0.2.0/24", "192.0.2.1", "dns-1", 99), // not allowed: never contacted
	)
	reg := prometheus.NewRegistry()
	lp := newLatencyProber(t, mem, LatencyOptions{Method: LatencyTCP, TCPPort: port, Allow: allow, Interval: time.Minute, Registerer: reg})
	if err := lp.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	rs, err := mem.Latency(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Fatalf("results %+v, want 127.0.0.0/24 and 127.0.2.0/24", rs)
	}
	for i, want := range []struct{ prefix, addr string }{{"127.0.0.0/24", "127.0.0.1"}, {"127.0.2.0/24", "127.0.2.1"}} {
		r := rs[i]
		if r.Prefix.String() != want.prefix || r.Addr.String() != want.addr || r.Method != LatencyTCP || r.RTT <= 0 ||
			r.Source != "test-region" || r.Prober != "prober-1" || r.TTL != 3*time.Minute {
			t.Errorf("result %d: %+v, want %s measured at %s by TCP from test-region", i, r, want.prefix, want.addr)
		}
	}
	// The handshake completes before the listener's goroutine counts it.
	for deadline := time.Now().Add(5 * time.Second); accepted.Load() != 1; {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections to the listener, want 1", accepted.Load())
		}
		time.Sleep(time.Millisecond) // polling, bounded by the deadline
	}
	if n := gatherCounter(t, reg, "gtm_latency_skipped_total", map[string]string{"reason": "not_allowed"}); n != 1 {
		t.Errorf("skipped not_allowed = %v, want 1", n)
	}
	if n := gatherCounter(t, reg, "gtm_latency_skipped_total", map[string]string{"reason": "invalid"}); n != 1 {
		t.Errorf("skipped invalid = %v, want 1", n)
	}
}

// TestLatencyDefaultAllowsNoLoopback: with the default allow-list the
// same loopback samples are not measured at all.
func TestLatencyDefaultAllowsNoLoopback(t *testing.T) {
	port, accepted := countingListener(t)
	mem := sampleStore(t, rsample("127.0.0.0/24", "127.0.0.1", "dns-1", 10))
	lp := newLatencyProber(t, mem, LatencyOptions{Method: LatencyTCP, TCPPort: port})
	if err := lp.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rs, _ := mem.Latency(context.Background()); len(rs) != 0 || accepted.Load() != 0 {
		t.Errorf("results %+v, %d connections: loopback measured without being allowed", rs, accepted.Load())
	}
}

// TestLatencyTopK: only the busiest networks are measured.
func TestLatencyTopK(t *testing.T) {
	allow, _ := ParseAllowList([]string{"127.0.0.0/8"})
	mem := sampleStore(t,
		rsample("127.0.1.0/24", "127.0.1.1", "dns-1", 1),
		rsample("127.0.2.0/24", "127.0.2.1", "dns-1", 7),
		rsample("127.0.3.0/24", "127.0.3.1", "dns-1", 3),
	)
	lp := newLatencyProber(t, mem, LatencyOptions{TopK: 2, Allow: allow})
	samples, _ := mem.ResolverSamples(context.Background())
	got := lp.targets(samples)
	if len(got) != 2 || got[0].prefix.String() != "127.0.2.0/24" || got[1].prefix.String() != "127.0.3.0/24" {
		t.Errorf("targets %+v, want 127.0.2.0/24 then 127.0.3.0/24", got)
	}
}

// TestLatencyRunAuto: Run measures at once and then every interval, by
// ICMP where this process may (else TCP), until ctx ends.
func TestLatencyRunAuto(t *testing.T) {
	port, _ := countingListener(t)
	allow, _ := ParseAllowList([]string{"127.0.0.1/32"})
	mem := sampleStore(t, rsample("127.0.0.0/24", "127.0.0.1", "dns-1", 10))
	lp := newLatencyProber(t, mem, LatencyOptions{TCPPort: port, Allow: allow, Interval: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- lp.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	var first time.Time
	for {
		rs, err := mem.Latency(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 1 {
			if rs[0].Method != LatencyICMP && rs[0].Method != LatencyTCP || rs[0].RTT <= 0 {
				t.Fatalf("result %+v", rs[0])
			}
			if first.IsZero() {
				first = rs[0].At
			} else if rs[0].At.After(first) {
				t.Logf("measured by %s in %v, twice", rs[0].Method, rs[0].RTT)
				return // a second round replaced the first
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("results %+v: no second round", rs)
		}
		time.Sleep(10 * time.Millisecond) // polling, bounded by the deadline
	}
}

func gatherCounter(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue metric
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}
