package geo

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/geoip2-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/gtm-project/gtm/geo/geotest"
)

// benchNetworks is the number of networks in the benchmark database: enough
// for a search tree as deep as a real one's in the looked-up range.
const benchNetworks = 1 << 14

// writeBenchDB writes a GeoIP2-City database of benchNetworks /24s in
// 10.0.0.0/8 and /48s in 2001:db8::/32, with records shaped like real
// GeoIP2 City records (names in eight languages, subdivisions, postal,
// traits), so decoding cost, including what is skipped, is realistic. The
// addresses are only looked up, never contacted.
func writeBenchDB(b *testing.B) string {
	b.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            "GeoIP2-City",
		Description:             map[string]string{"en": "gtm benchmark"},
		RecordSize:              28,
		IncludeReservedNetworks: true,
	})
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
	for i := range benchNetworks {
		c := cities[i%len(cities)]
		rec := mmdbtype.Map{
			"city":      mmdbtype.Map{"geoname_id": mmdbtype.Uint32(1000 + i%500), "names": names(fmt.Sprintf("City%d", i%500))},
			"continent": mmdbtype.Map{"code": mmdbtype.String(c.Continent), "geoname_id": mmdbtype.Uint32(6255148), "names": names(c.Continent)},
			"country":   mmdbtype.Map{"geoname_id": mmdbtype.Uint32(2635167), "iso_code": mmdbtype.String(c.Country), "names": names(c.Country)},
			"location": mmdbtype.Map{
				"accuracy_radius": mmdbtype.Uint16(100),
				"latitude":        mmdbtype.Float64(c.Lat + float64(i%100)/100),
				"longitude":       mmdbtype.Float64(c.Lon),
				"time_zone":       mmdbtype.String("Europe/London"),
			},
			"postal":             mmdbtype.Map{"code": mmdbtype.String(fmt.Sprintf("P%d", i%300))},
			"registered_country": mmdbtype.Map{"geoname_id": mmdbtype.Uint32(2635167), "iso_code": mmdbtype.String(c.Country), "names": names(c.Country)},
			"subdivisions": mmdbtype.Slice{mmdbtype.Map{
				"geoname_id": mmdbtype.Uint32(6269131), "iso_code": mmdbtype.String("ENG"), "names": names("Sub"),
			}},
		}
		v4 := &net.IPNet{IP: net.IPv4(10, byte(i>>8), byte(i), 0).To4(), Mask: net.CIDRMask(24, 32)}
		v6 := &net.IPNet{IP: net.ParseIP(fmt.Sprintf("2001:db8:%x::", i)), Mask: net.CIDRMask(48, 128)}
		if err := tree.Insert(v4, rec); err != nil {
			b.Fatal(err)
		}
		if err := tree.Insert(v6, rec); err != nil {
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
	return path
}

// benchAddrs are addresses spread over the benchmark networks.
func benchAddrs() []netip.Addr {
	addrs := make([]netip.Addr, 0, 1024)
	for i := range 512 {
		n := i * 127 % benchNetworks
		addrs = append(addrs,
			netip.AddrFrom4([4]byte{10, byte(n >> 8), byte(n), 7}),
			netip.MustParseAddr(fmt.Sprintf("2001:db8:%x::7", n)))
	}
	return addrs
}

// BenchmarkLookup measures DB.Lookup, the path gtm uses.
func BenchmarkLookup(b *testing.B) {
	db, err := Open(writeBenchDB(b), "")
	if err != nil {
		b.Fatal(err)
	}
	addrs := benchAddrs()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, ok := db.Lookup(addrs[i%len(addrs)]); !ok {
			b.Fatal("not found")
		}
	}
}

// BenchmarkLookupWithASN measures DB.Lookup with an ASN database too.
func BenchmarkLookupWithASN(b *testing.B) {
	asnPath := filepath.Join(b.TempDir(), "asn.mmdb")
	var nets []geotest.Net
	for i := range benchNetworks {
		nets = append(nets, geotest.Net{
			Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24),
			ASN:    uint32(64496 + i%16), ASOrg: fmt.Sprintf("Example Net %d", i%16),
		})
	}
	if err := geotest.WriteASN(asnPath, nets); err != nil {
		b.Fatal(err)
	}
	db, err := Open(writeBenchDB(b), asnPath)
	if err != nil {
		b.Fatal(err)
	}
	addrs := benchAddrs()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, ok := db.Lookup(addrs[i%len(addrs)]); !ok {
			b.Fatal("not found")
		}
	}
}

// BenchmarkLookupParallel measures DB.Lookup from all CPUs, as DNS workers
// call it; the sync.Pool of decode targets must not serialise them.
func BenchmarkLookupParallel(b *testing.B) {
	db, err := Open(writeBenchDB(b), "")
	if err != nil {
		b.Fatal(err)
	}
	addrs := benchAddrs()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			db.Lookup(addrs[i%len(addrs)])
			i++
		}
	})
}

// BenchmarkNetwork measures DB.Network (search tree only).
func BenchmarkNetwork(b *testing.B) {
	db, err := Open(writeBenchDB(b), "")
	if err != nil {
		b.Fatal(err)
	}
	addrs := benchAddrs()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if !db.Network(addrs[i%len(addrs)]).IsValid() {
			b.Fatal("no network")
		}
	}
}

// BenchmarkLookupGeoIP2City is the alternative not taken: geoip2's City
// lookup, which decodes the whole record into a large struct. Kept so the
// choice stays measured.
func BenchmarkLookupGeoIP2City(b *testing.B) {
	r, err := geoip2.Open(writeBenchDB(b))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	addrs := benchAddrs()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		c, err := r.City(addrs[i%len(addrs)])
		if err != nil || c.Country.ISOCode == "" {
			b.Fatal("not found", err)
		}
	}
}

// BenchmarkLookupReflectStruct is the second alternative not taken:
// maxminddb's reflection decoder into a small tagged struct.
func BenchmarkLookupReflectStruct(b *testing.B) {
	r, err := maxminddb.Open(writeBenchDB(b))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	type small struct {
		Country struct {
			ISOCode string `maxminddb:"iso_code"`
		} `maxminddb:"country"`
		Continent struct {
			Code string `maxminddb:"code"`
		} `maxminddb:"continent"`
		Location struct {
			Latitude  *float64 `maxminddb:"latitude"`
			Longitude *float64 `maxminddb:"longitude"`
		} `maxminddb:"location"`
	}
	addrs := benchAddrs()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		var rec small
		if err := r.Lookup(addrs[i%len(addrs)]).Decode(&rec); err != nil || rec.Country.ISOCode == "" {
			b.Fatal("not found", err)
		}
	}
}

// BenchmarkOpen measures Open on the benchmark database: the cost of a
// start or reload.
func BenchmarkOpen(b *testing.B) {
	path := writeBenchDB(b)
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Open(path, ""); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(st.Size())/1e6, "file-MB")
}

// BenchmarkVerify measures the full format check that Open leaves out.
func BenchmarkVerify(b *testing.B) {
	path := writeBenchDB(b)
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	db, err := Open(path, "")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := db.Verify(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(st.Size())/1e6, "file-MB")
}
