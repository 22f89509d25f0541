package routing

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// lookupCase is one question and the whole Result expected for it.
type lookupCase struct {
	name   string
	qname  string
	qtype  uint16
	rcode  int
	aa     bool
	zone   string
	answer []string
	ns     []string
	extra  []string
}

func runCases(t *testing.T, s *Snapshot, cases []lookupCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := lookup(s, tc.qname, tc.qtype, 0)
			if r.Rcode != tc.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
			}
			if r.Authoritative != tc.aa {
				t.Errorf("Authoritative=%v, want %v", r.Authoritative, tc.aa)
			}
			if r.Zone != tc.zone {
				t.Errorf("Zone %q, want %q", r.Zone, tc.zone)
			}
			sameSection(t, "answer", r.Answer, tc.answer)
			sameSection(t, "authority", r.Ns, tc.ns)
			sameSection(t, "additional", r.Extra, tc.extra)
		})
	}
}

// TestLookupAuthority: REFUSED outside our zones (nothing else set), the
// most specific zone answers, names compare without regard to case.
func TestLookupAuthority(t *testing.T) {
	s := snapshot(t, nil)
	runCases(t, s, []lookupCase{
		{name: "static", qname: "mail.example.com.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, aa: true, zone: "example.com.",
			answer: []string{"mail.example.com. 3600 IN A 192.0.2.25"}},
		{name: "mixed case", qname: "MAIL.Example.Com.", qtype: dns.TypeAAAA, rcode: dns.RcodeSuccess, aa: true, zone: "example.com.",
			answer: []string{"mail.example.com. 3600 IN AAAA 2001:db8::25"}},
		{name: "not fully qualified", qname: "mail.example.com", qtype: dns.TypeA, rcode: dns.RcodeSuccess, aa: true, zone: "example.com.",
			answer: []string{"mail.example.com. 3600 IN A 192.0.2.25"}},
		{name: "MX with target addresses", qname: "example.com.", qtype: dns.TypeMX, rcode: dns.RcodeSuccess, aa: true, zone: "example.com.",
			answer: []string{"example.com. 3600 IN MX 10 mail.example.com."},
			extra:  []string{"mail.example.com. 3600 IN A 192.0.2.25", "mail.example.com. 3600 IN AAAA 2001:db8::25"}},
		{name: "SOA at the apex keeps its TTL", qname: "example.com.", qtype: dns.TypeSOA, rcode: dns.RcodeSuccess, aa: true, zone: "example.com.",
			answer: []string{"example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 2026010101 7200 900 1209600 300"}},
		{name: "outside every zone", qname: "www.example.org.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		{name: "above our zones", qname: "com.", qtype: dns.TypeNS, rcode: dns.RcodeRefused},
		{name: "root", qname: ".", qtype: dns.TypeNS, rcode: dns.RcodeRefused},
		{name: "empty name", qname: "", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		{name: "name longer than 255", qname: strings.Repeat("a.", 130) + "example.com.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		{name: "shared suffix, not a label", qname: "notexample.com.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
	})
}

// TestLookupNegative: NXDOMAIN and NODATA carry the SOA with TTL
// min(SOA TTL, MINIMUM), both ways round.
func TestLookupNegative(t *testing.T) {
	s := snapshot(t, nil)
	runCases(t, s, []lookupCase{
		{name: "NXDOMAIN, MINIMUM lower", qname: "nosuch.example.com.", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, zone: "example.com.", ns: []string{negCom}},
		{name: "NXDOMAIN, TTL lower", qname: "nosuch.example.net.", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, zone: "example.net.", ns: []string{negNet}},
		{name: "NODATA, MINIMUM lower", qname: "mail.example.com.", qtype: dns.TypeTXT, rcode: dns.RcodeSuccess, aa: true, zone: "example.com.", ns: []string{negCom}},
		{name: "NODATA, TTL lower", qname: "example.net.", qtype: dns.TypeMX, rcode: dns.RcodeSuccess, aa: true, zone: "example.net.", ns: []string{negNet}},
		{name: "NODATA at an ENT", qname: "ent.example.com.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, aa: true, zone: "example.com.", ns: []string{negCom}},
		{name: "NXDOMAIN below a leaf", qname: "x.mail.example.com.", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, zone: "example.com.", ns: []string{negCom}},
	})
}

// TestLookupCNAME: chains inside our zones across two zones, leaving our
// zones, ending NXDOMAIN or NODATA with the target zone's SOA, loops, and
// qtype CNAME.
func TestLookupCNAME(t *testing.T) {
	s := snapshot(t, nil)
	const (
		www  = "www.example.com. 3600 IN CNAME web.example.com."
		web  = "web.example.com. 3600 IN CNAME www.example.net."
		wwwN = "www.example.net. 120 IN A 203.0.113.80"
	)
	runCases(t, s, []lookupCase{
		{name: "three hops, two zones", qname: "www.example.com.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, aa: true, zone: "example.com.", answer: []string{www, web, wwwN}},
		{name: "mixed case start", qname: "WWW.example.COM.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, aa: true, zone: "example.com.", answer: []string{www, web, wwwN}},
		{name: "ends NODATA in the target zone", qname: "www.example.com.", qtype: dns.TypeMX, rcode: dns.RcodeSuccess, aa: true, zone: "example.com.", answer: []string{www, web}, ns: []string{negNet}},
		{name: "leaves our zones", qname: "ext.example.com.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, aa: true, zone: "example.com.",
			answer: []string{"ext.example.com. 3600 IN CNAME www.elsewhere.test."}},
		{name: "ends NXDOMAIN", qname: "dangling.example.com.", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, zone: "example.com.",
			answer: []string{"dangling.example.com. 3600 IN CNAME nothing.example.net."}, ns: []string{negNet}},
		{name: "loop: each CNAME once", qname: "loop1.example.com.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, aa: true, zone: "example.com.",
			answer: []string{"loop1.example.com. 3600 IN CNAME loop2.example.com.", "loop2.example.com. 3600 IN CNAME loop1.example.com."}},
		{name: "qtype CNAME", qname: "www.example.com.", qtype: dns.TypeCNAME, rcode: dns.RcodeSuccess, aa: true, zone: "example.com.", answer: []string{www}},
		{name: "to a service", qname: "alias-api.example.com.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, aa: true, zone: "example.com.",
			answer: []string{"alias-api.example.com. 3600 IN CNAME api.example.com.", "api.example.com. 42 IN A 198.51.100.10"}},
	})
}

// TestLookupWildcard follows RFC 4592 §2.2.1 and §2.2.2.
func TestLookupWildcard(t *testing.T) {
	s := snapshot(t, nil)
	runCases(t, s, []lookupCase{
		{name: "host3 MX synthesized", qname: "host3.example.", qtype: dns.TypeMX, rcode: dns.RcodeSuccess, aa: true, zone: "example.",
			answer: []string{"host3.example. 3600 IN MX 10 host1.example."}, extra: []string{"host1.example. 3600 IN A 192.0.2.1"}},
		{name: "owner takes the query's case", qname: "HOST3.example.", qtype: dns.TypeTXT, rcode: dns.RcodeSuccess, aa: true, zone: "example.",
			answer: []string{`HOST3.example. 3600 IN TXT "this is a wildcard"`}},
		{name: "host3 A: NODATA", qname: "host3.example.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, aa: true, zone: "example.", ns: []string{negTLD}},
		{name: "foo.bar TXT", qname: "foo.bar.example.", qtype: dns.TypeTXT, rcode: dns.RcodeSuccess, aa: true, zone: "example.",
			answer: []string{`foo.bar.example. 3600 IN TXT "this is a wildcard"`}},
		{name: "host1 MX: exists", qname: "host1.example.", qtype: dns.TypeMX, rcode: dns.RcodeSuccess, aa: true, zone: "example.", ns: []string{negTLD}},
		{name: "sub.* MX: exists", qname: "sub.*.example.", qtype: dns.TypeMX, rcode: dns.RcodeSuccess, aa: true, zone: "example.", ns: []string{negTLD}},
		{name: "_telnet._tcp.host1: NXDOMAIN", qname: "_telnet._tcp.host1.example.", qtype: dns.TypeSRV, rcode: dns.RcodeNameError, aa: true, zone: "example.", ns: []string{negTLD}},
		{name: "ghost.*: NXDOMAIN", qname: "ghost.*.example.", qtype: dns.TypeMX, rcode: dns.RcodeNameError, aa: true, zone: "example.", ns: []string{negTLD}},
		{name: "host.subdel: referral", qname: "host.subdel.example.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, aa: false, zone: "example.",
			ns:    []string{"subdel.example. 3600 IN NS ns.example.com.", "subdel.example. 3600 IN NS ns.example.net."},
			extra: []string{"ns.example.net. 3600 IN A 192.0.2.55"}},
		{name: "ENT _tcp.host1: NODATA", qname: "_tcp.host1.example.", qtype: dns.TypeSRV, rcode: dns.RcodeSuccess, aa: true, zone: "example.", ns: []string{negTLD}},
		{name: "ENT blocks the wildcard", qname: "ent.example.", qtype: dns.TypeTXT, rcode: dns.RcodeSuccess, aa: true, zone: "example.", ns: []string{negTLD}},
		{name: "below the ENT: NXDOMAIN", qname: "other.ent.example.", qtype: dns.TypeTXT, rcode: dns.RcodeNameError, aa: true, zone: "example.", ns: []string{negTLD}},
		{name: "SRV with target address", qname: "_ssh._tcp.host1.example.", qtype: dns.TypeSRV, rcode: dns.RcodeSuccess, aa: true, zone: "example.",
			answer: []string{"_ssh._tcp.host1.example. 3600 IN SRV 0 0 22 host1.example."}, extra: []string{"host1.example. 3600 IN A 192.0.2.1"}},
		{name: "wildcard below an apex", qname: "a.b.apps.example.com.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, aa: true, zone: "example.com.",
			answer: []string{"a.b.apps.example.com. 3600 IN A 192.0.2.80"}},
	})
}

// TestLookupDelegation: referrals at and below a cut (not authoritative,
// NS in authority, glue in additional); DS at the cut is the parent's.
func TestLookupDelegation(t *testing.T) {
	s := snapshot(t, nil)
	ns := []string{"child.example.com. 3600 IN NS ns1.child.example.com.", "child.example.com. 3600 IN NS ns.example.net."}
	glue := []string{"ns1.child.example.com. 3600 IN A 192.0.2.54", "ns.example.net. 3600 IN A 192.0.2.55"}
	runCases(t, s, []lookupCase{
		{name: "at the cut", qname: "child.example.com.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, zone: "example.com.", ns: ns, extra: glue},
		{name: "NS at the cut", qname: "child.example.com.", qtype: dns.TypeNS, rcode: dns.RcodeSuccess, zone: "example.com.", ns: ns, extra: glue},
		{name: "below", qname: "a.b.child.example.com.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, zone: "example.com.", ns: ns, extra: glue},
		{name: "glue name", qname: "NS1.child.example.com.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, zone: "example.com.", ns: ns, extra: glue},
		{name: "DS at the cut", qname: "child.example.com.", qtype: dns.TypeDS, rcode: dns.RcodeSuccess, aa: true, zone: "example.com.", ns: []string{negCom}},
		{name: "DS below the cut", qname: "x.child.example.com.", qtype: dns.TypeDS, rcode: dns.RcodeSuccess, zone: "example.com.", ns: ns, extra: glue},
	})
}

// TestLookupANY: one RRset (RFC 8482), for static names and services.
func TestLookupANY(t *testing.T) {
	s := snapshot(t, nil)
	for _, name := range []string{"example.com.", "mail.example.com.", "host3.example.", "api.example.com.", "only6.example.net."} {
		r := lookup(s, name, dns.TypeANY, 0)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			t.Errorf("%s ANY: rcode %d, %d records", name, r.Rcode, len(r.Answer))
			continue
		}
		first := r.Answer[0].Header()
		for _, rr := range r.Answer {
			if rr.Header().Rrtype != first.Rrtype {
				t.Errorf("%s ANY: more than one RRset: %v", name, r.Answer)
				break
			}
		}
	}
	if r := lookup(s, "only6.example.net.", dns.TypeANY, 0); len(r.Answer) != 1 || r.Answer[0].Header().Rrtype != dns.TypeAAAA {
		t.Errorf("ANY at a v6-only service: %v, want its AAAA", r.Answer)
	}
}

// TestResultReuse: a Result reused after Reset carries nothing over.
func TestResultReuse(t *testing.T) {
	s := snapshot(t, nil)
	r := &Result{}
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"host.subdel.example.", dns.TypeA}, {"api.example.com.", dns.TypeA}, {"www.example.com.", dns.TypeA},
		{"nosuch.example.com.", dns.TypeA}, {"www.example.org.", dns.TypeA},
	} {
		r.Reset()
		s.Lookup(&Query{Name: q.name, Type: q.qtype}, r)
		want := lookup(s, q.name, q.qtype, 0)
		if r.Rcode != want.Rcode || r.Authoritative != want.Authoritative || r.Zone != want.Zone || r.Service != want.Service ||
			len(r.Answer) != len(want.Answer) || len(r.Ns) != len(want.Ns) || len(r.Extra) != len(want.Extra) {
			t.Errorf("%s: reused Result %+v differs from a fresh one %+v", q.name, r, want)
		}
	}
}

// TestLookupDoesNotMutate: the snapshot's records are shared by every
// query; a synthesized wildcard answer must be a copy.
func TestLookupDoesNotMutate(t *testing.T) {
	s := snapshot(t, nil)
	lookup(s, "Foo.example.", dns.TypeTXT, 0)
	r := lookup(s, "*.example.", dns.TypeTXT, 0)
	if len(r.Answer) != 1 || r.Answer[0].Header().Name != "*.example." {
		t.Errorf("the wildcard record was renamed by a synthesis: %v", r.Answer)
	}
}

// TestLookupAllocs: static, service and NXDOMAIN lookups allocate nothing
// (the benchmark reports the same; this keeps it true under go test).
func TestLookupAllocs(t *testing.T) {
	s := snapshot(t, nil)
	r := &Result{Answer: make([]dns.RR, 0, 16), Ns: make([]dns.RR, 0, 8), Extra: make([]dns.RR, 0, 8)}
	for _, q := range []Query{
		{Name: "mail.example.com.", Type: dns.TypeA},
		{Name: "api.example.com.", Type: dns.TypeA, Rand: 7},
		{Name: "wt.example.com.", Type: dns.TypeA, Rand: 7},
		{Name: "nosuch.example.com.", Type: dns.TypeA},
		{Name: "MaIl.ExAmPlE.cOm.", Type: dns.TypeA},
		{Name: "www.example.com.", Type: dns.TypeA},
		{Name: "child.example.com.", Type: dns.TypeA},
	} {
		n := testing.AllocsPerRun(100, func() {
			r.Reset()
			s.Lookup(&q, r)
		})
		if n != 0 {
			t.Errorf("%s: %.1f allocations per lookup, want 0", q.Name, n)
		}
	}
}
