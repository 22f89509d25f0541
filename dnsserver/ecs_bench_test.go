package dnsserver

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/gtm-project/gtm/routing"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// ecsBenchServer answers from the fixture with a location database and a
// latency map; never Run (serve is called directly).
func ecsBenchServer(tb testing.TB) *Server {
	lat := latencyMap(map[string]map[string]time.Duration{
		london4: {"us-east": 5 * time.Millisecond, "eu-west": 80 * time.Millisecond},
	})
	h := &routing.Holder{}
	h.Store(routing.Build(fixtureSet(tb), routing.Inputs{Geo: geoFixture(tb), Latency: lat, Version: 1}))
	return New(Config{NodeID: "bench", NSID: "bench"}, h, zerolog.Nop(), prometheus.NewRegistry())
}

// ecsBenchPackets are the queries of BenchmarkServeECS: each variant a
// list of packets served in turn.
func ecsBenchPackets(tb testing.TB) []struct {
	name string
	pkts [][]byte
} {
	edns := func(name string) []byte {
		m := query(name, dns.TypeA)
		m.SetEdns0(1232, false)
		return mustPack(tb, m)
	}
	many := func(name string, n int) [][]byte {
		out := make([][]byte, n)
		for i := range out {
			out[i] = mustPack(tb, ecsQuery(name, dns.TypeA, fmt.Sprintf("10.%d.%d.7", i/256, i%256), 24))
		}
		return out
	}
	return []struct {
		name string
		pkts [][]byte
	}{
		{"service-edns", [][]byte{edns("api.example.com.")}},
		{"service-ecs-london-measured", [][]byte{mustPack(tb, ecsQuery("api.example.com.", dns.TypeA, hostIn(london4, 7), 24))}},
		{"service-ecs-singapore", [][]byte{mustPack(tb, ecsQuery("api.example.com.", dns.TypeA, hostIn(singapore4, 7), 24))}},
		{"service-ecs-1000-networks", many("api.example.com.", 1000)},
		{"static-edns", [][]byte{edns("mail.example.com.")}},
		{"static-ecs", [][]byte{mustPack(tb, ecsQuery("mail.example.com.", dns.TypeA, hostIn(london4, 7), 24))}},
	}
}

// BenchmarkServeECS compares serve with and without ECS, with a location
// database and a latency map in the snapshot: the target is ECS
// routing under 15% of the plain cost.
func BenchmarkServeECS(b *testing.B) {
	s := ecsBenchServer(b)
	src := netip.MustParseAddr("192.0.2.200")
	for _, bq := range ecsBenchPackets(b) {
		b.Run(bq.name, func(b *testing.B) {
			w := newWorker()
			for _, p := range bq.pkts {
				if out := s.serve(w, p, protoUDP, src); out == nil {
					b.Fatal("no response")
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				s.serve(w, bq.pkts[i], protoUDP, src)
				if i++; i == len(bq.pkts) {
					i = 0
				}
			}
		})
	}
}

// TestServeECSAllocs: answering an ECS query allocates no more than
// parsing it, as for every other query (TestServeAllocs).
func TestServeECSAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counting")
	}
	s := ecsBenchServer(t)
	src := netip.MustParseAddr("192.0.2.200")
	w := newWorker()
	var m dns.Msg
	for _, bq := range ecsBenchPackets(t) {
		p := bq.pkts[0]
		s.serve(w, p, protoUDP, src) // warm the location cache
		unpack := testing.AllocsPerRun(200, func() { _ = m.Unpack(p) })
		serve := testing.AllocsPerRun(200, func() { s.serve(w, p, protoUDP, src) })
		if serve > unpack+2 {
			t.Errorf("%s: serve makes %.1f allocations, Unpack alone %.1f: more than 2 extra", bq.name, serve, unpack)
		}
		t.Logf("%s: serve %.1f allocs, unpack %.1f", bq.name, serve, unpack)
	}
}
