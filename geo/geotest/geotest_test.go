package geotest

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oschwald/maxminddb-golang/v2"
)

func TestDemoNets(t *testing.T) {
	allowed := []netip.Prefix{
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("203.0.113.0/24"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("127.0.0.0/8"),
	}
	nets := DemoNets()
	continents := map[string]bool{}
	var v4, v6 int
	for i, n := range nets {
		if n.Prefix != n.Prefix.Masked() {
			t.Errorf("%s is not masked", n.Prefix)
		}
		inside := false
		for _, a := range allowed {
			inside = inside || (a.Contains(n.Prefix.Addr()) && n.Prefix.Bits() >= a.Bits())
		}
		if !inside {
			t.Errorf("%s is outside the documentation and loopback ranges", n.Prefix)
		}
		for _, m := range nets[i+1:] {
			if n.Prefix.Overlaps(m.Prefix) {
				t.Errorf("%s overlaps %s", n.Prefix, m.Prefix)
			}
		}
		if n.ASN < 64496 || n.ASN > 64511 {
			t.Errorf("%s: AS%d is not a documentation ASN", n.Prefix, n.ASN)
		}
		continents[n.Continent] = true
		if n.Prefix.Addr().Is4() {
			v4++
		} else {
			v6++
		}
	}
	if len(continents) < 6 || v4 < 3 || v6 < 3 {
		t.Errorf("continents %v, %d IPv4 and %d IPv6 nets: want 6 continents and both families", continents, v4, v6)
	}
	for _, p := range []string{"127.0.1.0/24", "127.0.2.0/24", "127.0.3.0/24"} {
		found := false
		for _, n := range nets {
			found = found || n.Prefix.String() == p
		}
		if !found {
			t.Errorf("loopback net %s missing", p)
		}
	}
	// Each call returns a fresh slice.
	nets[0].Country = "XX"
	if DemoNets()[0].Country == "XX" {
		t.Error("DemoNets shares its slice between calls")
	}
}

// TestWriteRecordShape reads a fixture with the raw reader and checks the
// GeoIP2 City record layout.
func TestWriteRecordShape(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	if err := Write(path, DemoNets()); err != nil {
		t.Fatal(err)
	}
	r, err := maxminddb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Verify(); err != nil {
		t.Fatalf("fixture fails verification: %v", err)
	}
	if r.Metadata.DatabaseType != "GeoIP2-City" || r.Metadata.IPVersion != 6 {
		t.Errorf("metadata = %+v", r.Metadata)
	}
	var rec struct {
		City struct {
			Names map[string]string `maxminddb:"names"`
		} `maxminddb:"city"`
		Continent struct {
			Code string `maxminddb:"code"`
		} `maxminddb:"continent"`
		Country struct {
			ISOCode string `maxminddb:"iso_code"`
		} `maxminddb:"country"`
		Location struct {
			Latitude  float64 `maxminddb:"latitude"`
			Longitude float64 `maxminddb:"longitude"`
		} `maxminddb:"location"`
	}
	res := r.Lookup(netip.MustParseAddr("2001:db8:30::1"))
	if err := res.Decode(&rec); err != nil {
		t.Fatal(err)
	}
	if rec.City.Names["en"] != "Sydney" || rec.Country.ISOCode != "AU" || rec.Continent.Code != "OC" ||
		rec.Location.Latitude != SydneyLat || rec.Location.Longitude != SydneyLon {
		t.Errorf("record = %+v", rec)
	}
	if res.Prefix().String() != "2001:db8:30::/48" {
		t.Errorf("prefix = %s", res.Prefix())
	}
}

func TestWriteASNShape(t *testing.T) {
	path := filepath.Join(t.TempDir(), "asn.mmdb")
	nets := append(DemoNets(), Net{Prefix: netip.MustParsePrefix("192.0.2.192/26"), Country: "GB"})
	if err := WriteASN(path, nets); err != nil {
		t.Fatal(err)
	}
	r, err := maxminddb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var rec struct {
		Number uint32 `maxminddb:"autonomous_system_number"`
		Org    string `maxminddb:"autonomous_system_organization"`
	}
	if err := r.Lookup(netip.MustParseAddr("127.0.3.9")).Decode(&rec); err != nil {
		t.Fatal(err)
	}
	if rec.Number != 64501 || rec.Org != "Example Net Singapore" || r.Metadata.DatabaseType != "GeoLite2-ASN" {
		t.Errorf("record = %+v, type %q", rec, r.Metadata.DatabaseType)
	}
	// A net without an ASN is left out of the ASN database.
	if r.Lookup(netip.MustParseAddr("192.0.2.200")).Found() {
		t.Error("net without ASN written to the ASN database")
	}
}

func TestWriteErrors(t *testing.T) {
	if err := Write(filepath.Join(t.TempDir(), "city.mmdb"), []Net{{Country: "GB"}}); err == nil || !strings.Contains(err.Error(), "nets[0]") {
		t.Errorf("invalid prefix: error %v", err)
	}
	missingDir := filepath.Join(t.TempDir(), "no", "such", "dir", "city.mmdb")
	if err := Write(missingDir, DemoNets()); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}
