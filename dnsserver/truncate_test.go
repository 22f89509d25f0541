package dnsserver

import (
	"testing"

	"github.com/miekg/dns"
)

// TestTruncation: big.example.com holds a ~2 KB TXT RRset. Over UDP the
// answer must fit the client's size (512 without EDNS, else the smaller of
// the client's and ours) and say TC=1 (RFC 1035 §4.2.1, RFC 6891 §7); over
// TCP it comes whole.
func TestTruncation(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{})
	large := startServer(t, options{cfg: Config{UDPSize: 4096}})
	tests := []struct {
		name   string
		ts     *testServer
		edns   uint16 // 0: no OPT
		proto  string
		limit  int
		whole  bool
		hasOPT bool
	}{
		{"UDP without EDNS: 512", ts, 0, "udp", 512, false, false},
		{"UDP, EDNS 1232", ts, 1232, "udp", 1232, false, true},
		{"UDP, client 4096 gets our 1232", ts, 4096, "udp", 1232, false, true},
		{"UDP, client below 512 counts as 512", ts, 300, "udp", 512, false, true},
		{"UDP, ours 4096 and client 4096: whole", large, 4096, "udp", 4096, true, true},
		{"UDP, ours 4096, client 1232", large, 1232, "udp", 1232, false, true},
		{"TCP without EDNS: whole", ts, 0, "tcp", dns.MaxMsgSize, true, false},
		{"TCP, EDNS 1232: whole", ts, 1232, "tcp", dns.MaxMsgSize, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := query("big.example.com.", dns.TypeTXT)
			if tc.edns > 0 {
				q.SetEdns0(tc.edns, false)
			}
			r, raw := tc.ts.exchangeRaw(t, tc.proto, q)
			if len(raw) > tc.limit {
				t.Errorf("response of %d bytes exceeds the limit %d", len(raw), tc.limit)
			}
			if r.Rcode != dns.RcodeSuccess || !r.Authoritative {
				t.Errorf("rcode %s AA=%v, want NOERROR AA", rcodeLabel(r.Rcode), r.Authoritative)
			}
			if (r.IsEdns0() != nil) != tc.hasOPT {
				t.Errorf("OPT present=%v, want %v", r.IsEdns0() != nil, tc.hasOPT)
			}
			if len(r.Question) != 1 || r.Question[0] != q.Question[0] {
				t.Errorf("question %v", r.Question)
			}
			if tc.whole {
				if r.Truncated || len(r.Answer) != 10 {
					t.Errorf("TC=%v with %d of 10 records, want the whole RRset", r.Truncated, len(r.Answer))
				}
				for _, rr := range r.Answer {
					if rr.Header().Ttl != 600 {
						t.Errorf("TTL %d, want 600", rr.Header().Ttl)
					}
				}
				return
			}
			if !r.Truncated {
				t.Errorf("TC=0 on a response cut to %d bytes (%d records)", len(raw), len(r.Answer))
			}
			if len(r.Answer) >= 10 {
				t.Errorf("all %d records in a truncated response", len(r.Answer))
			}
		})
	}
	if n := counterValue(t, ts.reg, "gtm_dns_truncated_total", nil); n != 4 {
		t.Errorf("gtm_dns_truncated_total = %v, want 4", n)
	}
}
