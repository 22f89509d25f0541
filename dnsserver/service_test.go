package dnsserver

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// tally sends q n times over one connection and counts the answers by
// their set of addresses ("a" or "a,b" in answer order). Every response
// must be NOERROR, AA, with the service TTL.
func (ts *testServer) tally(t *testing.T, proto string, q *dns.Msg, n int, ttl uint32) map[string]int {
	t.Helper()
	c := &dns.Client{Net: proto, Timeout: 5 * time.Second}
	conn, err := c.Dial(ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for i := range n {
		q.Id = uint16(i + 1)
		if err := conn.WriteMsg(q); err != nil {
			t.Fatal(err)
		}
		r, err := conn.ReadMsg()
		if err != nil {
			t.Fatal(err)
		}
		if r.Id != q.Id || r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) == 0 {
			t.Fatalf("want a NOERROR AA answer to id %d:\n%v", q.Id, r)
		}
		key := ""
		for j, rr := range r.Answer {
			if rr.Header().Ttl != ttl || rr.Header().Name != q.Question[0].Name {
				t.Fatalf("record %v: want owner %s, TTL %d", rr, q.Question[0].Name, ttl)
			}
			if j > 0 {
				key += ","
			}
			key += addrOf(rr).String()
		}
		out[key]++
	}
	return out
}

func addrOf(rr dns.RR) net.IP {
	switch rr := rr.(type) {
	case *dns.A:
		return rr.A
	case *dns.AAAA:
		return rr.AAAA
	}
	return nil
}

// seen lists the distinct addresses in a tally.
func seen(tally map[string]int) map[string]bool {
	out := map[string]bool{}
	for k := range tally {
		for _, a := range splitComma(k) {
			out[a] = true
		}
	}
	return out
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

func sameSet(got map[string]bool, want ...string) bool {
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

// zoneOf is the fixture's availability zone of each failover endpoint.
var zoneOf = map[string]string{
	"203.0.113.20": "a", "203.0.113.21": "a", "203.0.113.22": "b",
	"198.51.100.20": "a", "198.51.100.21": "b", "192.0.2.20": "a",
}

// TestServiceFailover: the lowest priority group with a usable endpoint
// answers; answers: 2 caps each answer at two, spread over availability
// zones; a group of one gives one.
func TestServiceFailover(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		down    down
		want    []string // the addresses answered across queries
		perResp int
		spread  bool
	}{
		{"all up: priority 0", nil, []string{"203.0.113.20", "203.0.113.21", "203.0.113.22"}, 2, true},
		{"priority 0 down: priority 1", down{"p0a": true, "p0b": true, "p0c": true},
			[]string{"198.51.100.20", "198.51.100.21"}, 2, true},
		{"priority 0 partly down: the rest of 0", down{"p0a": true, "p0c": true},
			[]string{"203.0.113.21"}, 1, false},
		{"0 and 1 down: priority 2, one record", down{"p0a": true, "p0b": true, "p0c": true, "p1a": true, "p1b": true},
			[]string{"192.0.2.20"}, 1, false},
		{"all down: fail open, as if all were up", down{"p0a": true, "p0b": true, "p0c": true, "p1a": true, "p1b": true, "p2a": true},
			[]string{"203.0.113.20", "203.0.113.21", "203.0.113.22"}, 2, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, options{health: tc.down})
			for _, proto := range protos {
				got := ts.tally(t, proto, query("fo.example.com.", dns.TypeA), 60, 30)
				if !sameSet(seen(got), tc.want...) {
					t.Errorf("%s: answered %v, want exactly %v", proto, got, tc.want)
				}
				for k := range got {
					addrs := splitComma(k)
					if len(addrs) != tc.perResp {
						t.Errorf("%s: answer %s has %d records, want %d", proto, k, len(addrs), tc.perResp)
					}
					if tc.spread && zoneOf[addrs[0]] == zoneOf[addrs[1]] {
						t.Errorf("%s: answer %s sits in one availability zone", proto, k)
					}
				}
			}
		})
	}
}

// TestServiceWeighted: weights 9:1 split the answers about 9:1; weight 0
// is never answered while another endpoint is usable, and answered when
// none is.
func TestServiceWeighted(t *testing.T) {
	t.Parallel()
	t.Run("9:1", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, options{})
		const n = 2000
		got := ts.tally(t, "udp", query("wt.example.com.", dns.TypeA), n, 30)
		heavy, light := got["203.0.113.30"], got["203.0.113.31"]
		if heavy+light != n {
			t.Errorf("answers %v: weight 0 (203.0.113.32) answered or a response had two records", got)
		}
		// Binomial n=2000, p=0.9: sd 13.4; 1700..1900 is over 7 sd wide.
		if heavy < 1700 || heavy > 1900 {
			t.Errorf("heavy answered %d of %d, want about 1800", heavy, n)
		}
	})
	t.Run("weight 0 only when the rest are down", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, options{health: down{"heavy": true, "light": true}})
		for _, proto := range protos {
			got := ts.tally(t, proto, query("wt.example.com.", dns.TypeA), 50, 30)
			if got["203.0.113.32"] != 50 {
				t.Errorf("%s: answers %v, want only the weight-0 endpoint", proto, got)
			}
		}
	})
	t.Run("one of two down", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, options{health: down{"heavy": true}})
		got := ts.tally(t, "udp", query("wt.example.com.", dns.TypeA), 50, 30)
		if got["203.0.113.31"] != 50 {
			t.Errorf("answers %v, want only light", got)
		}
	})
}

// TestServiceRegions: the latency (and geo) policy without a client
// location answers the first region in config order (us-east, though
// eu-west sorts first), the next region when the first has no usable
// endpoint; all down fails open unless fail_open: false.
func TestServiceRegions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		down  down
		qname string
		qtype uint16
		want  []string // nil: NODATA
		ttl   uint32
	}{
		{"first region in config order, rotating", nil, "api.example.com.", dns.TypeA, []string{"198.51.100.10", "198.51.100.11"}, 42},
		{"AAAA from the v6 endpoints", nil, "api.example.com.", dns.TypeAAAA, []string{"2001:db8::10"}, 42},
		{"first region down: the next", down{"use1": true, "use2": true, "use6": true}, "api.example.com.", dns.TypeA, []string{"203.0.113.10"}, 42},
		{"first region down: the next, AAAA", down{"use1": true, "use2": true, "use6": true}, "api.example.com.", dns.TypeAAAA, []string{"2001:db8::20"}, 42},
		{"first region partly down", down{"use1": true}, "api.example.com.", dns.TypeA, []string{"198.51.100.11"}, 42},
		{"two regions down: the third", down{"use1": true, "use2": true, "euw1": true}, "api.example.com.", dns.TypeA, []string{"192.0.2.10"}, 42},
		{"all down: fail open, as if all were up", down{"use1": true, "use2": true, "euw1": true, "apse1": true}, "api.example.com.", dns.TypeA, []string{"198.51.100.10", "198.51.100.11"}, 42},
		{"geo without a location: first region in config order", nil, "geo.example.com.", dns.TypeA, []string{"198.51.100.50"}, 30},
		{"geo, first region down: the next", down{"geo-us": true}, "geo.example.com.", dns.TypeA, []string{"203.0.113.50"}, 30},
		{"fail_open false, first region down", down{"closed1": true}, "closed.example.com.", dns.TypeA, []string{"203.0.113.41"}, 30},
		{"fail_open false, all down: NODATA", down{"closed1": true, "closed2": true}, "closed.example.com.", dns.TypeA, nil, 0},
		{"v6-only service, A: NODATA", nil, "only6.example.net.", dns.TypeA, nil, 0},
		{"v6-only service, AAAA", nil, "only6.example.net.", dns.TypeAAAA, []string{"2001:db8::60"}, 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, options{health: tc.down})
			for _, proto := range protos {
				q := query(tc.qname, tc.qtype)
				if tc.want == nil {
					neg := negCom
					if tc.qname == "only6.example.net." {
						neg = negNet
					}
					check(t, q, ts.exchange(t, proto, q), want{rcode: dns.RcodeSuccess, aa: true, ns: []string{neg}, extra: []string{}})
					continue
				}
				got := ts.tally(t, proto, q, 40, tc.ttl)
				if !sameSet(seen(got), tc.want...) {
					t.Errorf("%s: answered %v, want exactly %v across queries", proto, got, tc.want)
				}
			}
		})
	}
}

// TestServiceNoData: a service name has only A and AAAA; other types get
// NODATA with the SOA.
func TestServiceNoData(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{})
	for _, qt := range []uint16{dns.TypeTXT, dns.TypeMX, dns.TypeCNAME, dns.TypeNS, dns.TypeSOA} {
		for _, proto := range protos {
			t.Run(dns.TypeToString[qt]+"/"+proto, func(t *testing.T) {
				q := query("api.example.com.", qt)
				check(t, q, ts.exchange(t, proto, q), want{rcode: dns.RcodeSuccess, aa: true, ns: []string{negCom}, extra: []string{}})
			})
		}
	}
}
