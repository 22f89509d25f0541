package dnsserver

import (
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/gtm-project/gtm/geo"
	"github.com/gtm-project/gtm/geo/geotest"
	"github.com/gtm-project/gtm/routing"
	"github.com/gtm-project/gtm/store"
	"github.com/miekg/dns"
)

// Client networks of the ECS tests (documentation ranges, only looked up:
// ECS addresses are never contacted). The fixture's regions sit in
// Washington (us-east), Dublin (eu-west) and Singapore (ap-southeast).
const (
	london4    = "192.0.2.0/24"
	newYork4   = "198.51.100.0/24"
	singapore4 = "203.0.113.0/24"
	london6    = "2001:db8:1::/48"
	frankfurt6 = "2001:db8:2::/48"
	singapore6 = "2001:db8:20::/48"
	nowhere6   = "2001:db8:99::/56" // in no network of the database
)

// geoFixture writes a City database placing the networks above and opens
// it. IPv4 networks are /24s: DemoNets' are /26, narrower than ECS /24.
func geoFixture(t testing.TB) *geo.DB {
	t.Helper()
	at := func(p string, n geotest.Net) geotest.Net {
		n.Prefix = netip.MustParsePrefix(p)
		return n
	}
	london := geotest.Net{City: "London", Country: "GB", Continent: "EU", Lat: geotest.LondonLat, Lon: geotest.LondonLon}
	frankfurt := geotest.Net{City: "Frankfurt", Country: "DE", Continent: "EU", Lat: geotest.FrankfurtLat, Lon: geotest.FrankfurtLon}
	newYork := geotest.Net{City: "New York", Country: "US", Continent: "NA", Lat: geotest.NewYorkLat, Lon: geotest.NewYorkLon}
	singapore := geotest.Net{City: "Singapore", Country: "SG", Continent: "AS", Lat: geotest.SingaporeLat, Lon: geotest.SingaporeLon}
	path := filepath.Join(t.TempDir(), "city.mmdb")
	err := geotest.Write(path, []geotest.Net{
		at(london4, london), at(newYork4, newYork), at(singapore4, singapore),
		at(london6, london), at(frankfurt6, frankfurt), at(singapore6, singapore),
	})
	if err != nil {
		t.Fatal(err)
	}
	db, err := geo.Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// latencyMap is a latency table of network → region → RTT.
func latencyMap(m map[string]map[string]time.Duration) *routing.LatencyTable {
	var rs []store.LatencyResult
	for p, byRegion := range m {
		for region, d := range byRegion {
			rs = append(rs, store.LatencyResult{Prefix: netip.MustParsePrefix(p), Source: region, Prober: "p-" + region, RTT: d})
		}
	}
	return routing.NewLatencyTable(rs, routing.LatencyOptions{})
}

// ecsQuery is a query with EDNS0 and an ECS option for the network of
// addr with the given source prefix (the address masked, as RFC 7871
// asks).
func ecsQuery(name string, qtype uint16, addr string, source int) *dns.Msg {
	m := query(name, qtype)
	m.SetEdns0(1232, false)
	a := netip.MustParseAddr(addr)
	p, _ := a.Prefix(source)
	fam := uint16(1)
	if a.Is6() {
		fam = 2
	}
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{
		Code: dns.EDNS0SUBNET, Family: fam, SourceNetmask: uint8(source), Address: net.IP(p.Addr().AsSlice()),
	})
	return m
}

// rawECSQuery carries ECS option data exactly as given, malformed or not
// (EDNS0_LOCAL packs any bytes under any code).
func rawECSQuery(name string, data ...[]byte) *dns.Msg {
	m := query(name, dns.TypeA)
	m.SetEdns0(1232, false)
	for _, d := range data {
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: d})
	}
	return m
}

// echoed returns the response's ECS option, nil when there is none, and
// fails the test when there are several.
func echoed(t testing.TB, r *dns.Msg) *dns.EDNS0_SUBNET {
	t.Helper()
	opt := r.IsEdns0()
	if opt == nil {
		return nil
	}
	var found *dns.EDNS0_SUBNET
	for _, o := range opt.Option {
		if e, ok := o.(*dns.EDNS0_SUBNET); ok {
			if found != nil {
				t.Fatalf("two ECS options in the response: %v", opt)
			}
			found = e
		}
	}
	return found
}

// answerAddrs lists the answer's A and AAAA addresses.
func answerAddrs(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		if a := addrOf(rr); a != nil {
			out = append(out, a.String())
		}
	}
	return out
}

// hostIn is an address inside a network given as a prefix.
func hostIn(prefix string, last byte) string {
	p := netip.MustParsePrefix(prefix)
	b := p.Addr().AsSlice()
	b[len(b)-1] = last
	a, _ := netip.AddrFromSlice(b)
	return a.String()
}
