package dnsserver

import (
	"testing"

	"github.com/miekg/dns"
)

// TestDelegation: a name at or below a zone cut gets a referral (AA=0, the
// child's NS in authority, glue in additional, RFC 1034 §4.3.2), except DS
// at the cut, which the parent answers (RFC 4035 §3.1.4.1).
func TestDelegation(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{})
	referral := want{rcode: dns.RcodeSuccess, aa: false, checkNS: true,
		ns: []string{
			"child.example.com. 3600 IN NS ns1.child.example.com.",
			"child.example.com. 3600 IN NS ns.example.net.",
		},
		extra: []string{
			"ns1.child.example.com. 3600 IN A 192.0.2.54", // glue
			"ns.example.net. 3600 IN A 192.0.2.55",
		},
	}
	tests := []struct {
		name  string
		qname string
		qtype uint16
		want  want
	}{
		{"the cut itself", "child.example.com.", dns.TypeA, referral},
		{"NS at the cut", "child.example.com.", dns.TypeNS, referral},
		{"below the cut", "www.child.example.com.", dns.TypeA, referral},
		{"far below the cut", "a.b.c.child.example.com.", dns.TypeMX, referral},
		{"the glue's own name", "ns1.child.example.com.", dns.TypeA, referral},
		{"DS at the cut: parent's NODATA", "child.example.com.", dns.TypeDS,
			want{rcode: dns.RcodeSuccess, aa: true, ns: []string{negCom}, extra: []string{}}},
		{"DS below the cut: a referral", "www.child.example.com.", dns.TypeDS, referral},
	}
	for _, tc := range tests {
		for _, proto := range protos {
			t.Run(tc.name+"/"+proto, func(t *testing.T) {
				q := query(tc.qname, tc.qtype)
				r := ts.exchange(t, proto, q)
				check(t, q, r, tc.want)
				if !tc.want.aa && len(r.Answer) != 0 {
					t.Errorf("referral with an answer section: %v", r.Answer)
				}
			})
		}
	}
}
