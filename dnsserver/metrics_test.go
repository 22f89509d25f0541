package dnsserver

import (
	"testing"

	"github.com/miekg/dns"
)

// TestMetrics: gtm_dns_queries_total counts each answered query once under
// its qtype, rcode and protocol; the response-time histogram has a sample
// per answer.
func TestMetrics(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{})
	send := func(proto string, m *dns.Msg, n int) {
		for range n {
			ts.exchange(t, proto, m)
		}
	}
	badvers := ednsQuery("mail.example.com.", dns.TypeA, 1232)
	badvers.IsEdns0().SetVersion(1)
	send("udp", query("mail.example.com.", dns.TypeA), 3)
	send("tcp", query("nosuch.example.com.", dns.TypeA), 2)
	send("udp", query("www.example.org.", dns.TypeAAAA), 1)
	send("udp", query("mail.example.com.", dns.TypeNAPTR), 1) // not a listed type: "other"
	send("tcp", badvers, 1)
	send("udp", chaosQuery("id.server.", dns.TypeTXT), 1)

	tests := []struct {
		qtype, rcode, proto string
		want                float64
	}{
		{"A", "NOERROR", "udp", 3},
		{"A", "NXDOMAIN", "tcp", 2},
		{"AAAA", "REFUSED", "udp", 1},
		{"other", "NOERROR", "udp", 1},
		{"A", "BADVERS", "tcp", 1},
		{"TXT", "NOERROR", "udp", 1},
		{"A", "NOERROR", "tcp", 0},
	}
	for _, tc := range tests {
		labels := map[string]string{"qtype": tc.qtype, "rcode": tc.rcode, "proto": tc.proto}
		if got := counterValue(t, ts.reg, "gtm_dns_queries_total", labels); got != tc.want {
			t.Errorf("gtm_dns_queries_total%v = %v, want %v", labels, got, tc.want)
		}
	}
	if got := counterValue(t, ts.reg, "gtm_dns_queries_total", nil); got != 9 {
		t.Errorf("queries in total %v, want 9", got)
	}
	if n := histogramCount(t, ts.reg, "gtm_dns_response_seconds", map[string]string{"proto": "udp"}); n != 6 {
		t.Errorf("udp response time samples %d, want 6", n)
	}
	if n := histogramCount(t, ts.reg, "gtm_dns_response_seconds", map[string]string{"proto": "tcp"}); n != 3 {
		t.Errorf("tcp response time samples %d, want 3", n)
	}
}
