package geo

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gtm-project/gtm/geo/geotest"
)

// movedNets is the demo set with London's IPv4 network moved to Tokyo, to
// tell a reloaded database from the first.
func movedNets() []geotest.Net {
	nets := geotest.DemoNets()
	nets[0].City, nets[0].Country, nets[0].Continent = "Tokyo", "JP", "AS"
	nets[0].Lat, nets[0].Lon = geotest.TokyoLat, geotest.TokyoLon
	return nets
}

var londonAddr = netip.MustParseAddr("192.0.2.1")

func countryOf(t *testing.T, p *Provider) string {
	t.Helper()
	loc, ok := p.Current().Lookup(londonAddr)
	if !ok {
		t.Fatal("192.0.2.1 not found")
	}
	return loc.Country
}

func TestProviderReload(t *testing.T) {
	cityPath, asnPath := writeDemo(t)
	reg := prometheus.NewPedanticRegistry()
	p, err := NewProvider(Options{Database: cityPath, ASNDatabase: asnPath, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	first := p.Current()
	if got := countryOf(t, p); got != "GB" {
		t.Fatalf("country = %s, want GB", got)
	}

	// A corrupt replacement: Reload fails, names the file and keeps the DB.
	if err := os.WriteFile(cityPath, []byte("half a download"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = p.Reload()
	if err == nil || !strings.Contains(err.Error(), cityPath) {
		t.Fatalf("Reload of a corrupt file: error %v, want one naming %s", err, cityPath)
	}
	if p.Current() != first || countryOf(t, p) != "GB" {
		t.Fatal("a failed reload replaced the database")
	}
	if n := testutil.ToFloat64(p.metrics.reloads.WithLabelValues("failure")); n != 1 {
		t.Errorf("failure reloads = %v, want 1", n)
	}

	// A good replacement is swapped in.
	if err := geotest.Write(cityPath, movedNets()); err != nil {
		t.Fatal(err)
	}
	if err := p.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := countryOf(t, p); got != "JP" {
		t.Errorf("after reload country = %s, want JP", got)
	}
	// The replaced DB still answers for a query that held it.
	if loc, ok := first.Lookup(londonAddr); !ok || loc.Country != "GB" {
		t.Errorf("old DB after reload: %+v %v", loc, ok)
	}
	if n := testutil.ToFloat64(p.metrics.reloads.WithLabelValues("success")); n != 1 {
		t.Errorf("success reloads = %v, want 1", n)
	}
	if n, err := testutil.GatherAndCount(reg, "gtm_geo_database_build_timestamp_seconds"); err != nil || n != 2 {
		t.Errorf("build timestamp series = %d (%v), want 2", n, err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP gtm_geo_reloads_total Database reloads (SIGHUP or file change) by result: success or failure (the previous database stays in use).
# TYPE gtm_geo_reloads_total counter
gtm_geo_reloads_total{result="failure"} 1
gtm_geo_reloads_total{result="success"} 1
`), "gtm_geo_reloads_total"); err != nil {
		t.Error(err)
	}

	// A second Provider on the same registry is an error, not a panic.
	if _, err := NewProvider(Options{Database: cityPath, Registerer: reg}); err == nil {
		t.Error("second Provider on one registry: no error")
	}
}

func TestProviderReloadBadASNKeepsBoth(t *testing.T) {
	cityPath, asnPath := writeDemo(t)
	p, err := NewProvider(Options{Database: cityPath, ASNDatabase: asnPath})
	if err != nil {
		t.Fatal(err)
	}
	first := p.Current()
	if err := geotest.Write(cityPath, movedNets()); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(asnPath); err != nil {
		t.Fatal(err)
	}
	err = p.Reload()
	if err == nil || !strings.Contains(err.Error(), asnPath) {
		t.Fatalf("Reload without the ASN file: error %v, want one naming %s", err, asnPath)
	}
	// Half a new pair is not published.
	if p.Current() != first || countryOf(t, p) != "GB" {
		t.Error("a reload with a missing ASN database replaced the location database")
	}
}

func TestNewProviderErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "GeoLite2-City.mmdb")
	if _, err := NewProvider(Options{Database: missing}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing database: error %v, want one naming %s", err, missing)
	}
	if _, err := NewProvider(Options{ASNDatabase: missing}); err == nil || !strings.Contains(err.Error(), "geo.database") {
		t.Errorf("ASN without location database: error %v", err)
	}
}

func TestProviderWithoutDatabase(t *testing.T) {
	p, err := NewProvider(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if db := p.Current(); db != nil {
		t.Fatalf("Current = %v, want nil", db)
	}
	if _, ok := p.Current().Lookup(londonAddr); ok {
		t.Error("lookup without a database found something")
	}
	if err := p.Reload(); err != nil {
		t.Errorf("Reload without a database: %v", err)
	}
}

// TestProviderConcurrentReload runs lookups on every CPU while the database
// is replaced; with -race it shows that readers and reloads share nothing
// unsynchronised, and every answer is from one database or the other.
func TestProviderConcurrentReload(t *testing.T) {
	cityPath, asnPath := writeDemo(t)
	p, err := NewProvider(Options{Database: cityPath, ASNDatabase: asnPath})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	errs := make(chan string, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				loc, ok := p.Current().Lookup(londonAddr)
				if !ok || (loc.Country != "GB" && loc.Country != "JP") || loc.ASN != 64496 {
					errs <- fmt.Sprintf("lookup during reload: %+v %v", loc, ok)
					return
				}
			}
		}()
	}
	for i := range 6 {
		nets := geotest.DemoNets()
		if i%2 == 0 {
			nets = movedNets()
		}
		if err := geotest.Write(cityPath, nets); err != nil {
			t.Fatal(err)
		}
		if err := p.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
