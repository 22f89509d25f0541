package dnsserver

import (
	"testing"

	"github.com/miekg/dns"
)

func chaosQuery(name string, qtype uint16) *dns.Msg {
	m := query(name, qtype)
	m.Question[0].Qclass = dns.ClassCHAOS
	return m
}

// TestChaosIdentity: CHAOS TXT id.server and hostname.bind name the node;
// version.bind answers only when a version is configured.
func TestChaosIdentity(t *testing.T) {
	t.Parallel()
	plain := startServer(t, options{cfg: Config{NodeID: "node-9"}})
	versioned := startServer(t, options{cfg: Config{NodeID: "node-9", Version: "gtm 1.2.3"}})
	tests := []struct {
		name  string
		ts    *testServer
		qname string
		qtype uint16
		want  want
	}{
		{"id.server", plain, "id.server.", dns.TypeTXT, want{rcode: dns.RcodeSuccess, aa: true,
			answer: []string{`id.server. 0 CH TXT "node-9"`}, checkNS: true}},
		{"hostname.bind", plain, "hostname.bind.", dns.TypeTXT, want{rcode: dns.RcodeSuccess, aa: true,
			answer: []string{`hostname.bind. 0 CH TXT "node-9"`}}},
		{"ID.Server in mixed case", plain, "ID.Server.", dns.TypeTXT, want{rcode: dns.RcodeSuccess, aa: true,
			answer: []string{`ID.Server. 0 CH TXT "node-9"`}}},
		{"version.bind unconfigured", plain, "version.bind.", dns.TypeTXT, want{rcode: dns.RcodeRefused, noRRs: true}},
		{"version.bind configured", versioned, "version.bind.", dns.TypeTXT, want{rcode: dns.RcodeSuccess, aa: true,
			answer: []string{`version.bind. 0 CH TXT "gtm 1.2.3"`}}},
		{"version.server configured", versioned, "version.server.", dns.TypeTXT, want{rcode: dns.RcodeSuccess, aa: true,
			answer: []string{`version.server. 0 CH TXT "gtm 1.2.3"`}}},
		{"other CHAOS name", versioned, "authors.bind.", dns.TypeTXT, want{rcode: dns.RcodeRefused, noRRs: true}},
		{"CHAOS A", plain, "id.server.", dns.TypeA, want{rcode: dns.RcodeRefused, noRRs: true}},
	}
	for _, tc := range tests {
		for _, proto := range protos {
			t.Run(tc.name+"/"+proto, func(t *testing.T) {
				q := chaosQuery(tc.qname, tc.qtype)
				check(t, q, tc.ts.exchange(t, proto, q), tc.want)
			})
		}
	}
}

// TestANY: RFC 8482 §4.2: ANY gets one RRset of the name, not all of them,
// so that it cannot amplify.
func TestANY(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{})
	for _, proto := range protos {
		for _, name := range []string{"example.com.", "mail.example.com.", "host3.example."} {
			t.Run(name+"/"+proto, func(t *testing.T) {
				q := query(name, dns.TypeANY)
				r := ts.exchange(t, proto, q)
				if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) == 0 {
					t.Fatalf("want a NOERROR AA answer:\n%v", r)
				}
				h := r.Answer[0].Header()
				for _, rr := range r.Answer {
					if rr.Header().Rrtype != h.Rrtype || rr.Header().Name != h.Name {
						t.Errorf("more than one RRset:\n%v", r.Answer)
						break
					}
				}
				if h.Name != name {
					t.Errorf("owner %s, want %s", h.Name, name)
				}
			})
		}
		t.Run("apex: one of four RRsets/"+proto, func(t *testing.T) {
			r := ts.exchange(t, proto, query("example.com.", dns.TypeANY))
			if len(r.Answer) > 2 { // NS has two records, the others one
				t.Errorf("%d records: more than the largest RRset", len(r.Answer))
			}
		})
		t.Run("service name/"+proto, func(t *testing.T) {
			q := query("api.example.com.", dns.TypeANY)
			check(t, q, ts.exchange(t, proto, q), want{rcode: dns.RcodeSuccess, aa: true,
				oneOf: []string{"api.example.com. 42 IN A 198.51.100.10", "api.example.com. 42 IN A 198.51.100.11"}})
		})
		t.Run("NXDOMAIN/"+proto, func(t *testing.T) {
			q := query("nosuch.example.com.", dns.TypeANY)
			check(t, q, ts.exchange(t, proto, q), want{rcode: dns.RcodeNameError, aa: true, ns: []string{negCom}})
		})
	}
}

// TestZoneTransferRefused: AXFR and IXFR are refused; secondaries are
// other gtm nodes sharing the store.
func TestZoneTransferRefused(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{})
	for _, qt := range []uint16{dns.TypeAXFR, dns.TypeIXFR} {
		for _, proto := range protos {
			t.Run(dns.TypeToString[qt]+"/"+proto, func(t *testing.T) {
				q := query("example.com.", qt)
				check(t, q, ts.exchange(t, proto, q), want{rcode: dns.RcodeRefused, noRRs: true})
			})
		}
	}
}
