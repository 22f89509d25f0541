package routing

import (
	"net/netip"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/gtm-project/gtm/geo"
	"github.com/gtm-project/gtm/geo/geotest"
	"github.com/gtm-project/gtm/store"
)

// Client networks of the steering tests, in documentation ranges (never
// contacted: they are only looked up). The fixture's regions are us-east
// (Washington), eu-west (Dublin) and ap-southeast (Singapore).
var (
	london4    = "192.0.2.0/24"
	newYork4   = "198.51.100.0/24"
	singapore4 = "203.0.113.0/24"
	london6    = "2001:db8:1::/48"
	frankfurt6 = "2001:db8:2::/48"
	newYork6   = "2001:db8:10::/48"
	singapore6 = "2001:db8:20::/48"
	joburg6    = "2001:db8:40::/48"
	germany6   = "2001:db8:50::/48" // country only, no coordinates
	nowhere6   = "2001:db8:99::"    // in no network
)

// steerNets places the client networks in cities, IPv4 as /24s (DemoNets'
// IPv4 networks are /26, narrower than an ECS /24).
func steerNets() []geotest.Net {
	at := func(p string, n geotest.Net) geotest.Net {
		n.Prefix = netip.MustParsePrefix(p)
		return n
	}
	london := geotest.Net{City: "London", Country: "GB", Continent: "EU", Lat: geotest.LondonLat, Lon: geotest.LondonLon}
	frankfurt := geotest.Net{City: "Frankfurt", Country: "DE", Continent: "EU", Lat: geotest.FrankfurtLat, Lon: geotest.FrankfurtLon}
	newYork := geotest.Net{City: "New York", Country: "US", Continent: "NA", Lat: geotest.NewYorkLat, Lon: geotest.NewYorkLon}
	singapore := geotest.Net{City: "Singapore", Country: "SG", Continent: "AS", Lat: geotest.SingaporeLat, Lon: geotest.SingaporeLon}
	joburg := geotest.Net{City: "Johannesburg", Country: "ZA", Continent: "AF", Lat: geotest.JohannesburgLat, Lon: geotest.JohannesburgLon}
	return []geotest.Net{
		at(london4, london), at(newYork4, newYork), at(singapore4, singapore),
		at(london6, london), at(frankfurt6, frankfurt), at(newYork6, newYork), at(singapore6, singapore),
		at(joburg6, joburg), at(germany6, geotest.Net{Country: "DE", Continent: "EU"}),
	}
}

// geoDB writes the steering MMDB and opens it.
func geoDB(tb testing.TB) *geo.DB {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "city.mmdb")
	if err := geotest.Write(path, steerNets()); err != nil {
		tb.Fatal(err)
	}
	db, err := geo.Open(path, "")
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

// steerSnapshot builds the fixture with a location database and the
// given health, latency map and rules.
func steerSnapshot(tb testing.TB, h Health, lat *LatencyTable, rules map[string][]GeoRule) *Snapshot {
	tb.Helper()
	return Build(fixture(tb), Inputs{Health: h, Geo: geoDB(tb), Latency: lat, GeoRules: rules, Version: 1})
}

// clientQuery is the Query the DNS server makes for a client: with ecs
// > 0 an ECS query for the client's network of that length, else a plain
// query from the client's address.
func clientQuery(name string, qtype uint16, client string, ecs int, rnd uint64) *Query {
	a := netip.MustParseAddr(client)
	q := &Query{Name: name, Type: qtype, Client: a, Rand: rnd}
	if ecs > 0 {
		p, _ := a.Prefix(ecs)
		q.Client, q.ECS, q.SourceBits = p.Addr(), true, uint8(ecs)
	}
	return q
}

// host returns an address inside a network written as a prefix.
func host(prefix string, last byte) string {
	p := netip.MustParsePrefix(prefix)
	b := p.Addr().AsSlice()
	b[len(b)-1] = last
	a, _ := netip.AddrFromSlice(b)
	return a.String()
}

// rtts builds a latency table: network → region → RTT.
func rtts(m map[string]map[string]time.Duration) *LatencyTable {
	var rs []store.LatencyResult
	for p, byRegion := range m {
		for region, d := range byRegion {
			pfx := netip.MustParsePrefix(p)
			rs = append(rs, store.LatencyResult{Prefix: pfx, Addr: pfx.Addr(), Source: region, Prober: "p-" + region, RTT: d, At: time.Now()})
		}
	}
	return NewLatencyTable(rs, LatencyOptions{})
}

func results(specs []resultSpec, now time.Time) []store.LatencyResult {
	out := make([]store.LatencyResult, len(specs))
	for i, s := range specs {
		out[i] = store.LatencyResult{Prefix: netip.MustParsePrefix(s.prefix), Source: s.region, Prober: s.prober, RTT: s.rtt, At: now.Add(-s.age)}
	}
	return out
}

// sortedNets lists the table's networks in address order.
func (t *LatencyTable) sortedNets() []netip.Prefix {
	out := append([]netip.Prefix(nil), t.nets...)
	sort.Slice(out, func(i, j int) bool { return out[i].Addr().Less(out[j].Addr()) })
	return out
}
