package dnsserver

import (
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// fuzzSeeds are valid queries the fuzzer starts from: plain and EDNS,
// with ECS and NSID options, several questions, CHAOS, other opcodes, and
// answers of every shape the fixture holds.
func fuzzSeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	add := func(m *dns.Msg) { seeds = append(seeds, mustPack(tb, m)) }

	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"api.example.com.", dns.TypeA}, {"api.example.com.", dns.TypeAAAA},
		{"mail.example.com.", dns.TypeA}, {"www.example.com.", dns.TypeA},
		{"nosuch.example.com.", dns.TypeA}, {"big.example.com.", dns.TypeTXT},
		{"x.child.example.com.", dns.TypeA}, {"host3.example.", dns.TypeMX},
		{"example.com.", dns.TypeANY}, {"loop1.example.com.", dns.TypeA},
		{"www.example.org.", dns.TypeA}, {"example.com.", dns.TypeAXFR},
	} {
		add(query(q.name, q.qtype))
	}

	m := ednsQuery("api.example.com.", dns.TypeA, 1232)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{
		Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.ParseIP("198.51.100.0").To4(),
	})
	add(m)
	m = ednsQuery("api.example.com.", dns.TypeAAAA, 4096)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{
		Code: dns.EDNS0SUBNET, Family: 2, SourceNetmask: 56, Address: net.ParseIP("2001:db8::"),
	})
	add(m)
	m = ednsQuery("mail.example.com.", dns.TypeA, 1232)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
	m.IsEdns0().SetDo()
	add(m)
	m = ednsQuery("big.example.com.", dns.TypeTXT, 1232)
	add(m)
	m = ednsQuery("mail.example.com.", dns.TypeA, 1232)
	m.IsEdns0().SetVersion(1)
	add(m)

	m = query("mail.example.com.", dns.TypeA)
	m.Question = append(m.Question, dns.Question{Name: "example.com.", Qtype: dns.TypeMX, Qclass: dns.ClassINET})
	add(m)

	add(chaosQuery("id.server.", dns.TypeTXT))
	add(chaosQuery("version.bind.", dns.TypeTXT))

	m = query("example.com.", dns.TypeSOA)
	m.Opcode = dns.OpcodeNotify
	add(m)
	m = query("example.com.", dns.TypeSOA)
	m.Opcode = dns.OpcodeUpdate
	add(m)
	return seeds
}

// FuzzServe feeds arbitrary bytes to the answer path over both protocols.
// It must never panic; a response must parse, be a response (QR=1) to the
// same ID, and over UDP fit our advertised size. Only a packet shorter
// than a header or one that is itself a response may go unanswered.
func FuzzServe(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	s := benchServer(f)
	w := newWorker()
	src := netip.MustParseAddr("192.0.2.200")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		for _, proto := range []int{protoUDP, protoTCP} {
			out := s.serve(w, pkt, proto, src)
			if out == nil {
				if len(pkt) >= 12 && pkt[2]&0x80 == 0 {
					t.Fatalf("%s: no answer to a query %x", protoNames[proto], pkt)
				}
				continue
			}
			if proto == protoUDP && len(out) > s.udpSize {
				t.Fatalf("udp response of %d bytes, above our %d", len(out), s.udpSize)
			}
			var r dns.Msg
			if err := r.Unpack(out); err != nil {
				t.Fatalf("%s: response %x does not parse: %v (query %x)", protoNames[proto], out, err, pkt)
			}
			if !r.Response {
				t.Fatalf("%s: QR=0 in the response", protoNames[proto])
			}
			if id := uint16(pkt[0])<<8 | uint16(pkt[1]); r.Id != id {
				t.Fatalf("%s: response id %d, query id %d", protoNames[proto], r.Id, id)
			}
			if r.RecursionAvailable {
				t.Fatalf("%s: RA set", protoNames[proto])
			}
		}
	})
}
