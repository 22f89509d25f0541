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

// rrlBenchServer is benchServer with cookies and RRL on; the rate is high
// enough that every benchmark query passes (the common case costs the
// bucket lookup; a limited one costs less, it is not packed).
func rrlBenchServer(tb testing.TB) *Server {
	s := benchServer(tb)
	cs, err := NewCookieSecrets(nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	s.cookies = cs
	s.rrl = newRRL(RRLConfig{Rate: 1 << 30, Slip: 2}, zerolog.Nop(), nil)
	return s
}

// BenchmarkServeRRL compares the UDP answer path with RRL and cookies off
// and on (the budget: within 10%), and with a client cookie.
func BenchmarkServeRRL(b *testing.B) {
	src := netip.MustParseAddr("192.0.2.200")
	plain := mustPack(b, ednsQuery("api.example.com.", dns.TypeA, 1232))
	s := benchServer(b)
	rs := rrlBenchServer(b)
	w := newWorker()
	cookie := rs.serve(w, mustPack(b, cookieQuery(b, "api.example.com.", "0102030405060708")), protoUDP, src)
	var m dns.Msg
	if err := m.Unpack(cookie); err != nil || replyCookie(&m) == "" {
		b.Fatalf("no cookie: %v", err)
	}
	withCookie := mustPack(b, cookieQuery(b, "api.example.com.", replyCookie(&m)))
	for _, c := range []struct {
		name string
		s    *Server
		pkt  []byte
	}{
		{"off", s, plain},
		{"rrl-on", rs, plain},
		{"rrl-on-client-cookie", rs, mustPack(b, cookieQuery(b, "api.example.com.", "0102030405060708"))},
		{"rrl-on-server-cookie", rs, withCookie},
	} {
		b.Run(c.name, func(b *testing.B) {
			w := newWorker()
			b.ReportAllocs()
			for b.Loop() {
				if c.s.serve(w, c.pkt, protoUDP, src) == nil {
					b.Fatal("no response")
				}
			}
		})
	}
}

// TestServeRRLCookieAllocs: RRL and cookies add no allocation: a query
// with a cookie under RRL allocates what Unpack of a plain EDNS query does.
func TestServeRRLCookieAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counting")
	}
	s := rrlBenchServer(t)
	src := netip.MustParseAddr("192.0.2.200")
	plain := mustPack(t, ednsQuery("api.example.com.", dns.TypeA, 1232))
	w := newWorker()
	var m dns.Msg
	if err := m.Unpack(s.serve(w, mustPack(t, cookieQuery(t, "api.example.com.", "0102030405060708")), protoUDP, src)); err != nil {
		t.Fatal(err)
	}
	unpack := testing.AllocsPerRun(200, func() { _ = m.Unpack(plain) })
	for name, pkt := range map[string][]byte{
		"plain":         plain,
		"client-cookie": mustPack(t, cookieQuery(t, "api.example.com.", "0102030405060708")),
		"server-cookie": mustPack(t, cookieQuery(t, "api.example.com.", replyCookie(&m))),
	} {
		serve := testing.AllocsPerRun(200, func() { s.serve(w, pkt, protoUDP, src) })
		if serve > unpack {
			t.Errorf("%s: serve with RRL and cookies makes %.1f allocations, Unpack of a plain query %.1f", name, serve, unpack)
		}
	}
}
