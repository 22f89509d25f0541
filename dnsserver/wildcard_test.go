package dnsserver

import (
	"testing"

	"github.com/miekg/dns"
)

// TestWildcards follows RFC 4592 §2.2.1 on its own example zone: which
// names a wildcard synthesizes, which it does not, and empty non-terminals
// blocking it.
func TestWildcards(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{})
	tests := []struct {
		name  string
		qname string
		qtype uint16
		want  want
	}{
		// §2.2.1 "The following responses would be synthesized".
		{"host3 MX synthesized, target address added", "host3.example.", dns.TypeMX,
			want{rcode: dns.RcodeSuccess, aa: true,
				answer: []string{"host3.example. 3600 IN MX 10 host1.example."},
				extra:  []string{"host1.example. 3600 IN A 192.0.2.1"}}},
		{"host3 A: wildcard matched, no such type: NODATA", "host3.example.", dns.TypeA,
			want{rcode: dns.RcodeSuccess, aa: true, ns: []string{negTLD}}},
		{"foo.bar TXT: two labels below the closest encloser", "foo.bar.example.", dns.TypeTXT,
			want{rcode: dns.RcodeSuccess, aa: true, answer: []string{`foo.bar.example. 3600 IN TXT "this is a wildcard"`}}},
		// §2.2.1 "The following responses would not be synthesized".
		{"host1 MX: the name exists", "host1.example.", dns.TypeMX,
			want{rcode: dns.RcodeSuccess, aa: true, ns: []string{negTLD}}},
		{"sub.* MX: the name exists", "sub.*.example.", dns.TypeMX,
			want{rcode: dns.RcodeSuccess, aa: true, ns: []string{negTLD}}},
		{"_telnet._tcp.host1 SRV: closest encloser has no wildcard", "_telnet._tcp.host1.example.", dns.TypeSRV,
			want{rcode: dns.RcodeNameError, aa: true, ns: []string{negTLD}}},
		{"host.subdel A: a referral", "host.subdel.example.", dns.TypeA,
			want{rcode: dns.RcodeSuccess, aa: false, checkNS: true, ns: []string{
				"subdel.example. 3600 IN NS ns.example.com.", "subdel.example. 3600 IN NS ns.example.net."},
				extra: []string{"ns.example.net. 3600 IN A 192.0.2.55"}}},
		{"ghost.* MX: the wildcard's own children are not wildcards", "ghost.*.example.", dns.TypeMX,
			want{rcode: dns.RcodeNameError, aa: true, ns: []string{negTLD}}},
		// The wildcard owner itself is an ordinary name.
		{"* TXT: the wildcard record as written", "*.example.", dns.TypeTXT,
			want{rcode: dns.RcodeSuccess, aa: true, answer: []string{`*.example. 3600 IN TXT "this is a wildcard"`}}},
		{"sub.* TXT", "sub.*.example.", dns.TypeTXT,
			want{rcode: dns.RcodeSuccess, aa: true, answer: []string{`sub.*.example. 3600 IN TXT "this is not a wildcard"`}}},
		// Empty non-terminals (§2.2.2): they exist, so they block the wildcard.
		{"ENT _tcp.host1: NODATA", "_tcp.host1.example.", dns.TypeTXT,
			want{rcode: dns.RcodeSuccess, aa: true, ns: []string{negTLD}}},
		{"ENT directly under the wildcard's parent: NODATA, not synthesized", "ent.example.", dns.TypeTXT,
			want{rcode: dns.RcodeSuccess, aa: true, ns: []string{negTLD}}},
		{"below the ENT: NXDOMAIN, not synthesized", "other.ent.example.", dns.TypeTXT,
			want{rcode: dns.RcodeNameError, aa: true, ns: []string{negTLD}}},
		{"existing name below the ENT", "deep.ent.example.", dns.TypeA,
			want{rcode: dns.RcodeSuccess, aa: true, answer: []string{"deep.ent.example. 3600 IN A 192.0.2.9"}}},
		// A wildcard below the apex (*.apps.example.com).
		{"wildcard below the apex", "x.apps.example.com.", dns.TypeA,
			want{rcode: dns.RcodeSuccess, aa: true, answer: []string{"x.apps.example.com. 3600 IN A 192.0.2.80"}}},
		{"wildcard below the apex, deeper", "y.x.apps.example.com.", dns.TypeA,
			want{rcode: dns.RcodeSuccess, aa: true, answer: []string{"y.x.apps.example.com. 3600 IN A 192.0.2.80"}}},
		{"the wildcard's parent is an ENT: NODATA", "apps.example.com.", dns.TypeA,
			want{rcode: dns.RcodeSuccess, aa: true, ns: []string{negCom}}},
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
