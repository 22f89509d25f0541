package dnsserver

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/gtm-project/gtm/routing"
	"github.com/miekg/dns"
)

// TestExplainMatchesTheWire: the Query the server makes for an explanation
// gives, through Snapshot.Explain, the group, answer and scope a real
// query over the wire gets, ECS limits included.
func TestExplainMatchesTheWire(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{cfg: Config{ECSMaxPrefixV6: 48}, health: down{"euw1": true}, inputs: routing.Inputs{Geo: geoFixture(t)}})
	lo := netip.MustParseAddr("127.0.0.1")
	for _, tc := range []struct {
		qname, qtype string
		ecs          string
	}{
		{"api.example.com.", "A", london4},
		{"api.example.com", "aaaa", "2001:db8:1::/56"},
		{"api.example.com.", "A", hostIn(singapore4, 9) + "/24"}, // unmasked: masked as a resolver would
		{"api.example.com.", "A", ""},
		{"mail.example.com.", "A", london4},
		{"fo.example.com.", "TYPE1", london4},
	} {
		var subnet netip.Prefix
		if tc.ecs != "" {
			subnet = netip.MustParsePrefix(tc.ecs)
		}
		q, err := ts.srv.Query(tc.qname, tc.qtype, lo, subnet)
		if err != nil {
			t.Fatal(err)
		}
		ex := ts.holder.Snapshot().Explain(&q)
		m := query(dns.Fqdn(tc.qname), q.Type)
		m.SetEdns0(1232, false)
		if subnet.IsValid() {
			p := subnet.Masked()
			m = ecsQuery(dns.Fqdn(tc.qname), q.Type, p.Addr().String(), p.Bits())
		}
		r := ts.exchange(t, "udp", m)
		scope := 0
		if e := echoed(t, r); e != nil {
			scope = int(e.SourceScope)
		}
		var wire, explained []string
		for _, rr := range r.Answer {
			wire = append(wire, rr.Header().Name+" "+dns.TypeToString[rr.Header().Rrtype])
		}
		for _, a := range ex.Answer {
			rr, _ := dns.NewRR(a)
			explained = append(explained, rr.Header().Name+" "+dns.TypeToString[rr.Header().Rrtype])
		}
		if ex.Scope != scope || !slices.Equal(wire, explained) || ex.Rcode != dns.RcodeToString[r.Rcode] {
			t.Errorf("%s %s ecs %q: explained scope %d answer %v %s; the wire %d %v %s",
				tc.qname, tc.qtype, tc.ecs, ex.Scope, ex.Answer, ex.Rcode, scope, r.Answer, dns.RcodeToString[r.Rcode])
		}
		if len(ex.Services) > 0 {
			se := ex.Services[0]
			got := answerAddrs(r)
			members := map[string][]string{"us-east": apiUS4, "eu-west": apiEU4, "ap-southeast": apiAP4}
			if se.Name == "api.example.com." && q.Type == dns.TypeA && !slices.Contains(members[se.Chosen], got[0]) {
				t.Errorf("%s ecs %q: explained %s, the wire answered %v", tc.qname, tc.ecs, se.Chosen, got)
			}
		}
	}
	if _, err := ts.srv.Query("x.", "NOPE", lo, netip.Prefix{}); err == nil {
		t.Error("an unknown type was accepted")
	}
	if _, err := ts.srv.Query("", "A", lo, netip.Prefix{}); err == nil {
		t.Error("an empty name was accepted")
	}
}
