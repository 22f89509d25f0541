package dnsserver

import (
	"net/netip"
	"testing"

	"github.com/gtm-project/gtm/routing"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// benchQueries are the packets both benchmarks parse. The issue allows the
// answer path at most 2 allocations per query beyond what miekg/dns's
// Unpack makes: compare BenchmarkServe with BenchmarkUnpackOnly.
func benchQueries(tb testing.TB) []struct {
	name string
	pkt  []byte
} {
	mk := func(name string, qtype uint16, edns bool) []byte {
		m := query(name, qtype)
		if edns {
			m.SetEdns0(1232, false)
		}
		return mustPack(tb, m)
	}
	return []struct {
		name string
		pkt  []byte
	}{
		{"service-edns", mk("api.example.com.", dns.TypeA, true)},
		{"service", mk("api.example.com.", dns.TypeA, false)},
		{"static", mk("mail.example.com.", dns.TypeA, false)},
		{"static-edns", mk("mail.example.com.", dns.TypeA, true)},
		{"nxdomain", mk("nosuch.example.com.", dns.TypeA, false)},
		{"mixed-case", mk("MaIl.ExAmPlE.CoM.", dns.TypeA, true)},
	}
}

// benchServer is a Server that is never Run: serve is called directly, the
// answer path without sockets.
func benchServer(tb testing.TB) *Server {
	h := &routing.Holder{}
	h.Store(routing.Build(fixtureSet(tb), routing.Inputs{Version: 1}))
	return New(Config{NodeID: "bench", NSID: "bench"}, h, zerolog.Nop(), prometheus.NewRegistry())
}

// BenchmarkServe measures serve: parse, decide, pack, count.
func BenchmarkServe(b *testing.B) {
	s := benchServer(b)
	src := netip.MustParseAddr("192.0.2.200")
	for _, bq := range benchQueries(b) {
		b.Run(bq.name, func(b *testing.B) {
			w := newWorker()
			if out := s.serve(w, bq.pkt, protoUDP, src); out == nil {
				b.Fatal("no response")
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				s.serve(w, bq.pkt, protoUDP, src)
			}
		})
	}
}

// BenchmarkUnpackOnly is what miekg/dns's Unpack of the same packets costs
// alone: the floor BenchmarkServe is compared with.
func BenchmarkUnpackOnly(b *testing.B) {
	for _, bq := range benchQueries(b) {
		b.Run(bq.name, func(b *testing.B) {
			var m dns.Msg
			b.ReportAllocs()
			for b.Loop() {
				if err := m.Unpack(bq.pkt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestServeAllocs keeps the benchmark's promise under plain `go test`:
// serve allocates at most 2 more times per query than Unpack alone.
func TestServeAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counting")
	}
	s := benchServer(t)
	src := netip.MustParseAddr("192.0.2.200")
	w := newWorker()
	var m dns.Msg
	for _, bq := range benchQueries(t) {
		unpack := testing.AllocsPerRun(200, func() { _ = m.Unpack(bq.pkt) })
		serve := testing.AllocsPerRun(200, func() { s.serve(w, bq.pkt, protoUDP, src) })
		if serve > unpack+2 {
			t.Errorf("%s: serve makes %.1f allocations, Unpack alone %.1f: more than 2 extra", bq.name, serve, unpack)
		}
		t.Logf("%s: serve %.1f allocs, unpack %.1f", bq.name, serve, unpack)
	}
}
