package routing

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/gtm-project/gtm/zones"
)

// writeMemConfig writes the configurations of scripts/mem-footprint.sh into
// dir: a zone of records A records (plus SOA, NS and ns1) and services
// latency services s{i}.example.com. of three endpoints in us/eu/ap. It
// returns the config file's path.
func writeMemConfig(tb testing.TB, dir string, records, services int) string {
	tb.Helper()
	zf, err := os.Create(filepath.Join(dir, "example.com.zone"))
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(zf)
	fmt.Fprint(w, "$ORIGIN example.com.\n$TTL 300\n@ 3600 IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300\n@ 3600 IN NS ns1.example.com.\nns1 3600 IN A 127.0.0.1\n")
	for i := range records {
		fmt.Fprintf(w, "h%d A 10.%d.%d.%d\n", i, (i>>16)&255, (i>>8)&255, i&255)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	zf.Close()
	cf, err := os.Create(filepath.Join(dir, "gtm.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	w = bufio.NewWriter(cf)
	fmt.Fprint(w, "node: {region: us, id: memfoot}\nstate: {backend: memory}\nprober: {enabled: false}\nregions:\n  us: {lat: 38.9, lon: -77.0}\n  eu: {lat: 53.3, lon: -6.3}\n  ap: {lat: 1.35, lon: 103.8}\nzones:\n  - {origin: example.com., file: example.com.zone}\nservices:\n")
	for i := range services {
		fmt.Fprintf(w, "  - name: s%d.example.com.\n    policy: latency\n    endpoints:\n", i)
		for r, region := range []string{"us", "eu", "ap"} {
			fmt.Fprintf(w, "      - {name: s%d-%s, region: %s, zone: \"1\", address: 10.%d.%d.%d}\n", i, region, region, r+1, (i/250)%250, i%250+1)
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	cf.Close()
	return filepath.Join(dir, "gtm.yaml")
}

// memKeep holds what BenchmarkMemFootprint loaded until the process ends.
var memKeep []any

func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkMemFootprint reports the heap a loaded configuration and its
// snapshot keep (set-MB: zones.Load's Set; snap-MB: routing.Build's
// snapshot on top), for the two cases of scripts/mem-footprint.sh. Run
// with -benchtime=1x and -memprofile to see what holds it (pprof
// -inuse_space).
func BenchmarkMemFootprint(b *testing.B) {
	for _, c := range []struct {
		name              string
		records, services int
	}{{"svc10k", 0, 10_000}, {"zone1m", 1_000_000, 10}} {
		b.Run(c.name, func(b *testing.B) {
			path := writeMemConfig(b, b.TempDir(), c.records, c.services)
			var set *zones.Set
			var snap *Snapshot
			for b.Loop() {
				set, snap = nil, nil
				base := heapInuse()
				var err error
				set, err = zones.Load(path)
				if err != nil {
					b.Fatal(err)
				}
				loaded := heapInuse()
				snap = Build(set, Inputs{})
				built := heapInuse()
				b.ReportMetric(float64(loaded-base)/(1<<20), "set-MB")
				b.ReportMetric(float64(built-loaded)/(1<<20), "snap-MB")
			}
			// Kept past the benchmark so -memprofile, written at the end,
			// shows them.
			memKeep = append(memKeep, set, snap)
		})
	}
}
