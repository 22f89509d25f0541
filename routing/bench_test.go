package routing

import (
	"testing"

	"github.com/miekg/dns"
)

// BenchmarkLookup measures the pure decision with a reused Result, as the
// server calls it. Target: 0 allocs/op for static, service and NXDOMAIN.
func BenchmarkLookup(b *testing.B) {
	s := snapshot(b, nil)
	for _, bc := range []struct {
		name string
		q    Query
	}{
		{"static", Query{Name: "mail.example.com.", Type: dns.TypeA}},
		{"service", Query{Name: "api.example.com.", Type: dns.TypeA}},
		{"service-weighted", Query{Name: "wt.example.com.", Type: dns.TypeA}},
		{"nxdomain", Query{Name: "nosuch.example.com.", Type: dns.TypeA}},
		{"mixed-case", Query{Name: "MaIl.ExAmPlE.CoM.", Type: dns.TypeA}},
		{"cname-chain", Query{Name: "www.example.com.", Type: dns.TypeA}},
		{"referral", Query{Name: "www.child.example.com.", Type: dns.TypeA}},
		{"wildcard", Query{Name: "host3.example.", Type: dns.TypeTXT}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := &Result{Answer: make([]dns.RR, 0, 16), Ns: make([]dns.RR, 0, 8), Extra: make([]dns.RR, 0, 8)}
			q := bc.q
			b.ReportAllocs()
			for b.Loop() {
				q.Rand++
				r.Reset()
				s.Lookup(&q, r)
			}
		})
	}
}
