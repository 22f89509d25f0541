package dnsserver

import (
	"testing"

	"github.com/miekg/dns"
)

// TestFormErr: more than one question, no question, or bytes that parse as
// a header and nothing more get FORMERR (RFC 1035 §4.1.1), never a crash.
func TestFormErr(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{})
	for _, proto := range protos {
		t.Run("two questions/"+proto, func(t *testing.T) {
			q := query("mail.example.com.", dns.TypeA)
			q.Question = append(q.Question, dns.Question{Name: "example.com.", Qtype: dns.TypeMX, Qclass: dns.ClassINET})
			r := ts.exchange(t, proto, q)
			if r.Rcode != dns.RcodeFormatError || r.Authoritative || r.RecursionAvailable || !r.RecursionDesired {
				t.Errorf("want FORMERR, AA=0, RA=0, RD copied; got\n%v", r)
			}
			if len(r.Answer)+len(r.Ns)+len(r.Extra) != 0 {
				t.Errorf("FORMERR with records:\n%v", r)
			}
		})
		t.Run("many questions: FORMERR within 512 bytes/"+proto, func(t *testing.T) {
			q := query("example.com.", dns.TypeA)
			for range 150 {
				q.Question = append(q.Question, dns.Question{Name: "mail.example.com.", Qtype: dns.TypeA, Qclass: dns.ClassINET})
			}
			r, raw := ts.exchangeRaw(t, proto, q)
			if r.Rcode != dns.RcodeFormatError {
				t.Errorf("rcode %s, want FORMERR", rcodeLabel(r.Rcode))
			}
			if proto == "udp" && len(raw) > 512 {
				t.Errorf("a %d-byte UDP response to a query without EDNS", len(raw))
			}
			if len(r.Question) != 0 {
				t.Errorf("%d questions echoed, want none", len(r.Question))
			}
		})
		t.Run("no question/"+proto, func(t *testing.T) {
			q := new(dns.Msg)
			q.Id = 4242
			r := ts.exchange(t, proto, q)
			if r.Rcode != dns.RcodeFormatError {
				t.Errorf("rcode %s, want FORMERR", rcodeLabel(r.Rcode))
			}
		})
		t.Run("an answer section in a query/"+proto, func(t *testing.T) {
			q := query("mail.example.com.", dns.TypeA)
			rr, _ := dns.NewRR("mail.example.com. 60 IN A 192.0.2.99")
			q.Answer = append(q.Answer, rr)
			r := ts.exchange(t, proto, q)
			if r.Rcode != dns.RcodeFormatError || len(r.Answer) != 0 {
				t.Errorf("want FORMERR without answers, got\n%v", r)
			}
		})
	}

	garbage := []struct {
		name string
		pkt  []byte
	}{
		// ID 0xbeef, RD, one question whose first label claims 63 bytes.
		{"label longer than the packet", []byte{0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 63, 'a', 'b'}},
		// A compression pointer pointing at itself.
		{"pointer loop", []byte{0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1}},
		// A question and a truncated answer record.
		{"truncated record", []byte{0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0}},
	}
	for _, g := range garbage {
		for _, proto := range protos {
			t.Run(g.name+"/"+proto, func(t *testing.T) {
				c := ts.dialRaw(t, proto)
				c.send(g.pkt)
				r := c.recv()
				if r.Id != 0xbeef || !r.Response || r.Rcode != dns.RcodeFormatError {
					t.Errorf("want FORMERR for id 0xbeef, got\n%v", r)
				}
				if !r.RecursionDesired || r.RecursionAvailable || r.Authoritative {
					t.Errorf("flags: RD=%v (want copied) RA=%v AA=%v", r.RecursionDesired, r.RecursionAvailable, r.Authoritative)
				}
				// The question may be echoed when it parsed; records never.
				if len(r.Question) > 1 || len(r.Answer)+len(r.Ns)+len(r.Extra) != 0 {
					t.Errorf("FORMERR for an unparsable query with records:\n%v", r)
				}
			})
		}
	}
}

// TestNotImplemented: opcodes other than QUERY get NOTIMP (RFC 1035
// §4.1.1), with the opcode echoed and AA=0.
func TestNotImplemented(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{})
	for _, op := range []int{dns.OpcodeNotify, dns.OpcodeUpdate, dns.OpcodeStatus, dns.OpcodeIQuery} {
		for _, proto := range protos {
			t.Run(dns.OpcodeToString[op]+"/"+proto, func(t *testing.T) {
				q := query("example.com.", dns.TypeSOA)
				q.Opcode = op
				r := ts.exchange(t, proto, q)
				if r.Rcode != dns.RcodeNotImplemented {
					t.Errorf("rcode %s, want NOTIMP", rcodeLabel(r.Rcode))
				}
				if r.Opcode != op || r.Authoritative || r.RecursionAvailable || len(r.Answer) != 0 {
					t.Errorf("opcode %d (want %d), AA=%v RA=%v answer %v", r.Opcode, op, r.Authoritative, r.RecursionAvailable, r.Answer)
				}
			})
		}
	}
}

// TestDropped: a response (QR=1) and a packet shorter than a header get no
// answer at all. The server reads one socket in order, so the next answer
// on the same connection belonging to a later query proves nothing was
// sent for the first, without waiting for a timeout.
func TestDropped(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{})
	resp := query("mail.example.com.", dns.TypeA)
	resp.Id = 1
	resp.Response = true
	cases := []struct {
		name   string
		pkt    []byte
		reason string
	}{
		{"QR=1", mustPack(t, resp), "response"},
		{"11 bytes", []byte{0, 2, 1, 0, 0, 1, 0, 0, 0, 0, 0}, "short"},
		{"1 byte", []byte{0}, "short"},
	}
	for _, c := range cases {
		for _, proto := range protos {
			t.Run(c.name+"/"+proto, func(t *testing.T) {
				conn := ts.dialRaw(t, proto)
				conn.send(c.pkt)
				follow := query("mail.example.com.", dns.TypeA)
				follow.Id = 777
				conn.send(mustPack(t, follow))
				if r := conn.recv(); r.Id != 777 {
					t.Errorf("first response has id %d: the dropped packet was answered\n%v", r.Id, r)
				}
			})
		}
	}
	// Over UDP serve drops and counts; over TCP the connection loop drops
	// before serve, uncounted, as miekg/dns's server did.
	if n := counterValue(t, ts.reg, "gtm_dns_dropped_total", map[string]string{"reason": "response"}); n != 1 {
		t.Errorf("dropped{reason=response} = %v, want 1", n)
	}
	if n := counterValue(t, ts.reg, "gtm_dns_dropped_total", map[string]string{"reason": "short"}); n != 2 {
		t.Errorf("dropped{reason=short} = %v, want 2", n)
	}
}
