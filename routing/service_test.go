package routing

import (
	"net"
	"testing"

	"github.com/miekg/dns"
)

// answers looks name up for Rand 0..n-1 and counts each answer's
// addresses joined by commas; every answer must carry ttl.
func answers(t *testing.T, s *Snapshot, name string, qtype uint16, n int, ttl uint32) map[string]int {
	t.Helper()
	out := map[string]int{}
	for i := range n {
		r := lookup(s, name, qtype, uint64(i))
		if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) == 0 {
			t.Fatalf("%s rand %d: rcode %d, answer %v", name, i, r.Rcode, r.Answer)
		}
		key := ""
		for j, rr := range r.Answer {
			if rr.Header().Ttl != ttl || rr.Header().Rrtype != qtype {
				t.Fatalf("%s: record %v, want type %s TTL %d", name, rr, dns.TypeToString[qtype], ttl)
			}
			if j > 0 {
				key += ","
			}
			key += ip(rr).String()
		}
		out[key]++
	}
	return out
}

func ip(rr dns.RR) net.IP {
	switch rr := rr.(type) {
	case *dns.A:
		return rr.A
	case *dns.AAAA:
		return rr.AAAA
	}
	return nil
}

func addrsIn(tally map[string]int) map[string]bool {
	out := map[string]bool{}
	for k := range tally {
		start := 0
		for i := 0; i <= len(k); i++ {
			if i == len(k) || k[i] == ',' {
				out[k[start:i]] = true
				start = i + 1
			}
		}
	}
	return out
}

func exactly(got map[string]bool, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, w := range want {
		if !got[w] {
			return false
		}
	}
	return true
}

// TestServicePolicies: which endpoints each policy answers, with the
// service's TTL, for a given health.
func TestServicePolicies(t *testing.T) {
	allFO := down{"p0a": true, "p0b": true, "p0c": true, "p1a": true, "p1b": true, "p2a": true}
	tests := []struct {
		name       string
		health     Health
		qname      string
		qtype      uint16
		ttl        uint32
		want       []string // addresses answered across Rand values
		perAnswer  int
		group      string
		failedOpen bool
	}{
		{"failover: priority 0", nil, "fo.example.com.", dns.TypeA, 30,
			[]string{"203.0.113.20", "203.0.113.21", "203.0.113.22"}, 2, "0", false},
		{"failover: priority 0 down", down{"p0a": true, "p0b": true, "p0c": true}, "fo.example.com.", dns.TypeA, 30,
			[]string{"198.51.100.20", "198.51.100.21"}, 2, "1", false},
		{"failover: group of one caps the answer", down{"p0a": true, "p0b": true, "p0c": true, "p1a": true, "p1b": true}, "fo.example.com.", dns.TypeA, 30,
			[]string{"192.0.2.20"}, 1, "2", false},
		{"failover: all down fails open", allFO, "fo.example.com.", dns.TypeA, 30,
			[]string{"203.0.113.20", "203.0.113.21", "203.0.113.22"}, 2, "0", true},
		{"latency: first region in config order", nil, "api.example.com.", dns.TypeA, 42,
			[]string{"198.51.100.10", "198.51.100.11"}, 1, "us-east", false},
		{"latency: AAAA", nil, "api.example.com.", dns.TypeAAAA, 42,
			[]string{"2001:db8::10"}, 1, "us-east", false},
		{"latency: next region", down{"use1": true, "use2": true, "use6": true}, "api.example.com.", dns.TypeA, 42,
			[]string{"203.0.113.10"}, 1, "eu-west", false},
		{"latency: next region for AAAA only", down{"use6": true}, "api.example.com.", dns.TypeAAAA, 42,
			[]string{"2001:db8::20"}, 1, "eu-west", false},
		{"latency: all down fails open", down{"use1": true, "use2": true, "euw1": true, "apse1": true}, "api.example.com.", dns.TypeA, 42,
			[]string{"198.51.100.10", "198.51.100.11"}, 1, "us-east", true},
		{"geo: first region in config order", nil, "geo.example.com.", dns.TypeA, 30,
			[]string{"198.51.100.50"}, 1, "us-east", false},
		{"geo: next region", down{"geo-us": true}, "geo.example.com.", dns.TypeA, 30,
			[]string{"203.0.113.50"}, 1, "eu-west", false},
		{"weighted: weight 0 only when alone", down{"heavy": true, "light": true}, "wt.example.com.", dns.TypeA, 30,
			[]string{"203.0.113.32"}, 1, "all", false},
		{"fail_open false: next region", down{"closed1": true}, "closed.example.com.", dns.TypeA, 30,
			[]string{"203.0.113.41"}, 1, "eu-west", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := snapshot(t, tc.health)
			got := answers(t, s, tc.qname, tc.qtype, 30, tc.ttl)
			if !exactly(addrsIn(got), tc.want) {
				t.Errorf("answered %v, want exactly %v", got, tc.want)
			}
			for k := range got {
				if n := len(addrsIn(map[string]int{k: 1})); n != tc.perAnswer {
					t.Errorf("answer %s has %d records, want %d", k, n, tc.perAnswer)
				}
			}
			r := lookup(s, tc.qname, tc.qtype, 0)
			if r.Service != tc.qname || r.Group != tc.group || r.FailedOpen != tc.failedOpen {
				t.Errorf("Service %q Group %q FailedOpen %v, want %q %q %v", r.Service, r.Group, r.FailedOpen, tc.qname, tc.group, tc.failedOpen)
			}
		})
	}
}

// TestServiceNoData: fail_open false with every endpoint down, a family
// with no endpoint, and other types at a service name give NODATA.
func TestServiceNoData(t *testing.T) {
	tests := []struct {
		name   string
		health Health
		qname  string
		qtype  uint16
		neg    string
	}{
		{"fail_open false, all down", down{"closed1": true, "closed2": true}, "closed.example.com.", dns.TypeA, negCom},
		{"v6-only service, A", nil, "only6.example.net.", dns.TypeA, negNet},
		{"no v6 endpoint, AAAA", nil, "wt.example.com.", dns.TypeAAAA, negCom},
		{"TXT at a service", nil, "api.example.com.", dns.TypeTXT, negCom},
		{"MX at a service", nil, "api.example.com.", dns.TypeMX, negCom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := lookup(snapshot(t, tc.health), tc.qname, tc.qtype, 0)
			if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) != 0 {
				t.Errorf("want NODATA, got rcode %d answer %v", r.Rcode, r.Answer)
			}
			sameSection(t, "authority", r.Ns, []string{tc.neg})
		})
	}
}

// TestServiceWeighted: over every residue of the weight total the answers
// split exactly 9:1, and weight 0 is never chosen while others are up.
func TestServiceWeighted(t *testing.T) {
	s := snapshot(t, nil)
	got := answers(t, s, "wt.example.com.", dns.TypeA, 1000, 30)
	if got["203.0.113.30"] != 900 || got["203.0.113.31"] != 100 || len(got) != 2 {
		t.Errorf("1000 consecutive Rand values answered %v, want 900 heavy, 100 light", got)
	}
}

// TestServiceRotation: consecutive Rand values rotate the answer, so the
// load spreads over a group's endpoints.
func TestServiceRotation(t *testing.T) {
	s := snapshot(t, nil)
	got := answers(t, s, "api.example.com.", dns.TypeA, 10, 42)
	if got["198.51.100.10"] != 5 || got["198.51.100.11"] != 5 {
		t.Errorf("answers %v, want both us-east endpoints equally", got)
	}
}

// TestServiceZoneSpread: with answers: 2, every answer holds two
// availability zones when the group has two, whatever the rotation,
// including where the ring wraps.
func TestServiceZoneSpread(t *testing.T) {
	zoneOf := map[string]string{
		"203.0.113.20": "a", "203.0.113.21": "a", "203.0.113.22": "b",
		"198.51.100.20": "a", "198.51.100.21": "b",
	}
	for _, h := range []Health{nil, down{"p0a": true, "p0b": true, "p0c": true}} {
		s := snapshot(t, h)
		firsts := map[string]bool{}
		for i := range 12 {
			r := lookup(s, "fo.example.com.", dns.TypeA, uint64(i))
			if len(r.Answer) != 2 {
				t.Fatalf("answer %v, want 2 records", r.Answer)
			}
			a, b := ip(r.Answer[0]).String(), ip(r.Answer[1]).String()
			if a == b || zoneOf[a] == zoneOf[b] {
				t.Errorf("answer %s,%s: not spread over zones", a, b)
			}
			firsts[a] = true
		}
		if h == nil && len(firsts) != 3 {
			t.Errorf("answers start with %v: want each endpoint first in turn", firsts)
		}
	}
}
