package dnsserver

import (
	"testing"

	"github.com/miekg/dns"
)

// TestNegativeAnswers: NXDOMAIN and NODATA carry the zone's SOA in the
// authority section with TTL min(SOA TTL, SOA MINIMUM) (RFC 2308 §3, §5).
// example.com has TTL 3600 > MINIMUM 300; example.net has TTL 60 < MINIMUM
// 600, so both halves of the min are exercised.
func TestNegativeAnswers(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{})
	tests := []struct {
		name  string
		qname string
		qtype uint16
		want  want
	}{
		{"NXDOMAIN, MINIMUM below TTL", "nosuch.example.com.", dns.TypeA,
			want{rcode: dns.RcodeNameError, aa: true, answer: nil, ns: []string{negCom}, extra: []string{}}},
		{"NXDOMAIN, TTL below MINIMUM", "nosuch.example.net.", dns.TypeA,
			want{rcode: dns.RcodeNameError, aa: true, answer: nil, ns: []string{negNet}, extra: []string{}}},
		{"NXDOMAIN deep below a name", "a.b.mail.example.com.", dns.TypeA,
			want{rcode: dns.RcodeNameError, aa: true, ns: []string{negCom}}},
		{"NODATA at a name, MINIMUM below TTL", "mail.example.com.", dns.TypeTXT,
			want{rcode: dns.RcodeSuccess, aa: true, answer: nil, ns: []string{negCom}, extra: []string{}}},
		{"NODATA at an apex, TTL below MINIMUM", "example.net.", dns.TypeMX,
			want{rcode: dns.RcodeSuccess, aa: true, answer: nil, ns: []string{negNet}, extra: []string{}}},
		{"NODATA at an empty non-terminal", "ent.example.com.", dns.TypeA,
			want{rcode: dns.RcodeSuccess, aa: true, answer: nil, ns: []string{negCom}}},
		{"NODATA for a type we hold nowhere", "mail.example.com.", dns.TypeCAA,
			want{rcode: dns.RcodeSuccess, aa: true, answer: nil, ns: []string{negCom}}},
	}
	for _, tc := range tests {
		for _, proto := range protos {
			t.Run(tc.name+"/"+proto, func(t *testing.T) {
				q := query(tc.qname, tc.qtype)
				check(t, q, ts.exchange(t, proto, q), tc.want)
			})
		}
	}
}
