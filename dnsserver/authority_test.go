package dnsserver

import (
	"testing"

	"github.com/miekg/dns"
)

// TestAuthoritativeFlags: AA on answers from our zones, RA never, RD copied
// whether set or not, REFUSED (AA=0, no records) outside our zones.
func TestAuthoritativeFlags(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{})
	tests := []struct {
		name  string
		qname string
		qtype uint16
		want  want
	}{
		{"static A", "mail.example.com.", dns.TypeA, want{rcode: dns.RcodeSuccess, aa: true,
			answer: []string{"mail.example.com. 3600 IN A 192.0.2.25"}, checkNS: true}},
		{"apex MX with the target's addresses", "example.com.", dns.TypeMX, want{rcode: dns.RcodeSuccess, aa: true,
			answer: []string{"example.com. 3600 IN MX 10 mail.example.com."},
			extra:  []string{"mail.example.com. 3600 IN A 192.0.2.25", "mail.example.com. 3600 IN AAAA 2001:db8::25"}}},
		{"apex NS with addresses from both zones", "example.com.", dns.TypeNS, want{rcode: dns.RcodeSuccess, aa: true,
			answer: []string{"example.com. 3600 IN NS ns1.example.com.", "example.com. 3600 IN NS ns2.example.net."},
			extra:  []string{"ns1.example.com. 3600 IN A 192.0.2.53", "ns2.example.net. 3600 IN A 192.0.2.56"}}},
		{"second zone", "www.example.net.", dns.TypeA, want{rcode: dns.RcodeSuccess, aa: true,
			answer: []string{"www.example.net. 120 IN A 203.0.113.80"}}},
		{"outside every zone", "www.example.org.", dns.TypeA, want{rcode: dns.RcodeRefused, noRRs: true}},
		{"parent of a zone", "com.", dns.TypeNS, want{rcode: dns.RcodeRefused, noRRs: true}},
		{"root", ".", dns.TypeNS, want{rcode: dns.RcodeRefused, noRRs: true}},
		{"suffix that is not a label boundary", "notexample.com.", dns.TypeA, want{rcode: dns.RcodeRefused, noRRs: true}},
	}
	for _, tc := range tests {
		for _, proto := range protos {
			for _, rd := range []bool{true, false} {
				t.Run(tc.name+"/"+proto, func(t *testing.T) {
					q := query(tc.qname, tc.qtype)
					q.RecursionDesired = rd
					check(t, q, ts.exchange(t, proto, q), tc.want)
				})
			}
		}
	}
}

// TestQuestionCasePreserved: a 0x20 resolver's mixed case comes back as
// sent, and the answer is still found.
func TestQuestionCasePreserved(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{})
	tests := []struct {
		qname string
		qtype uint16
		want  want
	}{
		{"MaIl.ExAmPlE.cOm.", dns.TypeA, want{rcode: dns.RcodeSuccess, aa: true,
			answer: []string{"mail.example.com. 3600 IN A 192.0.2.25"}}},
		{"API.Example.COM.", dns.TypeA, want{rcode: dns.RcodeSuccess, aa: true,
			oneOf: []string{"api.example.com. 42 IN A 198.51.100.10", "api.example.com. 42 IN A 198.51.100.11"}}},
		{"NoSuch.EXAMPLE.com.", dns.TypeA, want{rcode: dns.RcodeNameError, aa: true, ns: []string{negCom}}},
		// A synthesized wildcard answer carries the name as asked.
		{"HoSt3.ExAmple.", dns.TypeTXT, want{rcode: dns.RcodeSuccess, aa: true,
			answer: []string{`HoSt3.ExAmple. 3600 IN TXT "this is a wildcard"`}}},
	}
	for _, tc := range tests {
		for _, proto := range protos {
			t.Run(tc.qname+"/"+proto, func(t *testing.T) {
				q := query(tc.qname, tc.qtype)
				r := ts.exchange(t, proto, q)
				if r.Question[0].Name != tc.qname {
					t.Errorf("question name %q, sent %q", r.Question[0].Name, tc.qname)
				}
				check(t, q, r, tc.want)
			})
		}
	}
}
