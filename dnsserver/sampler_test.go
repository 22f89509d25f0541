package dnsserver

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/gtm-project/gtm/routing"
	"github.com/gtm-project/gtm/store"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

func newTestSampler(t *testing.T, sink ResolverSink, every, topK int, interval time.Duration) *Sampler {
	t.Helper()
	s, err := NewSampler(SamplerOptions{Sink: sink, Node: "dns-1", Every: every, TopK: topK, Interval: interval, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSamplerRecordsSourcesNotECS: queries about our zones are sampled by
// their source address, per /24 or /56; the ECS address they carry is
// never recorded (it must never be measured), nor are sources of refused
// queries.
func TestSamplerRecordsSourcesNotECS(t *testing.T) {
	sm := newTestSampler(t, storeSink(store.NewMemory(nil)), 1, 100, time.Hour)
	h := &routing.Holder{}
	h.Store(routing.Build(fixtureSet(t), routing.Inputs{Geo: geoFixture(t)}))
	s := New(Config{Sampler: sm}, h, zerolog.Nop(), prometheus.NewRegistry())
	w := newWorker()
	ecsPkt := mustPack(t, ecsQuery("api.example.com.", dns.TypeA, hostIn(london4, 7), 24))
	refused := mustPack(t, query("www.example.org.", dns.TypeA))
	for i := range sampleBatch {
		s.serve(w, ecsPkt, protoUDP, netip.MustParseAddr(fmt.Sprintf("198.51.100.%d", 1+i%3)))
		s.serve(w, refused, protoUDP, netip.MustParseAddr("203.0.113.53"))
	}
	// The first sampled source is handed over at once, the next 63 wait
	// for a full batch, which this one completes.
	s.serve(w, ecsPkt, protoTCP, netip.MustParseAddr("2001:db8:1:2ff::53"))
	got := sm.Samples()
	if len(got) != 2 {
		t.Fatalf("samples %+v, want two networks", got)
	}
	g := got[0]
	if g.Prefix != netip.MustParsePrefix("198.51.100.0/24") || g.Addr.String() != "198.51.100.1" && g.Addr.String() != "198.51.100.2" && g.Addr.String() != "198.51.100.3" ||
		g.Count != sampleBatch || g.Node != "dns-1" {
		t.Errorf("sample %+v, want 198.51.100.0/24, a source address in it, count %d", g, sampleBatch)
	}
	if g := got[1]; g.Prefix != netip.MustParsePrefix("2001:db8:1:200::/56") || g.Addr != netip.MustParseAddr("2001:db8:1:2ff::53") || g.Count != 1 {
		t.Errorf("sample %+v, want 2001:db8:1:200::/56 by its source address", g)
	}
}

// TestSamplerFlushesAfterASecond: a quiet worker hands its samples over
// at the next query a second after the last hand-over, without a full
// batch.
func TestSamplerFlushesAfterASecond(t *testing.T) {
	sm := newTestSampler(t, storeSink(store.NewMemory(nil)), 1, 100, time.Hour)
	h := &routing.Holder{}
	h.Store(routing.Build(fixtureSet(t), routing.Inputs{}))
	s := New(Config{Sampler: sm}, h, zerolog.Nop(), prometheus.NewRegistry())
	w := newWorker()
	pkt := mustPack(t, query("mail.example.com.", dns.TypeA))
	src := netip.MustParseAddr("192.0.2.53")
	s.serve(w, pkt, protoUDP, src) // handed over at once
	s.serve(w, pkt, protoUDP, src) // waits
	if got := sm.Samples(); len(got) != 1 || got[0].Count != 1 {
		t.Fatalf("samples %+v, want one query counted", got)
	}
	s.now = func() time.Time { return time.Now().Add(2 * time.Second) }
	s.serve(w, pkt, protoUDP, src)
	// Halved from 1 to 0 by the first Samples, so the network came back
	// with the two queries handed over now.
	if got := sm.Samples(); len(got) != 1 || got[0].Count != 2 {
		t.Errorf("samples %+v, want the two waiting queries", got)
	}
}

// TestSamplerTopKAndDecay: the busiest TopK networks are written, busiest
// first; counts halve at every write, so networks that stop querying fade.
func TestSamplerTopKAndDecay(t *testing.T) {
	sm := newTestSampler(t, storeSink(store.NewMemory(nil)), 1, 3, time.Hour)
	now := time.Now()
	var batch []netip.Addr
	for n := range 6 {
		for range n + 1 { // network n counted n+1 times
			batch = append(batch, netip.MustParseAddr(fmt.Sprintf("10.0.%d.9", n)))
		}
	}
	sm.offer(batch, now)
	got := sm.Samples()
	want := []string{"10.0.5.0/24", "10.0.4.0/24", "10.0.3.0/24"}
	if len(got) != 3 {
		t.Fatalf("samples %+v, want the 3 busiest", got)
	}
	for i, w := range want {
		if got[i].Prefix.String() != w || got[i].Count != uint64(6-i) {
			t.Errorf("sample %d: %v count %d, want %s count %d", i, got[i].Prefix, got[i].Count, w, 6-i)
		}
	}
	// Halved at each write: 6,5,4,3,2,1 → 3,2,2,1,1,0 → 1,1,1,0,0 →
	// 0,0,0: networks that stop querying are gone after a few intervals.
	sm.Samples()
	if got := sm.Samples(); len(got) != 3 || got[0].Count != 1 {
		t.Errorf("third write: %+v, want three networks counted 1", got)
	}
	if got := sm.Samples(); len(got) != 0 {
		t.Errorf("fourth write: %+v, want none", got)
	}
	// The map stays bounded when many networks arrive at once.
	batch = batch[:0]
	for i := range 50 {
		batch = append(batch, netip.MustParseAddr(fmt.Sprintf("10.1.%d.1", i)))
	}
	sm.offer(batch, now)
	sm.mu.Lock()
	n := len(sm.nets)
	sm.mu.Unlock()
	if n > 2*3 {
		t.Errorf("%d networks kept, want at most 2×TopK", n)
	}
}

// TestSamplerRun: Run writes the samples to the store every interval, and
// once more when it stops.
func TestSamplerRun(t *testing.T) {
	mem := store.NewMemory(nil)
	sm := newTestSampler(t, storeSink(mem), 1, 10, 20*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sm.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	sm.offer([]netip.Addr{netip.MustParseAddr("192.0.2.53")}, time.Now())
	deadline := time.Now().Add(5 * time.Second)
	for {
		ss, err := mem.ResolverSamples(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(ss) == 1 && ss[0].Addr.String() == "192.0.2.53" && ss[0].Prefix.String() == "192.0.2.0/24" && ss[0].TTL == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("samples in the store: %+v", ss)
		}
		time.Sleep(10 * time.Millisecond) // polling, bounded by the deadline
	}
}

// storeSink hands samples to a real store, as the wiring does.
func storeSink(st store.Store) ResolverSink {
	return SinkFunc(func(ctx context.Context, ss []ResolverSample) error {
		out := make([]store.ResolverSample, len(ss))
		for i, s := range ss {
			out[i] = store.ResolverSample(s)
		}
		return st.PutResolverSamples(ctx, out)
	})
}
