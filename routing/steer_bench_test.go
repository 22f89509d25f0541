package routing

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/miekg/dns"

	"github.com/gtm-project/gtm/geo"
	"github.com/gtm-project/gtm/geo/geotest"
	"github.com/gtm-project/gtm/store"
)

// benchNets is the number of client networks of the steering benchmarks:
// /24s from 10.0.0.0 on, in the MMDB and (all of them) in the latency
// map. They are only looked up, never contacted.
const benchNets = 100_000

func benchNet(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(10 + i>>16), byte(i >> 8), byte(i), 0}), 24)
}

// benchGeoDB writes a City database with a record per /24 shaped like
// GeoIP2 City records (names in eight languages, subdivisions, postal), as
// geo's benchmark does, so a cache miss costs what it costs in production.
func benchGeoDB(b *testing.B) *geo.DB {
	b.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoIP2-City", RecordSize: 28, IncludeReservedNetworks: true})
	if err != nil {
		b.Fatal(err)
	}
	names := func(s string) mmdbtype.Map {
		m := mmdbtype.Map{}
		for _, lang := range []string{"de", "en", "es", "fr", "ja", "pt-BR", "ru", "zh-CN"} {
			m[mmdbtype.String(lang)] = mmdbtype.String(s + " " + lang)
		}
		return m
	}
	cities := geotest.DemoNets()[:9]
	for i := range benchNets {
		c := cities[i%len(cities)]
		rec := mmdbtype.Map{
			"city":      mmdbtype.Map{"geoname_id": mmdbtype.Uint32(1000 + i%500), "names": names(fmt.Sprintf("City%d", i%500))},
			"continent": mmdbtype.Map{"code": mmdbtype.String(c.Continent), "names": names(c.Continent)},
			"country":   mmdbtype.Map{"iso_code": mmdbtype.String(c.Country), "names": names(c.Country)},
			"location": mmdbtype.Map{
				"accuracy_radius": mmdbtype.Uint16(100),
				"latitude":        mmdbtype.Float64(c.Lat + float64(i%100)/100),
				"longitude":       mmdbtype.Float64(c.Lon),
				"time_zone":       mmdbtype.String("Europe/London"),
			},
			"postal":             mmdbtype.Map{"code": mmdbtype.String(fmt.Sprintf("P%d", i%300))},
			"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String(c.Country), "names": names(c.Country)},
			"subdivisions":       mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("ENG"), "names": names("Sub")}},
		}
		p := benchNet(i)
		if err := tree.Insert(&net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(24, 32)}, rec); err != nil {
			b.Fatal(err)
		}
	}
	path := filepath.Join(b.TempDir(), "bench-city.mmdb")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	db, err := geo.Open(path, "")
	if err != nil {
		b.Fatal(err)
	}
	return db
}

// benchLatency measures every bench network from every region.
func benchLatency() *LatencyTable {
	regions := []string{"us-east", "eu-west", "ap-southeast"}
	rs := make([]store.LatencyResult, 0, benchNets*len(regions))
	for i := range benchNets {
		for j, r := range regions {
			rs = append(rs, store.LatencyResult{Prefix: benchNet(i), Source: r, Prober: "p-" + r,
				RTT: time.Duration(1+(i*7+j*13)%200) * time.Millisecond})
		}
	}
	return NewLatencyTable(rs, LatencyOptions{})
}

// BenchmarkSteer measures the decision for ECS queries of api.example.com
// (three regions), cycling over 1,000 or all 100,000 client networks: the
// first stay in the location cache (and the CPU's), of the second a part
// miss the 131,072-slot cache and decode their MMDB record (about 1 µs:
// geo's BenchmarkLookup). The latency variants have all 100,000 networks
// in the latency map; "resolver" queries carry no ECS. "no-client" is the
// same question with no client (configured order): the cost of steering
// is the difference.
func BenchmarkSteer(b *testing.B) {
	db := benchGeoDB(b)
	lat := benchLatency()
	set := fixture(b)
	plain := Build(set, Inputs{Geo: db})
	withLat := Build(set, Inputs{Geo: db, Latency: lat})
	for _, bc := range []struct {
		name string
		s    *Snapshot
		nets int
		ecs  bool
	}{
		{"no-client", plain, 1, false},
		{"distance/1k-nets", plain, 1000, true},
		{"distance/100k-nets", plain, benchNets, true},
		{"latency-100k/1k-nets", withLat, 1000, true},
		{"latency-100k/100k-nets", withLat, benchNets, true},
		{"latency-100k/resolver-1k-nets", withLat, 1000, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			qs := make([]Query, bc.nets)
			for i := range qs {
				qs[i] = Query{Name: "api.example.com.", Type: dns.TypeA}
				a := benchNet(i * (benchNets / bc.nets)).Addr()
				switch {
				case bc.ecs:
					qs[i].Client, qs[i].ECS, qs[i].SourceBits = a, true, 24
				case bc.nets > 1: // a resolver's own address
					qs[i].Client = a.Next()
				}
			}
			r := &Result{Answer: make([]dns.RR, 0, 16), Ns: make([]dns.RR, 0, 8), Extra: make([]dns.RR, 0, 8)}
			for i := range qs { // warm what can be warmed
				r.Reset()
				bc.s.Lookup(&qs[i], r)
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				q := &qs[i]
				if i++; i == len(qs) {
					i = 0
				}
				q.Rand++
				r.Reset()
				bc.s.Lookup(q, r)
			}
		})
	}
}

// BenchmarkLatencyLookup is the latency map's longest-prefix match alone
// at 100,000 networks.
func BenchmarkLatencyLookup(b *testing.B) {
	lat := benchLatency()
	ps := make([]netip.Prefix, 4096)
	for i := range ps {
		ps[i] = benchNet(i * 24)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if lat.find(ps[i&4095]) < 0 {
			b.Fatal("not found")
		}
		i++
	}
}
