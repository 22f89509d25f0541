package dnsserver

import (
	"encoding/hex"
	"testing"

	"github.com/miekg/dns"
)

// TestEDNSEcho: a query with OPT gets our OPT back, advertising our UDP
// size (RFC 6891 §6.2.3), version 0, the DO bit copied (RFC 3225 §3); a
// query without OPT gets none.
func TestEDNSEcho(t *testing.T) {
	t.Parallel()
	def := startServer(t, options{})
	custom := startServer(t, options{cfg: Config{UDPSize: 1400}})
	tests := []struct {
		name     string
		ts       *testServer
		clientSz uint16
		do       bool
		wantSize uint16
	}{
		{"default size, client 1232", def, 1232, false, 1232},
		{"default size, client 4096, DO", def, 4096, true, 1232},
		{"default size, client 512", def, 512, false, 1232},
		{"configured size", custom, 4096, false, 1400},
		{"configured size, DO", custom, 1232, true, 1400},
	}
	for _, tc := range tests {
		for _, proto := range protos {
			t.Run(tc.name+"/"+proto, func(t *testing.T) {
				q := query("mail.example.com.", dns.TypeA)
				q.SetEdns0(tc.clientSz, tc.do)
				r := tc.ts.exchange(t, proto, q)
				check(t, q, r, want{rcode: dns.RcodeSuccess, aa: true,
					answer: []string{"mail.example.com. 3600 IN A 192.0.2.25"}, extra: []string{}})
				opt := r.IsEdns0()
				if opt == nil {
					t.Fatalf("no OPT in the response to an EDNS query:\n%v", r)
				}
				if n := countOPT(r); n != 1 {
					t.Errorf("%d OPT records, want 1", n)
				}
				if opt.Hdr.Name != "." {
					t.Errorf("OPT owner %q, want the root", opt.Hdr.Name)
				}
				if opt.UDPSize() != tc.wantSize {
					t.Errorf("OPT UDP size %d, want %d", opt.UDPSize(), tc.wantSize)
				}
				if opt.Version() != 0 {
					t.Errorf("OPT version %d, want 0", opt.Version())
				}
				if opt.Do() != tc.do {
					t.Errorf("DO=%v, query had %v", opt.Do(), tc.do)
				}
				if len(opt.Option) != 0 {
					t.Errorf("options %v, none asked for", opt.Option)
				}
			})
		}
	}
	for _, proto := range protos {
		t.Run("no OPT without EDNS/"+proto, func(t *testing.T) {
			q := query("mail.example.com.", dns.TypeA)
			r := def.exchange(t, proto, q)
			if r.IsEdns0() != nil || len(r.Extra) != 0 {
				t.Errorf("additional section %v for a query without OPT", r.Extra)
			}
		})
		t.Run("OPT on negative answers/"+proto, func(t *testing.T) {
			q := ednsQuery("nosuch.example.com.", dns.TypeA, 1232)
			r := def.exchange(t, proto, q)
			check(t, q, r, want{rcode: dns.RcodeNameError, aa: true, ns: []string{negCom}, extra: []string{}})
			if r.IsEdns0() == nil {
				t.Errorf("no OPT on NXDOMAIN")
			}
		})
	}
}

func countOPT(m *dns.Msg) int {
	n := 0
	for _, rr := range m.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			n++
		}
	}
	return n
}

// TestEDNSErrors: BADVERS (extended rcode 16, carried in the OPT) for a
// version we do not speak (RFC 6891 §6.1.3); FORMERR for two OPT records
// or an OPT not owned by the root (§6.1.1).
func TestEDNSErrors(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{})
	for _, proto := range protos {
		t.Run("BADVERS/"+proto, func(t *testing.T) {
			q := ednsQuery("mail.example.com.", dns.TypeA, 1232)
			q.IsEdns0().SetVersion(1)
			r, raw := ts.exchangeRaw(t, proto, q)
			if r.Rcode != dns.RcodeBadVers {
				t.Fatalf("rcode %d (%s), want BADVERS (16)\n%v", r.Rcode, rcodeLabel(r.Rcode), r)
			}
			if lo := raw[3] & 0xF; lo != 0 {
				t.Errorf("header rcode bits %d, want 0 (16 = OPT high bits 1, header 0)", lo)
			}
			opt := r.IsEdns0()
			if opt == nil {
				t.Fatal("BADVERS without OPT")
			}
			if opt.ExtendedRcode() != dns.RcodeBadVers {
				t.Errorf("OPT extended rcode %d, want 16", opt.ExtendedRcode())
			}
			if opt.Version() != 0 {
				t.Errorf("we answered version %d, want 0", opt.Version())
			}
			if len(r.Answer)+len(r.Ns) != 0 || r.Authoritative {
				t.Errorf("BADVERS with data or AA:\n%v", r)
			}
		})
		t.Run("two OPT records/"+proto, func(t *testing.T) {
			q := ednsQuery("mail.example.com.", dns.TypeA, 1232)
			q.Extra = append(q.Extra, &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: 4096}})
			r := ts.exchange(t, proto, q)
			check(t, q, r, want{rcode: dns.RcodeFormatError, noRRs: true})
		})
		t.Run("OPT owner not the root/"+proto, func(t *testing.T) {
			q := query("mail.example.com.", dns.TypeA)
			q.Extra = append(q.Extra, &dns.OPT{Hdr: dns.RR_Header{Name: "example.com.", Rrtype: dns.TypeOPT, Class: 1232}})
			r := ts.exchange(t, proto, q)
			check(t, q, r, want{rcode: dns.RcodeFormatError, noRRs: true})
		})
		t.Run("OPT in the authority section/"+proto, func(t *testing.T) {
			q := query("mail.example.com.", dns.TypeA)
			q.Ns = append(q.Ns, &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: 1232}})
			r := ts.exchange(t, proto, q)
			check(t, q, r, want{rcode: dns.RcodeFormatError, noRRs: true})
		})
	}
}

// TestNSID: the node's NSID (RFC 5001) when the query asks for it, nothing
// when it does not.
func TestNSID(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{cfg: Config{NSID: "node-7.eu-west"}})
	bare := startServer(t, options{})
	for _, proto := range protos {
		t.Run("asked/"+proto, func(t *testing.T) {
			q := ednsQuery("mail.example.com.", dns.TypeA, 1232)
			q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
			r := ts.exchange(t, proto, q)
			check(t, q, r, want{rcode: dns.RcodeSuccess, aa: true, answer: []string{"mail.example.com. 3600 IN A 192.0.2.25"}})
			opt := r.IsEdns0()
			if opt == nil || len(opt.Option) != 1 {
				t.Fatalf("want one NSID option, got %v", r.Extra)
			}
			nsid, ok := opt.Option[0].(*dns.EDNS0_NSID)
			if !ok {
				t.Fatalf("option %T, want NSID", opt.Option[0])
			}
			if got, _ := hex.DecodeString(nsid.Nsid); string(got) != "node-7.eu-west" {
				t.Errorf("NSID %q (hex %s), want node-7.eu-west", got, nsid.Nsid)
			}
		})
		t.Run("not asked/"+proto, func(t *testing.T) {
			q := ednsQuery("mail.example.com.", dns.TypeA, 1232)
			r := ts.exchange(t, proto, q)
			if opt := r.IsEdns0(); opt == nil || len(opt.Option) != 0 {
				t.Errorf("want an OPT without options, got %v", r.Extra)
			}
		})
		t.Run("asked without EDNS: no OPT/"+proto, func(t *testing.T) {
			r := ts.exchange(t, proto, query("mail.example.com.", dns.TypeA))
			if len(r.Extra) != 0 {
				t.Errorf("additional %v", r.Extra)
			}
		})
		t.Run("none configured/"+proto, func(t *testing.T) {
			q := ednsQuery("mail.example.com.", dns.TypeA, 1232)
			q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
			r := bare.exchange(t, proto, q)
			if opt := r.IsEdns0(); opt == nil || len(opt.Option) != 0 {
				t.Errorf("want an OPT without NSID, got %v", r.Extra)
			}
		})
	}
}
