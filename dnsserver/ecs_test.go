package dnsserver

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gtm-project/gtm/routing"
	"github.com/miekg/dns"
)

// ecsCase is an ECS question and what must come back.
type ecsCase struct {
	name   string
	qname  string
	qtype  uint16
	addr   string // the client address; the option carries its network
	source int
	want   []string // the addresses answered may only be these, and at least one
	scope  uint8
}

func runECS(t *testing.T, ts *testServer, cases []ecsCase) {
	t.Helper()
	for _, tc := range cases {
		for _, proto := range protos {
			t.Run(tc.name+"/"+proto, func(t *testing.T) {
				q := ecsQuery(tc.qname, tc.qtype, tc.addr, tc.source)
				sent := echoedFrom(q)
				r := ts.exchange(t, proto, q)
				if r.Rcode != dns.RcodeSuccess {
					t.Fatalf("rcode %s", rcodeLabel(r.Rcode))
				}
				got := answerAddrs(r)
				if len(got) == 0 {
					t.Fatalf("no address answered:\n%v", r)
				}
				for _, a := range got {
					if !slices.Contains(tc.want, a) {
						t.Errorf("answered %v, want only %v", got, tc.want)
					}
				}
				e := echoed(t, r)
				if e == nil {
					t.Fatalf("no ECS in the response:\n%v", r)
				}
				if e.Family != sent.Family || e.SourceNetmask != sent.SourceNetmask || !e.Address.Equal(sent.Address) {
					t.Errorf("echoed %v, sent %v: family, source and address must come back as sent", e, sent)
				}
				if e.SourceScope != tc.scope {
					t.Errorf("scope /%d, want /%d", e.SourceScope, tc.scope)
				}
			})
		}
	}
}

func echoedFrom(q *dns.Msg) *dns.EDNS0_SUBNET {
	for _, o := range q.IsEdns0().Option {
		if e, ok := o.(*dns.EDNS0_SUBNET); ok {
			return e
		}
	}
	return nil
}

// Addresses of api.example.com by region.
var (
	apiUS4 = []string{"198.51.100.10", "198.51.100.11"}
	apiEU4 = []string{"203.0.113.10"}
	apiAP4 = []string{"192.0.2.10"}
	apiUS6 = []string{"2001:db8::10"}
	apiEU6 = []string{"2001:db8::20"}
)

// TestECSNearestRegion: a real listener with a location database answers
// each client subnet with its nearest region, echoing ECS with the scope
// the answer depended on.
func TestECSNearestRegion(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{inputs: routing.Inputs{Geo: geoFixture(t)}})
	api := "api.example.com."
	runECS(t, ts, []ecsCase{
		{"London /24", api, dns.TypeA, hostIn(london4, 7), 24, apiEU4, 24},
		{"New York /24", api, dns.TypeA, hostIn(newYork4, 7), 24, apiUS4, 24},
		{"Singapore /24", api, dns.TypeA, hostIn(singapore4, 7), 24, apiAP4, 24},
		{"London /56 in a /48 network: scope 48", api, dns.TypeAAAA, hostIn(london6, 7), 56, apiEU6, 48},
		{"Frankfurt /48 asking A", api, dns.TypeA, hostIn(frankfurt6, 7), 48, apiEU4, 48},
		{"Singapore AAAA: the nearest region with IPv6", api, dns.TypeAAAA, hostIn(singapore6, 7), 56, apiEU6, 48},
		{"no location: configured order", api, dns.TypeA, hostIn(nowhere6, 7), 56, apiUS4, 41},
		{"/32 used as /24, echoed as /32", api, dns.TypeA, hostIn(london4, 7), 32, apiEU4, 24},
		{"/0: nothing about the client, scope 0", api, dns.TypeA, hostIn(london4, 7), 0, apiUS4, 0},
	})
}

// TestECSNextRegionWhenDown: with the nearest region down, the next
// nearest; with one region left, scope 0.
func TestECSNextRegionWhenDown(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{health: down{"euw1": true, "euw6": true}, inputs: routing.Inputs{Geo: geoFixture(t)}})
	api := "api.example.com."
	runECS(t, ts, []ecsCase{
		{"London, Dublin down: Washington", api, dns.TypeA, hostIn(london4, 7), 24, apiUS4, 24},
		{"Singapore unaffected", api, dns.TypeA, hostIn(singapore4, 7), 24, apiAP4, 24},
		{"London AAAA: one IPv6 region left", api, dns.TypeAAAA, hostIn(london6, 7), 56, apiUS6, 0},
	})
}

// TestECSScopeZero: answers that do not depend on the client echo scope 0.
func TestECSScopeZero(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{inputs: routing.Inputs{Geo: geoFixture(t)}})
	for _, tc := range []struct {
		name, qname string
		rcode       int
	}{
		{"static record", "mail.example.com.", dns.RcodeSuccess},
		{"NXDOMAIN", "nosuch.example.com.", dns.RcodeNameError},
		{"outside our zones", "www.example.org.", dns.RcodeRefused},
		{"failover", "fo.example.com.", dns.RcodeSuccess},
		{"one region", "only6.example.net.", dns.RcodeSuccess},
	} {
		for _, proto := range protos {
			t.Run(tc.name+"/"+proto, func(t *testing.T) {
				r := ts.exchange(t, proto, ecsQuery(tc.qname, dns.TypeA, hostIn(london4, 7), 24))
				if r.Rcode != tc.rcode {
					t.Errorf("rcode %s, want %s", rcodeLabel(r.Rcode), rcodeLabel(tc.rcode))
				}
				e := echoed(t, r)
				if e == nil || e.SourceScope != 0 || e.SourceNetmask != 24 {
					t.Errorf("echoed %v, want source 24 scope 0", e)
				}
			})
		}
	}
	// Without ECS in the query there is none in the response.
	q := query("api.example.com.", dns.TypeA)
	q.SetEdns0(1232, false)
	if e := echoed(t, ts.exchange(t, "udp", q)); e != nil {
		t.Errorf("ECS %v in the answer to a query without it", e)
	}
}

// TestECSMalformed: RFC 7871 §7.1.1 malformed options get FORMERR, with
// no ECS in the response; well-formed edge cases are answered.
func TestECSMalformed(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{inputs: routing.Inputs{Geo: geoFixture(t)}})
	valid := []byte{0, 1, 24, 0, 192, 0, 2}
	tests := []struct {
		name string
		data [][]byte
		ok   bool
	}{
		{"unknown family", [][]byte{{0, 3, 24, 0, 192, 0, 2}}, false},
		{"IPv4 source prefix 33", [][]byte{{0, 1, 33, 0, 192, 0, 2, 0, 0}}, false},
		{"IPv6 source prefix 129", [][]byte{append([]byte{0, 2, 129, 0}, make([]byte, 17)...)}, false},
		{"address longer than the prefix needs", [][]byte{{0, 1, 24, 0, 192, 0, 2, 0}}, false},
		{"address shorter than the prefix needs", [][]byte{{0, 1, 24, 0, 192, 0}}, false},
		{"bits set beyond the prefix", [][]byte{{0, 1, 20, 0, 192, 0, 2}}, false},
		{"IPv6 bits beyond /33", [][]byte{{0, 2, 33, 0, 0x20, 0x01, 0x0d, 0xb8, 0x40}}, false},
		{"option shorter than its header", [][]byte{{0, 1, 0}}, false},
		{"family 0 with a prefix", [][]byte{{0, 0, 8, 0, 10}}, false},
		{"two ECS options", [][]byte{valid, valid}, false},
		{"well-formed /24", [][]byte{valid}, true},
		{"well-formed /20", [][]byte{{0, 1, 20, 0, 192, 0, 0}}, true},
		{"IPv4 /0, no address", [][]byte{{0, 1, 0, 0}}, true},
		{"family 0, /0 (old dig)", [][]byte{{0, 0, 0, 0}}, true},
	}
	for _, tc := range tests {
		for _, proto := range protos {
			t.Run(tc.name+"/"+proto, func(t *testing.T) {
				rc := ts.dialRaw(t, proto)
				rc.send(mustPack(t, rawECSQuery("api.example.com.", tc.data...)))
				r := rc.recv()
				if !tc.ok {
					if r.Rcode != dns.RcodeFormatError {
						t.Errorf("rcode %s, want FORMERR", rcodeLabel(r.Rcode))
					}
					if e := echoed(t, r); e != nil || len(r.Answer) != 0 {
						t.Errorf("FORMERR with ECS %v or answers %v", e, r.Answer)
					}
					return
				}
				if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
					t.Fatalf("rcode %s, %d answers; want an answer", rcodeLabel(r.Rcode), len(r.Answer))
				}
				e := echoed(t, r)
				if e == nil || e.SourceNetmask != tc.data[0][2] || e.Family != uint16(tc.data[0][1]) {
					t.Errorf("echoed %v, want the option as sent (% x)", e, tc.data[0])
				}
			})
		}
	}
}

// TestECSLatencyMap: a measured latency map that disagrees with geography
// wins, for an ECS network inside a measured one and, without ECS, for
// the resolver's own network.
func TestECSLatencyMap(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	lat := latencyMap(map[string]map[string]time.Duration{
		london4:        {"us-east": 5 * ms, "eu-west": 80 * ms},
		"127.0.0.0/24": {"ap-southeast": 1 * ms, "eu-west": 2 * ms}, // the test's resolver
	})
	ts := startServer(t, options{inputs: routing.Inputs{Geo: geoFixture(t), Latency: lat}})
	api := "api.example.com."
	runECS(t, ts, []ecsCase{
		{"London measured nearer Washington", api, dns.TypeA, hostIn(london4, 7), 24, apiUS4, 24},
		{"New York not measured: distance", api, dns.TypeA, hostIn(newYork4, 7), 24, apiUS4, 24},
		{"Singapore not measured: distance", api, dns.TypeA, hostIn(singapore4, 7), 24, apiAP4, 24},
	})
	for _, proto := range protos {
		q := query(api, dns.TypeA)
		r := ts.exchange(t, proto, q)
		if got := answerAddrs(r); !slices.Equal(got, apiAP4) {
			t.Errorf("%s without ECS from 127.0.0.1: %v, want the resolver network's fastest region %v", proto, got, apiAP4)
		}
	}
	// The ECS network, not the resolver's, decides an ECS query.
	r := ts.exchange(t, "udp", ecsQuery(api, dns.TypeA, hostIn(singapore4, 7), 24))
	if got := answerAddrs(r); !slices.Equal(got, apiAP4) {
		t.Errorf("ECS from Singapore via a resolver measured elsewhere: %v", got)
	}
}

// TestECSPolicies: geo with a country rule, failover (scope 0), weighted
// (stable per client /24, weights held across networks) over the wire.
func TestECSPolicies(t *testing.T) {
	t.Parallel()
	rules := map[string][]routing.GeoRule{"geo.example.com.": {{Country: "DE", Region: "us-east"}}}
	ts := startServer(t, options{inputs: routing.Inputs{Geo: geoFixture(t), GeoRules: rules}})
	runECS(t, ts, []ecsCase{
		{"geo: London by distance", "geo.example.com.", dns.TypeA, hostIn(london4, 7), 24, []string{"203.0.113.50"}, 24},
		{"geo: Frankfurt by the DE rule", "geo.example.com.", dns.TypeA, hostIn(frankfurt6, 7), 56, []string{"198.51.100.50"}, 48},
		{"failover: priority 0 for all", "fo.example.com.", dns.TypeA, hostIn(london4, 7), 24, []string{"203.0.113.20", "203.0.113.21", "203.0.113.22"}, 0},
	})
	t.Run("weighted", func(t *testing.T) {
		c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
		conn, err := c.Dial(ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		tally := map[string]int{}
		const nets = 200
		for i := range nets {
			var first string
			for j := range 3 {
				q := ecsQuery("wt.example.com.", dns.TypeA, fmt.Sprintf("10.7.%d.%d", i, 1+j*50), 24)
				q.Id = uint16(i*3 + j + 1)
				if err := conn.WriteMsg(q); err != nil {
					t.Fatal(err)
				}
				r, err := conn.ReadMsg()
				if err != nil {
					t.Fatal(err)
				}
				got := answerAddrs(r)
				if len(got) != 1 {
					t.Fatalf("answer %v", r.Answer)
				}
				if e := echoed(t, r); e == nil || e.SourceScope != 24 {
					t.Fatalf("echoed %v, want scope 24", e)
				}
				if j == 0 {
					first = got[0]
				} else if got[0] != first {
					t.Fatalf("10.7.%d.0/24 answered %s, then %s: a client must not flap", i, first, got[0])
				}
			}
			tally[first]++
		}
		// Binomial n=200, p=0.9: sd 4.2; 160 is over 4 sd below 180.
		if tally["203.0.113.30"] < 160 || tally["203.0.113.32"] != 0 {
			t.Errorf("across %d networks: %v, want about 180 heavy and no weight-0 endpoint", nets, tally)
		}
	})
}

// TestECSMaxPrefix: source prefixes are honoured up to the configured
// maximum; the scope never exceeds it, the echo keeps what was sent.
func TestECSMaxPrefix(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{cfg: Config{ECSMaxPrefixV4: 16, ECSMaxPrefixV6: 40}, inputs: routing.Inputs{Geo: geoFixture(t)}})
	api := "api.example.com."
	runECS(t, ts, []ecsCase{
		// 192.0.0.0/16 holds no London network at its start: no location.
		{"London /24 used as /16", api, dns.TypeA, hostIn(london4, 7), 24, apiUS4, 16},
		{"London /56 used as /40", api, dns.TypeAAAA, hostIn(london6, 7), 56, apiUS6, 40},
	})
}

// TestECSWithNSIDAndTruncation: the echo is appended behind the other
// options of our OPT, and counted when a UDP answer is cut to size.
func TestECSWithNSIDAndTruncation(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{cfg: Config{NSID: "node-with-a-longish-name"}, inputs: routing.Inputs{Geo: geoFixture(t)}})
	q := ecsQuery("api.example.com.", dns.TypeA, hostIn(london4, 7), 24)
	q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
	r := ts.exchange(t, "udp", q)
	var nsid string
	for _, o := range r.IsEdns0().Option {
		if n, ok := o.(*dns.EDNS0_NSID); ok {
			nsid = n.Nsid
		}
	}
	if e := echoed(t, r); e == nil || e.SourceScope != 24 || nsid != fmt.Sprintf("%x", "node-with-a-longish-name") {
		t.Errorf("ECS %v, NSID %q", e, nsid)
	}
	for _, size := range []uint16{512, 1232} {
		q := ecsQuery("big.example.com.", dns.TypeTXT, hostIn(london4, 7), 24)
		q.IsEdns0().SetUDPSize(size)
		r, raw := ts.exchangeRaw(t, "udp", q)
		if len(raw) > int(size) || !r.Truncated {
			t.Errorf("EDNS %d: %d bytes, TC=%v", size, len(raw), r.Truncated)
		}
		if e := echoed(t, r); e == nil || e.SourceScope != 0 {
			t.Errorf("EDNS %d: echoed %v, want scope 0", size, e)
		}
	}
}
