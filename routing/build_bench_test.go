package routing

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/gtm-project/gtm/zones"
	"github.com/miekg/dns"
)

// bigSet is a configuration of one zone holding records A records plus
// services latency services of three endpoints each in three regions.
func bigSet(tb testing.TB, records, services int) *zones.Set {
	tb.Helper()
	cfgText := "node: {region: us, id: bench}\nregions:\n  us: {lat: 38.9, lon: -77.0}\n  eu: {lat: 53.3, lon: -6.3}\n  ap: {lat: 1.35, lon: 103.8}\nzones:\n  - {origin: example.com., file: x.zone}\nservices:\n"
	for i := range services {
		cfgText += fmt.Sprintf("  - name: svc%d.example.com.\n    endpoints:\n      - {name: a%d, region: us, zone: a, address: 198.51.100.1}\n      - {name: b%d, region: eu, zone: a, address: 203.0.113.1}\n      - {name: c%d, region: ap, zone: a, address: 192.0.2.1}\n", i, i, i, i)
	}
	cfg, err := zones.ParseConfig("bench.yaml", []byte(cfgText))
	if err != nil {
		tb.Fatal(err)
	}
	soa := &dns.SOA{Hdr: dns.RR_Header{Name: "example.com.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 300},
		Ns: "ns1.example.com.", Mbox: "h.example.com.", Serial: 1, Refresh: 2, Retry: 3, Expire: 4, Minttl: 5}
	z := &zones.Zone{Origin: "example.com.", SOA: soa, Records: make([]dns.RR, 0, records+2)}
	z.Records = append(z.Records, soa, &dns.NS{Hdr: dns.RR_Header{Name: "example.com.", Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 300}, Ns: "ns1.example.com."})
	for i := range records {
		ip := net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)).To4()
		z.Records = append(z.Records, &dns.A{Hdr: dns.RR_Header{Name: fmt.Sprintf("h%d.example.com.", i), Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: ip})
	}
	set, err := zones.NewSet(cfg, []*zones.Zone{z})
	if err != nil {
		tb.Fatal(err)
	}
	return set
}

type downSet map[string]bool

func (d downSet) Usable(_, endpoint string) bool { return !d[endpoint] }

// BenchmarkHealthChange is one health change published: the snapshot
// rebuilt with one endpoint down, the configuration unchanged. Its cost
// must not depend on the number of records.
func BenchmarkHealthChange(b *testing.B) {
	for _, records := range []int{100, 1_000_000} {
		b.Run(fmt.Sprintf("records=%d", records), func(b *testing.B) {
			set := bigSet(b, records, 10)
			prev := Build(set, Inputs{})
			health := []Health{downSet{"a0": true}, downSet{"b0": true}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				prev = Build(set, Inputs{Health: health[i%2], Previous: prev})
			}
		})
	}
}

// BenchmarkZoneBuild is a snapshot built from a new configuration
// (a reload or an edit): every zone built.
func BenchmarkZoneBuild(b *testing.B) {
	for _, records := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("records=%d", records), func(b *testing.B) {
			set := bigSet(b, records, 10)
			b.ReportAllocs()
			for b.Loop() {
				Build(set, Inputs{})
			}
		})
	}
}

// TestHealthChangeSharesZones: a health change takes the zone trees of
// the previous snapshot and answers with the new health; a new
// configuration builds its own.
func TestHealthChangeSharesZones(t *testing.T) {
	set := bigSet(t, 50, 2)
	a := Build(set, Inputs{})
	b := Build(set, Inputs{Health: downSet{"a0": true, "b0": true}, Previous: a})
	if b.zones["example.com."] != a.zones["example.com."] {
		t.Error("a health change rebuilt the zone")
	}
	var res Result
	q := Query{Name: "svc0.example.com.", Type: dns.TypeA}
	b.Lookup(&q, &res)
	if len(res.Answer) != 1 || res.Answer[0].(*dns.A).A.String() != "192.0.2.1" {
		t.Errorf("answer with us and eu down: %v, want ap's", res.Answer)
	}
	res.Reset()
	a.Lookup(&q, &res)
	if len(res.Answer) != 1 || res.Answer[0].(*dns.A).A.String() != "198.51.100.1" {
		t.Errorf("the previous snapshot changed: %v", res.Answer)
	}
	other := bigSet(t, 50, 2)
	if c := Build(other, Inputs{Previous: b}); c.zones["example.com."] == b.zones["example.com."] {
		t.Error("a new configuration reused the previous zones")
	}
}

// TestSameZonesShareTrees: a new configuration with the same zones and
// service names (a service edited, the configuration in force rebuilt)
// takes the previous zone trees and answers from its own services; a
// service added, or a zone read again, builds new trees.
func TestSameZonesShareTrees(t *testing.T) {
	set := bigSet(t, 50, 2)
	a := Build(set, Inputs{})
	// The same zones and names, an endpoint's address changed.
	cfg := *set.Config
	cfg.Services = append([]*zones.Service(nil), cfg.Services...)
	svc := *cfg.Services[0]
	svc.Endpoints = append([]*zones.Endpoint(nil), svc.Endpoints...)
	ep := *svc.Endpoints[0]
	ep.Addr = netip.MustParseAddr("198.51.100.77")
	svc.Endpoints[0] = &ep
	cfg.Services[0] = &svc
	edited, err := zones.NewSet(&cfg, set.Zones)
	if err != nil {
		t.Fatal(err)
	}
	b := Build(edited, Inputs{Previous: a})
	if b.zones["example.com."] != a.zones["example.com."] {
		t.Error("a service edit rebuilt the zone")
	}
	for _, c := range []struct {
		s    *Snapshot
		want string
	}{{a, "198.51.100.1"}, {b, "198.51.100.77"}} {
		var res Result
		c.s.Lookup(&Query{Name: "svc0.example.com.", Type: dns.TypeA}, &res)
		if len(res.Answer) != 1 || res.Answer[0].(*dns.A).A.String() != c.want {
			t.Errorf("svc0: %v, want %s", res.Answer, c.want)
		}
	}
	// One more service: its node must exist, so the trees are new.
	more := bigSet(t, 0, 3)
	more.Zones = set.Zones
	more, err = zones.NewSet(more.Config, set.Zones)
	if err != nil {
		t.Fatal(err)
	}
	c := Build(more, Inputs{Previous: b})
	if c.zones["example.com."] == b.zones["example.com."] {
		t.Error("a service added reused the previous zone trees")
	}
	var res Result
	c.Lookup(&Query{Name: "svc2.example.com.", Type: dns.TypeA}, &res)
	if len(res.Answer) != 1 {
		t.Errorf("svc2 after it was added: %v", res.Answer)
	}
}

// TestZoneRecordsNeverWritten: the rrsets of lone records are views of the
// zone's record slice; merging duplicates (lower TTL wins), equalising the
// TTLs of an RRset and adding glue must leave that slice as it was.
func TestZoneRecordsNeverWritten(t *testing.T) {
	text := "$ORIGIN example.com.\n@ 300 IN SOA ns1 h 1 2 3 4 5\n@ 300 IN NS ns1\nns1 300 IN A 192.0.2.53\n" +
		"dup 300 IN A 192.0.2.1\ndup 60 IN A 192.0.2.1\nttl 300 IN A 192.0.2.2\nttl 30 IN A 192.0.2.3\n"
	z, errs := zones.ParseZoneText("example.com.", "t.zone", []byte(text))
	if errs != nil {
		t.Fatal(errs)
	}
	before := make([]dns.RR, len(z.Records))
	copy(before, z.Records)
	ttls := make([]uint32, len(z.Records))
	for i, rr := range z.Records {
		ttls[i] = rr.Header().Ttl
	}
	snap := Build(&zones.Set{Config: &zones.Config{}, Zones: []*zones.Zone{z}}, Inputs{})
	for i, rr := range z.Records {
		if rr != before[i] || rr.Header().Ttl != ttls[i] {
			t.Errorf("record %d changed: %v (was %v)", i, rr, before[i])
		}
	}
	for name, want := range map[string][]uint32{"dup.example.com.": {60}, "ttl.example.com.": {30, 30}} {
		var res Result
		snap.Lookup(&Query{Name: name, Type: dns.TypeA}, &res)
		var got []uint32
		for _, rr := range res.Answer {
			got = append(got, rr.Header().Ttl)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s TTLs %v, want %v", name, got, want)
		}
	}
	var res Result
	snap.Lookup(&Query{Name: "example.com.", Type: dns.TypeNS}, &res)
	if len(res.Answer) != 1 || len(res.Extra) != 1 || res.Extra[0].(*dns.A).A.String() != "192.0.2.53" {
		t.Errorf("NS answer %v extra %v, want ns1's address as glue", res.Answer, res.Extra)
	}
}
