package geo

import (
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/gtm-project/gtm/geo/geotest"
)

// writeDemo writes the demo networks as a City and an ASN database in a
// temporary directory and returns their paths.
func writeDemo(t *testing.T) (cityPath, asnPath string) {
	t.Helper()
	dir := t.TempDir()
	cityPath = filepath.Join(dir, "GeoIP2-City.mmdb")
	asnPath = filepath.Join(dir, "GeoLite2-ASN.mmdb")
	if err := geotest.Write(cityPath, geotest.DemoNets()); err != nil {
		t.Fatal(err)
	}
	if err := geotest.WriteASN(asnPath, geotest.DemoNets()); err != nil {
		t.Fatal(err)
	}
	return cityPath, asnPath
}

func openDemo(t *testing.T) *DB {
	t.Helper()
	db, err := Open(writeDemo(t))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestLookup(t *testing.T) {
	db := openDemo(t)
	tests := []struct {
		addr      string
		country   string
		continent string
		lat, lon  float64
		asn       uint32
		asOrg     string
		network   string
	}{
		{"192.0.2.10", "GB", "EU", geotest.LondonLat, geotest.LondonLon, 64496, "Example Net London", "192.0.2.0/26"},
		{"192.0.2.100", "DE", "EU", geotest.FrankfurtLat, geotest.FrankfurtLon, 64497, "Example Net Frankfurt", "192.0.2.64/26"},
		{"198.51.100.77", "US", "NA", geotest.SanFranciscoLat, geotest.SanFranciscoLon, 64499, "Example Net San Francisco", "198.51.100.64/26"},
		{"203.0.113.130", "AU", "OC", geotest.SydneyLat, geotest.SydneyLon, 64503, "Example Net Sydney", "203.0.113.128/26"},
		{"2001:db8:12::1", "BR", "SA", geotest.SaoPauloLat, geotest.SaoPauloLon, 64500, "Example Net São Paulo", "2001:db8:12::/48"},
		{"2001:db8:21:ffff::53", "JP", "AS", geotest.TokyoLat, geotest.TokyoLon, 64502, "Example Net Tokyo", "2001:db8:21::/48"},
		{"2001:db8:40::9", "ZA", "AF", geotest.JohannesburgLat, geotest.JohannesburgLon, 64504, "Example Net Johannesburg", "2001:db8:40::/48"},
		{"127.0.1.1", "GB", "EU", geotest.LondonLat, geotest.LondonLon, 64496, "Example Net London", "127.0.1.0/24"},
		{"127.0.2.200", "US", "NA", geotest.NewYorkLat, geotest.NewYorkLon, 64498, "Example Net New York", "127.0.2.0/24"},
		{"127.0.3.3", "SG", "AS", geotest.SingaporeLat, geotest.SingaporeLon, 64501, "Example Net Singapore", "127.0.3.0/24"},
		// IPv4-mapped IPv6, as a dual-stack socket reports an IPv4 peer.
		{"::ffff:203.0.113.70", "JP", "AS", geotest.TokyoLat, geotest.TokyoLon, 64502, "Example Net Tokyo", "203.0.113.64/26"},
		// A zone is ignored.
		{"2001:db8:1::1%eth0", "GB", "EU", geotest.LondonLat, geotest.LondonLon, 64496, "Example Net London", "2001:db8:1::/48"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			addr := netip.MustParseAddr(tt.addr)
			got, ok := db.Lookup(addr)
			if !ok {
				t.Fatal("not found")
			}
			want := Location{Country: tt.country, Continent: tt.continent, Lat: tt.lat, Lon: tt.lon,
				HasCoords: true, ASN: tt.asn, ASOrg: tt.asOrg}
			if got != want {
				t.Errorf("Lookup = %+v, want %+v", got, want)
			}
			loc, network, ok := db.LookupNetwork(addr)
			if !ok || loc != want || network.String() != tt.network {
				t.Errorf("LookupNetwork = %+v %s %v, want network %s", loc, network, ok, tt.network)
			}
			if n := db.Network(addr); n.String() != tt.network {
				t.Errorf("Network = %s, want %s", n, tt.network)
			}
		})
	}
}

func TestLookupCountryOnlyNetwork(t *testing.T) {
	db := openDemo(t)
	got, ok := db.Lookup(netip.MustParseAddr("2001:db8:50::1"))
	want := Location{Country: "DE", Continent: "EU", ASN: 64505, ASOrg: "Example Net Germany"}
	if !ok || got != want {
		t.Fatalf("Lookup = %+v %v, want %+v", got, ok, want)
	}
}

func TestLookupNotFound(t *testing.T) {
	db := openDemo(t)
	for _, a := range []string{"192.0.2.200", "198.51.100.250", "2001:db8:ff::1", "127.0.4.1", "::1"} {
		addr := netip.MustParseAddr(a)
		if loc, ok := db.Lookup(addr); ok || loc != (Location{}) {
			t.Errorf("Lookup(%s) = %+v %v, want not found", a, loc, ok)
		}
		// The empty block around an unknown address is a network too: the
		// answer is the same (nothing) across it.
		n := db.Network(addr)
		if !n.IsValid() || !n.Contains(addr) {
			t.Errorf("Network(%s) = %s, want a prefix containing it", a, n)
		}
	}
	if n := db.Network(netip.MustParseAddr("192.0.2.200")); n.String() != "192.0.2.192/26" {
		t.Errorf("Network(192.0.2.200) = %s, want 192.0.2.192/26", n)
	}
	if _, ok := db.Lookup(netip.Addr{}); ok {
		t.Error("Lookup(invalid addr) found something")
	}
}

func TestNilDB(t *testing.T) {
	var db *DB
	if loc, ok := db.Lookup(netip.MustParseAddr("192.0.2.1")); ok || loc != (Location{}) {
		t.Errorf("nil DB Lookup = %+v %v", loc, ok)
	}
	if n := db.Network(netip.MustParseAddr("192.0.2.1")); n.IsValid() {
		t.Errorf("nil DB Network = %s", n)
	}
}

func TestLookupWithoutASN(t *testing.T) {
	cityPath, _ := writeDemo(t)
	db, err := Open(cityPath, "")
	if err != nil {
		t.Fatal(err)
	}
	got, ok := db.Lookup(netip.MustParseAddr("198.51.100.1"))
	want := Location{Country: "US", Continent: "NA", Lat: geotest.NewYorkLat, Lon: geotest.NewYorkLon, HasCoords: true}
	if !ok || got != want {
		t.Errorf("Lookup = %+v %v, want %+v", got, ok, want)
	}
	if info := db.Info(); info.ASN != (File{}) || info.Location.Type != "GeoIP2-City" || info.Location.Path != cityPath {
		t.Errorf("Info = %+v", info)
	}
}

func TestNetworkNarrowedByASN(t *testing.T) {
	dir := t.TempDir()
	cityPath := filepath.Join(dir, "city.mmdb")
	asnPath := filepath.Join(dir, "asn.mmdb")
	p := netip.MustParsePrefix
	if err := geotest.Write(cityPath, []geotest.Net{{Prefix: p("198.51.100.0/24"), Country: "US", Continent: "NA", Lat: 40.7, Lon: -74}}); err != nil {
		t.Fatal(err)
	}
	// Two ASNs share the city network: the network with one answer is the
	// narrower ASN one.
	if err := geotest.WriteASN(asnPath, []geotest.Net{
		{Prefix: p("198.51.100.0/25"), ASN: 64510},
		{Prefix: p("198.51.100.128/25"), ASN: 64511},
	}); err != nil {
		t.Fatal(err)
	}
	db, err := Open(cityPath, asnPath)
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddr("198.51.100.200")
	loc, network, ok := db.LookupNetwork(addr)
	if !ok || loc.ASN != 64511 || loc.Country != "US" || network != p("198.51.100.128/25") {
		t.Errorf("LookupNetwork = %+v %s %v", loc, network, ok)
	}
	if n := db.Network(addr); n != p("198.51.100.128/25") {
		t.Errorf("Network = %s", n)
	}
}

func TestCountryDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "GeoIP2-Country.mmdb")
	if err := geotest.WriteCountry(path, geotest.DemoNets()); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	got, ok := db.Lookup(netip.MustParseAddr("203.0.113.1"))
	want := Location{Country: "SG", Continent: "AS"}
	if !ok || got != want {
		t.Errorf("Lookup = %+v %v, want %+v (no coordinates)", got, ok, want)
	}
	if db.Info().Location.Type != "GeoIP2-Country" {
		t.Errorf("Type = %q", db.Info().Location.Type)
	}
}

func TestDatabaseTypes(t *testing.T) {
	nets := geotest.DemoNets()
	tests := []struct {
		dbType  string
		shape   geotest.Shape
		asn     bool   // opened as the ASN database
		wantErr string // empty: opens
	}{
		{"GeoLite2-City", geotest.ShapeCity, false, ""},
		{"DBIP-City-Lite", geotest.ShapeCity, false, ""},
		{"DBIP-Location (compat=City)", geotest.ShapeCity, false, ""},
		{"GeoIP2-Enterprise", geotest.ShapeCity, false, ""},
		{"GeoLite2-Country", geotest.ShapeCountry, false, ""},
		{"DBIP-Country-Lite", geotest.ShapeCountry, false, ""},
		{"DBIP-ASN-Lite (compat=GeoLite2-ASN)", geotest.ShapeASN, true, ""},
		{"GeoIP2-ISP", geotest.ShapeASN, true, ""},
		{"GeoLite2-ASN", geotest.ShapeASN, false, `type "GeoLite2-ASN" is not a supported City or Country database`},
		{"GeoIP2-Anonymous-IP", geotest.ShapeCity, false, `type "GeoIP2-Anonymous-IP" is not a supported City or Country database`},
		{"My-Own-DB", geotest.ShapeCity, false, `type "My-Own-DB" is not a supported`},
		{"GeoIP2-City", geotest.ShapeCity, true, `type "GeoIP2-City" is not a supported ASN database`},
	}
	for _, tt := range tests {
		t.Run(tt.dbType, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "db.mmdb")
			if err := geotest.WriteAs(path, tt.dbType, tt.shape, nets); err != nil {
				t.Fatal(err)
			}
			cityPath, asnPath := path, ""
			if tt.asn {
				cityPath = filepath.Join(dir, "city.mmdb")
				asnPath = path
				if err := geotest.Write(cityPath, nets); err != nil {
					t.Fatal(err)
				}
			}
			db, err := Open(cityPath, asnPath)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("Open error = %v, want one naming %s and containing %q", err, path, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			loc, ok := db.Lookup(netip.MustParseAddr("2001:db8:20::1"))
			if !ok || loc.Country != "SG" || (tt.asn && loc.ASN != 64501) {
				t.Errorf("Lookup = %+v %v", loc, ok)
			}
		})
	}
}

// TestRegisteredCountryFallback covers records with only a registered
// country, as GeoIP2 has for some anycast and satellite networks.
func TestRegisteredCountryFallback(t *testing.T) {
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: "GeoIP2-City", Description: map[string]string{"en": "test"}, IncludeReservedNetworks: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, n, _ := net.ParseCIDR("192.0.2.0/24")
	rec := mmdbtype.Map{
		"continent":          mmdbtype.Map{"code": mmdbtype.String("EU")},
		"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("NL"), "names": mmdbtype.Map{"en": mmdbtype.String("Netherlands")}},
		"traits":             mmdbtype.Map{"is_anycast": mmdbtype.Bool(true)},
	}
	if err := tree.Insert(n, rec); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "city.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	got, ok := db.Lookup(netip.MustParseAddr("192.0.2.1"))
	if want := (Location{Country: "NL", Continent: "EU"}); !ok || got != want {
		t.Errorf("Lookup = %+v %v, want %+v", got, ok, want)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	good, _ := writeDemo(t)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		asn     string
		wantErr string
		is      error
	}{
		{"missing", filepath.Join(dir, "nope.mmdb"), "", "no such file or directory", fs.ErrNotExist},
		{"empty", write("empty.mmdb", nil), "", "file is empty", nil},
		{"garbage", write("garbage.mmdb", []byte(strings.Repeat("not a database\n", 100))), "", "not a valid MaxMind DB file", nil},
		{"truncated", write("truncated.mmdb", data[:len(data)/2]), "", "not a valid MaxMind DB file", nil},
		{"directory", dir, "", "not a regular file", nil},
		{"missing asn", good, filepath.Join(dir, "no-asn.mmdb"), "ASN database", fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			named := tt.path
			if tt.asn != "" {
				named = tt.asn
			}
			db, err := Open(tt.path, tt.asn)
			if err == nil {
				t.Fatalf("Open succeeded: %+v", db.Info())
			}
			if !strings.Contains(err.Error(), named) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not name %s or say %q", err, named, tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}
	if _, err := Open("", ""); err == nil || !strings.Contains(err.Error(), "geo.database") {
		t.Errorf("Open(\"\") error = %v", err)
	}
}

// TestVerify covers damage that Open cannot see: bytes flipped in the search
// tree leave the metadata intact. Lookups stay safe and Verify names the
// file.
func TestVerify(t *testing.T) {
	good, asnPath := writeDemo(t)
	db, err := Open(good, asnPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Verify(); err != nil {
		t.Fatalf("Verify of a good database: %v", err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 64; i++ {
		data[i] ^= 0xff
	}
	flipped := filepath.Join(t.TempDir(), "flipped.mmdb")
	if err := os.WriteFile(flipped, data, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err = Open(flipped, "")
	if err != nil {
		t.Fatalf("Open: %v (the damage is meant to pass Open)", err)
	}
	for _, n := range geotest.DemoNets() {
		db.Lookup(n.Prefix.Addr()) // must not panic; the answer is undefined
	}
	if err := db.Verify(); err == nil || !strings.Contains(err.Error(), flipped) {
		t.Errorf("Verify = %v, want an error naming %s", err, flipped)
	}
}

// FuzzOpenLookup feeds damaged databases to Open and Lookup: whatever the
// bytes, an error or an answer, never a panic or a hang.
func FuzzOpenLookup(f *testing.F) {
	path := filepath.Join(f.TempDir(), "seed.mmdb")
	if err := geotest.Write(path, geotest.DemoNets()); err != nil {
		f.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	// Seeds: the good file with one byte changed at spread-out offsets
	// (tree, data section, metadata), and the file cut short.
	for i := 0; i < len(data); i += len(data)/50 + 1 {
		f.Add(data, uint(i), byte(0xff))
	}
	f.Add(data[:len(data)-10], uint(0), byte(0))
	addrs := make([]netip.Addr, 0, len(geotest.DemoNets()))
	for _, n := range geotest.DemoNets() {
		addrs = append(addrs, n.Prefix.Addr(), n.Prefix.Addr().Next())
	}
	f.Fuzz(func(t *testing.T, data []byte, at uint, xor byte) {
		data = append([]byte(nil), data...)
		if len(data) > 0 {
			data[at%uint(len(data))] ^= xor
		}
		p := filepath.Join(t.TempDir(), "db.mmdb")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		db, err := Open(p, "")
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		for _, a := range addrs {
			db.LookupNetwork(a)
		}
	})
}
