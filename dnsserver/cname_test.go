package dnsserver

import (
	"testing"

	"github.com/miekg/dns"
)

// TestCNAMEChains: chains are followed inside our zones, across zones we
// serve; they stop where our zones end; the negative answer at the end of a
// chain carries the SOA of the zone it ended in; a loop ends with each
// CNAME once; qtype CNAME gets the CNAME itself.
func TestCNAMEChains(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{})
	const (
		www  = "www.example.com. 3600 IN CNAME web.example.com."
		web  = "web.example.com. 3600 IN CNAME www.example.net."
		wwwN = "www.example.net. 120 IN A 203.0.113.80"
	)
	tests := []struct {
		name  string
		qname string
		qtype uint16
		want  want
	}{
		{"three hops across two zones", "www.example.com.", dns.TypeA,
			want{rcode: dns.RcodeSuccess, aa: true, answer: []string{www, web, wwwN}, checkNS: true}},
		{"two hops", "web.example.com.", dns.TypeA,
			want{rcode: dns.RcodeSuccess, aa: true, answer: []string{web, wwwN}, checkNS: true}},
		{"chain ending NODATA in the other zone", "www.example.com.", dns.TypeAAAA,
			want{rcode: dns.RcodeSuccess, aa: true, answer: []string{www, web}, ns: []string{negNet}}},
		{"chain leaving our zones: the CNAME only", "ext.example.com.", dns.TypeA,
			want{rcode: dns.RcodeSuccess, aa: true, answer: []string{"ext.example.com. 3600 IN CNAME www.elsewhere.test."}, checkNS: true, extra: []string{}}},
		{"chain ending NXDOMAIN", "dangling.example.com.", dns.TypeA,
			want{rcode: dns.RcodeNameError, aa: true, answer: []string{"dangling.example.com. 3600 IN CNAME nothing.example.net."}, ns: []string{negNet}}},
		{"loop terminates, each CNAME once", "loop1.example.com.", dns.TypeA,
			want{rcode: dns.RcodeSuccess, aa: true, answer: []string{
				"loop1.example.com. 3600 IN CNAME loop2.example.com.",
				"loop2.example.com. 3600 IN CNAME loop1.example.com."}}},
		{"qtype CNAME: the CNAME itself", "www.example.com.", dns.TypeCNAME,
			want{rcode: dns.RcodeSuccess, aa: true, answer: []string{www}, checkNS: true}},
		{"CNAME to a service", "alias-api.example.com.", dns.TypeAAAA,
			want{rcode: dns.RcodeSuccess, aa: true, answer: []string{
				"alias-api.example.com. 3600 IN CNAME api.example.com.",
				"api.example.com. 42 IN AAAA 2001:db8::10"}}},
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
