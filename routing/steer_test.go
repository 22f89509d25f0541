package routing

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// steerCase is one steered question and the decision expected.
type steerCase struct {
	name   string
	qname  string
	qtype  uint16
	client string // an address
	ecs    int    // ECS source prefix; 0: a plain query from client
	group  string
	reason Reason
	scope  uint8
}

func runSteer(t *testing.T, s *Snapshot, cases []steerCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &Result{}
			r.Reset()
			s.Lookup(clientQuery(tc.qname, tc.qtype, tc.client, tc.ecs, 0), r)
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
				t.Fatalf("rcode %s, answer %v", dns.RcodeToString[r.Rcode], r.Answer)
			}
			if r.Group != tc.group || r.Reason != tc.reason || r.Scope != tc.scope {
				t.Errorf("group %q reason %v scope %d, want %q %v %d", r.Group, r.Reason, r.Scope, tc.group, tc.reason, tc.scope)
			}
		})
	}
}

// TestSteerDistance: each client network gets its nearest region, the
// scope is the database network (or the source prefix when shorter), and
// a network without a location gets the configured order.
func TestSteerDistance(t *testing.T) {
	s := steerSnapshot(t, nil, nil, nil)
	api := "api.example.com."
	runSteer(t, s, []steerCase{
		{"London /24 → Dublin", api, dns.TypeA, host(london4, 7), 24, "eu-west", ReasonDistance, 24},
		{"New York /24 → Washington", api, dns.TypeA, host(newYork4, 7), 24, "us-east", ReasonDistance, 24},
		{"Singapore /24 → Singapore", api, dns.TypeA, host(singapore4, 7), 24, "ap-southeast", ReasonDistance, 24},
		{"resolver in London, no ECS: no scope", api, dns.TypeA, host(london4, 53), 0, "eu-west", ReasonDistance, 0},
		{"ECS /20 is a wider network, scope at most the source", api, dns.TypeA, host(london4, 7), 20, "us-east", ReasonOrder, 20},
		{"London /56 in a /48: scope 48", api, dns.TypeAAAA, host(london6, 7), 56, "eu-west", ReasonDistance, 48},
		{"London /32 (source shorter than the network)", api, dns.TypeAAAA, host(london6, 7), 32, "us-east", ReasonOrder, 32},
		{"New York v6 asking A", api, dns.TypeA, host(newYork6, 7), 56, "us-east", ReasonDistance, 48},
		{"Singapore AAAA: no v6 there, the nearest with v6", api, dns.TypeAAAA, host(singapore6, 7), 48, "eu-west", ReasonDistance, 48},
		{"no location: configured order, scope of the empty block", api, dns.TypeA, nowhere6 + "1", 56, "us-east", ReasonOrder, 41},
		{"country but no coordinates: configured order", api, dns.TypeA, host(germany6, 1), 56, "us-east", ReasonOrder, 48},
	})
	t.Run("ECS /0: the resolver's address, scope 0", func(t *testing.T) {
		q := clientQuery(api, dns.TypeA, host(london4, 53), 0, 0)
		q.ECS = true
		r := lookup2(s, q)
		if r.Group != "eu-west" || r.Scope != 0 {
			t.Errorf("group %q scope %d, want eu-west 0", r.Group, r.Scope)
		}
	})
	t.Run("no client at all: configured order, scope 0", func(t *testing.T) {
		r := lookup2(s, &Query{Name: api, Type: dns.TypeA})
		if r.Group != "us-east" || r.Reason != ReasonOrder || r.Scope != 0 {
			t.Errorf("group %q reason %v scope %d, want us-east order 0", r.Group, r.Reason, r.Scope)
		}
	})
}

func lookup2(s *Snapshot, q *Query) *Result {
	r := &Result{}
	r.Reset()
	s.Lookup(q, r)
	return r
}

// TestSteerDown: with the nearest region down (or drained: Health says
// unusable), the next nearest; a region down for one family only still
// answers the other.
func TestSteerDown(t *testing.T) {
	api := "api.example.com."
	runSteer(t, steerSnapshot(t, down{"euw1": true, "euw6": true}, nil, nil), []steerCase{
		{"London, Dublin down → Washington", api, dns.TypeA, host(london4, 7), 24, "us-east", ReasonDistance, 24},
		{"London AAAA, Dublin down: the one v6 region left", api, dns.TypeAAAA, host(london6, 7), 56, "us-east", ReasonSingle, 0},
	})
	runSteer(t, steerSnapshot(t, down{"apse1": true}, nil, nil), []steerCase{
		{"Singapore, Singapore down → Dublin", api, dns.TypeA, host(singapore4, 7), 24, "eu-west", ReasonDistance, 24},
		{"New York unaffected", api, dns.TypeA, host(newYork4, 7), 24, "us-east", ReasonDistance, 24},
	})
	runSteer(t, steerSnapshot(t, down{"use6": true}, nil, nil), []steerCase{
		{"one v6 region left: single, scope 0", api, dns.TypeAAAA, host(newYork6, 7), 56, "eu-west", ReasonSingle, 0},
		{"A from the same client still steered", api, dns.TypeA, host(newYork6, 7), 56, "us-east", ReasonDistance, 48},
	})
	runSteer(t, steerSnapshot(t, down{"use1": true, "use2": true, "use6": true, "euw1": true, "euw6": true, "apse1": true}, nil, nil), []steerCase{
		{"all down: fail open in configured order, scope 0", api, dns.TypeA, host(singapore4, 7), 24, "us-east", ReasonFailOpen, 0},
	})
}

// TestSteerLatencyMap: measured RTTs beat geography when at least two
// candidate regions have figures for a network covering the client's.
func TestSteerLatencyMap(t *testing.T) {
	api := "api.example.com."
	ms := time.Millisecond
	lat := rtts(map[string]map[string]time.Duration{
		london4:            {"us-east": 5 * ms, "eu-west": 60 * ms, "ap-southeast": 200 * ms},
		london6:            {"us-east": 5 * ms, "eu-west": 60 * ms},
		"198.51.100.0/25":  {"ap-southeast": 1 * ms, "eu-west": 2 * ms},
		singapore4:         {"us-east": 1 * ms},
		"2001:db8:20::/48": {"eu-west": 80 * ms, "us-east": 90 * ms},
	})
	s := steerSnapshot(t, nil, lat, nil)
	runSteer(t, s, []steerCase{
		{"London /24 measured: Washington wins", api, dns.TypeA, host(london4, 7), 24, "us-east", ReasonLatency, 24},
		{"resolver in London, no ECS: its network's figures", api, dns.TypeA, host(london4, 53), 0, "us-east", ReasonLatency, 0},
		{"London /56 inside the measured /48", api, dns.TypeAAAA, host(london6, 7), 56, "us-east", ReasonLatency, 48},
		{"ECS /24 not covered by a measured /25: distance", api, dns.TypeA, host(newYork4, 7), 24, "us-east", ReasonDistance, 24},
		{"a resolver inside the /25 uses it", api, dns.TypeA, host(newYork4, 9), 0, "ap-southeast", ReasonLatency, 0},
		{"one figure ranks nothing: distance", api, dns.TypeA, host(singapore4, 7), 24, "ap-southeast", ReasonDistance, 24},
		{"Singapore AAAA: eu 80ms over us 90ms", api, dns.TypeAAAA, host(singapore6, 7), 56, "eu-west", ReasonLatency, 48},
	})
	runSteer(t, steerSnapshot(t, down{"use1": true, "use2": true}, lat, nil), []steerCase{
		{"measured best down: next by RTT", api, dns.TypeA, host(london4, 7), 24, "eu-west", ReasonLatency, 24},
	})
	runSteer(t, steerSnapshot(t, down{"use1": true, "use2": true, "euw1": true}, lat, nil), []steerCase{
		{"one measured candidate left: distance", api, dns.TypeA, host(london4, 7), 24, "ap-southeast", ReasonSingle, 0},
	})
	// The geo policy ignores the latency map.
	runSteer(t, s, []steerCase{
		{"geo policy: distance despite RTTs", "geo.example.com.", dns.TypeA, host(london4, 7), 24, "eu-west", ReasonDistance, 24},
	})
}

// TestSteerGeoRules: a country rule, then a continent rule, come before
// distance; a rule's region that is down falls back to distance.
func TestSteerGeoRules(t *testing.T) {
	rules := map[string][]GeoRule{"geo.example.com.": {
		{Country: "de", Region: "us-east"},
		{Continent: "AF", Region: "us-east"},
		{Country: "GB", Region: "nowhere"}, // unknown region: ignored
	}}
	geoName := "geo.example.com."
	runSteer(t, steerSnapshot(t, nil, nil, rules), []steerCase{
		{"Frankfurt: DE rule over the nearer Dublin", geoName, dns.TypeA, host(frankfurt6, 7), 56, "us-east", ReasonRule, 48},
		{"Germany without coordinates: the rule still applies", geoName, dns.TypeA, host(germany6, 7), 56, "us-east", ReasonRule, 48},
		{"Johannesburg: AF continent rule", geoName, dns.TypeA, host(joburg6, 7), 48, "us-east", ReasonRule, 48},
		{"London: no rule, distance", geoName, dns.TypeA, host(london4, 7), 24, "eu-west", ReasonDistance, 24},
		{"a rule for another service does not apply", "api.example.com.", dns.TypeA, host(frankfurt6, 7), 56, "eu-west", ReasonDistance, 48},
	})
	runSteer(t, steerSnapshot(t, down{"geo-us": true}, nil, rules), []steerCase{
		{"rule region down: the other region", geoName, dns.TypeA, host(frankfurt6, 7), 56, "eu-west", ReasonSingle, 0},
	})
}

// TestSteerScopeZero: answers that are the same for every client carry
// scope 0 even with ECS.
func TestSteerScopeZero(t *testing.T) {
	s := steerSnapshot(t, down{"p0a": true, "p0b": true, "p0c": true}, nil, nil)
	for _, tc := range []struct {
		name, qname string
		qtype       uint16
		reason      Reason
	}{
		{"static record", "mail.example.com.", dns.TypeA, ReasonNone},
		{"NXDOMAIN", "nosuch.example.com.", dns.TypeA, ReasonNone},
		{"single-region service", "only6.example.net.", dns.TypeAAAA, ReasonSingle},
		{"failover", "fo.example.com.", dns.TypeA, ReasonFailover},
		{"CNAME to a static name", "www.example.com.", dns.TypeA, ReasonNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := lookup2(s, clientQuery(tc.qname, tc.qtype, host(london4, 7), 24, 0))
			if r.Scope != 0 || r.Reason != tc.reason {
				t.Errorf("scope %d reason %v, want 0 %v", r.Scope, r.Reason, tc.reason)
			}
		})
	}
	r := lookup2(steerSnapshot(t, nil, nil, nil), clientQuery("fo.example.com.", dns.TypeA, host(london4, 7), 24, 0))
	if r.Group != "0" || r.Reason != ReasonPriority || r.Scope != 0 {
		t.Errorf("failover all up: group %q reason %v scope %d, want 0 priority 0", r.Group, r.Reason, r.Scope)
	}
	// A CNAME chain into a steered service carries the service's scope.
	r = lookup2(s, clientQuery("alias-api.example.com.", dns.TypeA, host(london4, 7), 24, 0))
	if r.Group != "eu-west" || r.Scope != 24 || len(r.Answer) != 2 {
		t.Errorf("alias-api: group %q scope %d answer %v, want eu-west, 24, CNAME and A", r.Group, r.Scope, r.Answer)
	}
}

// TestSteerWeightedStable: with ECS the weighted choice is a function of
// the client's /24 (or shorter source): one answer per network whatever
// the random number, scope that prefix, and over many networks the
// weights hold. Without ECS it is random per query (TestServiceWeighted).
func TestSteerWeightedStable(t *testing.T) {
	s := steerSnapshot(t, nil, nil, nil)
	tally := map[string]int{}
	const nets = 2000
	for i := range nets {
		client := fmt.Sprintf("10.%d.%d.77", i/256, i%256)
		var first string
		for rnd := range uint64(8) {
			r := lookup2(s, clientQuery("wt.example.com.", dns.TypeA, client, 24, rnd*7919))
			got := ip(r.Answer[0]).String()
			if rnd == 0 {
				first = got
			} else if got != first {
				t.Fatalf("%s/24 answered %s then %s: not stable", client, first, got)
			}
			if r.Scope != 24 || r.Reason != ReasonWeighted {
				t.Fatalf("scope %d reason %v, want 24 weighted", r.Scope, r.Reason)
			}
		}
		tally[first]++
	}
	// Binomial n=2000, p=0.9: sd 13.4.
	if h := tally["203.0.113.30"]; h < 1700 || h > 1900 || tally["203.0.113.32"] != 0 {
		t.Errorf("across %d networks: %v, want about 1800 heavy, 200 light, no weight 0", nets, tally)
	}
	// Two clients in one /24 share the answer; a /20 source gives scope 20.
	a := lookup2(s, clientQuery("wt.example.com.", dns.TypeA, "10.9.9.1", 24, 1))
	b := lookup2(s, clientQuery("wt.example.com.", dns.TypeA, "10.9.9.200", 24, 99))
	if ip(a.Answer[0]).String() != ip(b.Answer[0]).String() {
		t.Errorf("one /24, two answers: %v and %v", a.Answer, b.Answer)
	}
	if r := lookup2(s, clientQuery("wt.example.com.", dns.TypeA, "10.9.9.1", 20, 1)); r.Scope != 20 {
		t.Errorf("ECS /20: scope %d, want 20", r.Scope)
	}
}

// TestExplainAgreesWithLookup: Explain's choice, scope, answer and rcode
// are Lookup's, over every client, name and health of the fixtures.
func TestExplainAgreesWithLookup(t *testing.T) {
	ms := time.Millisecond
	lat := rtts(map[string]map[string]time.Duration{
		london4: {"us-east": 5 * ms, "eu-west": 60 * ms}, london6: {"ap-southeast": 5 * ms, "eu-west": 6 * ms},
	})
	rules := map[string][]GeoRule{"geo.example.com.": {{Country: "DE", Region: "us-east"}}}
	healths := []Health{nil, down{"euw1": true, "euw6": true}, down{"use1": true, "use2": true, "p0a": true, "p0b": true, "p0c": true, "heavy": true}}
	clients := []string{host(london4, 7), host(newYork4, 7), host(singapore4, 7), host(london6, 7), host(frankfurt6, 7), host(singapore6, 7), nowhere6 + "5", host(germany6, 5)}
	names := []string{"api.example.com.", "geo.example.com.", "fo.example.com.", "wt.example.com.", "mail.example.com.", "alias-api.example.com.", "nosuch.example.com.", "only6.example.net.", "closed.example.com."}
	n := 0
	for _, h := range healths {
		s := Build(fixture(t), Inputs{Health: h, Geo: geoDB(t), Latency: lat, GeoRules: rules, Version: 3})
		for _, c := range clients {
			for _, name := range names {
				for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
					for _, ecs := range []int{0, 24, 56} {
						if ecs == 56 && !strings.Contains(c, ":") || ecs == 24 && strings.Contains(c, ":") {
							continue
						}
						q := clientQuery(name, qt, c, ecs, 0)
						r := lookup2(s, q)
						ex := s.Explain(q)
						n++
						if ex.Scope != int(r.Scope) || ex.Rcode != dns.RcodeToString[r.Rcode] || len(ex.Answer) != len(r.Answer) {
							t.Errorf("%s %s from %s/%d: explain scope %d rcode %s answer %v; lookup %d %s %v",
								name, dns.TypeToString[qt], c, ecs, ex.Scope, ex.Rcode, ex.Answer, r.Scope, dns.RcodeToString[r.Rcode], r.Answer)
							continue
						}
						for i := range r.Answer {
							if ex.Answer[i] != strings.Join(strings.Fields(r.Answer[i].String()), " ") {
								t.Errorf("%s from %s: explain answer %v, lookup %v", name, c, ex.Answer, r.Answer)
							}
						}
						if r.Service == "" {
							if len(ex.Services) != 0 {
								t.Errorf("%s: no service answered, explanation has %+v", name, ex.Services)
							}
							continue
						}
						se := ex.Services[len(ex.Services)-1]
						if se.Chosen != r.Group || se.Reason != r.Reason.String() || se.Groups[0].Group != r.Group || se.Groups[0].Rank != 1 {
							t.Errorf("%s %s from %s/%d: explain chose %q (%s), first %+v; lookup %q (%v)",
								name, dns.TypeToString[qt], c, ecs, se.Chosen, se.Reason, se.Groups[0], r.Group, r.Reason)
						}
					}
				}
			}
		}
	}
	if n < 500 {
		t.Fatalf("only %d queries compared", n)
	}
}

// TestExplainDetail: an explanation names the client, its location, the
// latency network, and each region's distance, RTT and health.
func TestExplainDetail(t *testing.T) {
	lat := rtts(map[string]map[string]time.Duration{london4: {"us-east": 5 * time.Millisecond, "eu-west": 60 * time.Millisecond}})
	s := steerSnapshot(t, down{"apse1": true}, lat, nil)
	ex := s.Explain(clientQuery("api.example.com.", dns.TypeA, host(london4, 7), 24, 0))
	if ex.Client != "192.0.2.0" || !ex.ECS || ex.SourcePrefix != 24 || ex.Scope != 24 || ex.LatencyNetwork != london4 {
		t.Errorf("client %q ecs %v /%d scope %d latency net %q", ex.Client, ex.ECS, ex.SourcePrefix, ex.Scope, ex.LatencyNetwork)
	}
	if ex.Location == nil || ex.Location.Country != "GB" || ex.Location.Network != london4 || ex.Location.Lat == nil {
		t.Fatalf("location %+v", ex.Location)
	}
	se := ex.Services[0]
	want := []struct {
		group, by string
		rank      int
		rtt       bool
	}{{"us-east", "latency", 1, true}, {"eu-west", "latency", 2, true}, {"ap-southeast", "down", 0, false}}
	if len(se.Groups) != len(want) {
		t.Fatalf("groups %+v", se.Groups)
	}
	for i, w := range want {
		g := se.Groups[i]
		if g.Group != w.group || g.By != w.by || g.Rank != w.rank || (g.RTTMS != nil) != w.rtt || g.DistanceKM == nil {
			t.Errorf("group %d: %+v, want %s by %s rank %d rtt %v, with a distance", i, g, w.group, w.by, w.rank, w.rtt)
		}
	}
	if d := *se.Groups[1].DistanceKM; d < 400 || d > 520 {
		t.Errorf("London-Dublin %v km, want about 460", d)
	}
}

// TestLocationCache: a new snapshot over the same database and regions
// keeps the location cache; another database gets a fresh one; cached
// steered lookups allocate nothing.
func TestLocationCache(t *testing.T) {
	db := geoDB(t)
	set := fixture(t)
	a := Build(set, Inputs{Geo: db})
	b := Build(set, Inputs{Geo: db, Health: down{"euw1": true}, Previous: a})
	if a.cache == nil || b.cache != a.cache {
		t.Error("the cache was not carried over")
	}
	if c := Build(set, Inputs{Geo: geoDB(t), Previous: b}); c.cache == b.cache {
		t.Error("a new database kept the old cache")
	}
	q := clientQuery("api.example.com.", dns.TypeA, host(london4, 7), 24, 3)
	res := &Result{Answer: make([]dns.RR, 0, 16), Ns: make([]dns.RR, 0, 8), Extra: make([]dns.RR, 0, 8)}
	lookupOnce := func() { res.Reset(); b.Lookup(q, res) }
	lookupOnce()
	if n := testing.AllocsPerRun(100, lookupOnce); n != 0 {
		t.Errorf("steered lookup with a warm cache: %.1f allocations, want 0", n)
	}
	lat := rtts(map[string]map[string]time.Duration{london4: {"us-east": time.Millisecond, "eu-west": 2 * time.Millisecond}})
	l := Build(set, Inputs{Geo: db, Latency: lat, Previous: b})
	lookupOnce = func() { res.Reset(); l.Lookup(q, res) }
	if n := testing.AllocsPerRun(100, lookupOnce); n != 0 || res.Reason != ReasonLatency {
		t.Errorf("latency lookup: %.1f allocations (want 0), reason %v", n, res.Reason)
	}
}

// TestLatencyTable: the lowest RTT per region wins, stale results and
// junk are left out, lookups find the most specific covering network.
func TestLatencyTable(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := netip.MustParsePrefix
	tbl := NewLatencyTable(nil, LatencyOptions{})
	if tbl.Len() != 0 {
		t.Fatal("empty input, non-empty table")
	}
	rs := []resultSpec{
		{"198.51.100.0/24", "us-east", "p1", 30 * time.Millisecond, 0},
		{"198.51.100.0/24", "us-east", "p2", 20 * time.Millisecond, 0},
		{"198.51.100.0/24", "eu-west", "p3", 90 * time.Millisecond, 0},
		{"198.51.100.77/24", "ap-southeast", "p4", 200 * time.Millisecond, 0}, // not masked: same network
		{"198.51.100.0/25", "eu-west", "p3", 10 * time.Millisecond, 0},
		{"203.0.113.0/24", "eu-west", "p3", 10 * time.Millisecond, 2 * time.Hour}, // stale
		{"192.0.2.0/24", "eu-west", "p3", 0, 0},                                   // no RTT
	}
	tbl = NewLatencyTable(results(rs, now), LatencyOptions{Now: now, MaxAge: time.Hour})
	if got := tbl.sortedNets(); len(got) != 2 || got[0] != p("198.51.100.0/24") || got[1] != p("198.51.100.0/25") {
		t.Fatalf("networks %v", got)
	}
	net, m, ok := tbl.Lookup(p("198.51.100.200/32"))
	if !ok || net != p("198.51.100.0/24") || m["us-east"] != 20*time.Millisecond || m["eu-west"] != 90*time.Millisecond || m["ap-southeast"] != 200*time.Millisecond {
		t.Errorf("lookup .200: %v %v %v", net, m, ok)
	}
	if net, m, _ := tbl.Lookup(p("198.51.100.5/32")); net != p("198.51.100.0/25") || len(m) != 1 {
		t.Errorf("lookup .5: %v %v, want the /25", net, m)
	}
	if _, _, ok := tbl.Lookup(p("198.51.100.0/23")); ok {
		t.Error("a /23 is covered by no network in the table")
	}
}

type resultSpec struct {
	prefix, region, prober string
	rtt, age               time.Duration
}

// TestExplainText: the text form names the client, location, each group
// with its figures, the choice and the scope.
func TestExplainText(t *testing.T) {
	lat := rtts(map[string]map[string]time.Duration{london4: {"us-east": 5 * time.Millisecond, "eu-west": 60 * time.Millisecond}})
	s := steerSnapshot(t, down{"apse1": true}, lat, nil)
	var b strings.Builder
	if err := s.Explain(clientQuery("api.example.com.", dns.TypeA, host(london4, 7), 24, 0)).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"client       192.0.2.0/24 (ECS)",
		"location     GB EU 51.51,-0.13 (network 192.0.2.0/24)",
		"latency map  192.0.2.0/24",
		"1     us-east       2/2     5",
		"5.0 ms   latency",
		"-     ap-southeast  0/1",
		"chosen       us-east (reason latency, ECS scope /24)",
		"answer       api.example.com. 42 IN A 198.51.100.1",
		"ECS scope    /24",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}
