package zones

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

const limitsZoneHead = `$ORIGIN example.com.
$TTL 300
@ IN SOA ns1 hostmaster 1 7200 900 1209600 300
  IN NS ns1
ns1 IN A 192.0.2.53
`

// TestGenerateRangeRefusedBeforeExpansion: a $GENERATE whose range is above
// limits.generate_max_range is refused at its line, and so is a body whose
// $GENERATE lines add up past limits.zone_max_records (the 1.2 KB body that
// made 2.1 M records), without building the records: the heap barely moves.
func TestGenerateRangeRefusedBeforeExpansion(t *testing.T) {
	lim := Limits{GenerateMaxRange: 1000}
	_, errs := lim.ParseZoneText("example.com.", "edit", []byte(limitsZoneHead+"$GENERATE 1-1001 host$ A 192.0.2.1\n"))
	if len(errs) != 1 || errs[0].Line != 6 || !strings.Contains(errs[0].Msg, "limits.generate_max_range") {
		t.Fatalf("range 1001 with cap 1000: %v", errs)
	}
	// The range of the report: refused by the default cap, at its line.
	_, errs = Limits{}.ParseZoneText("example.com.", "edit", []byte(limitsZoneHead+"$GENERATE 1-2000000 host$ A 192.0.2.1\n"))
	if len(errs) != 1 || errs[0].Line != 6 || !strings.Contains(errs[0].Msg, "makes 2000000 records, above limits.generate_max_range (65536)") {
		t.Fatalf("range 1-2000000: %v", errs)
	}
	// Step counts: 1-2000/2 is 1000 records, within the cap.
	if z, errs := lim.ParseZoneText("example.com.", "edit", []byte(limitsZoneHead+"$GENERATE 1-2000/2 host$ A 192.0.2.1\n")); len(errs) > 0 || len(z.Records) != 1003 {
		t.Fatalf("range 1-2000/2: %v", errs)
	}

	var b strings.Builder
	b.WriteString(limitsZoneHead)
	for i := range 32 {
		fmt.Fprintf(&b, "$GENERATE 0-65535 h%d-$ A 192.0.2.1\n", i)
	}
	body := []byte(b.String())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, errs = Limits{}.ParseZoneText("example.com.", "edit", body)
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	// 15 lines of 65,536 fit in 1,000,000; the 16th (line 21) does not.
	if len(errs) != 1 || errs[0].Line != 6+15 || !strings.Contains(errs[0].Msg, "limits.zone_max_records") {
		t.Fatalf("%d-byte $GENERATE bomb: %v", len(body), errs)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("refusing a %d-byte body allocated %d bytes", len(body), grew)
	}
	t.Logf("%d-byte bomb refused in %s", len(body), took)
}

// TestZoneMaxRecordsStopsParsing: plain records past the cap are refused at
// the first one over it, and parsing stops there.
func TestZoneMaxRecordsStopsParsing(t *testing.T) {
	var b strings.Builder
	b.WriteString(limitsZoneHead)
	for i := range 50 {
		fmt.Fprintf(&b, "h%d A 192.0.2.1\n", i)
	}
	// 3 records in the head, so the 8th record (h4, line 10) is over 7.
	_, errs := Limits{ZoneMaxRecords: 7}.ParseZoneText("example.com.", "edit", []byte(b.String()))
	if len(errs) != 1 || errs[0].File != "edit" || errs[0].Line != 10 || !strings.Contains(errs[0].Msg, "more than 7 records") {
		t.Fatalf("cap 7: %v", errs)
	}
	if _, errs := (Limits{ZoneMaxRecords: 53}).ParseZoneText("example.com.", "edit", []byte(b.String())); len(errs) > 0 {
		t.Fatalf("cap 53 (exactly the records): %v", errs)
	}
}

// TestLimitsApplyToConfigFiles: the limits hold for zones from files too,
// and bad limit values are reported at their line.
func TestLimitsApplyToConfigFiles(t *testing.T) {
	dir := t.TempDir()
	zone := limitsZoneHead + "$GENERATE 1-100 host$ A 192.0.2.1\n"
	if err := os.WriteFile(filepath.Join(dir, "example.com.zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(limits string) string {
		cfg := `node: {region: eu-west, id: test-1}
regions:
  eu-west: {lat: 53.3, lon: -6.3}
zones:
  - origin: example.com.
    file: example.com.zone
` + limits
		p := filepath.Join(dir, "gtm.yaml")
		if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	set, err := Load(write(""))
	if err != nil {
		t.Fatal(err)
	}
	if set.Config.Limits != (Limits{ZoneMaxRecords: DefaultZoneMaxRecords, GenerateMaxRange: DefaultGenerateMaxRange}) || set.Config.API.MaxConcurrentEdits != DefaultMaxConcurrentEdits {
		t.Errorf("defaults: %+v, max_concurrent_edits %d", set.Config.Limits, set.Config.API.MaxConcurrentEdits)
	}
	_, err = Load(write("limits: {generate_max_range: 50}\n"))
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 1 || list[0].Line != 6 || !strings.HasSuffix(list[0].File, "example.com.zone") {
		t.Errorf("generate_max_range 50 over a 100-record $GENERATE: %v", err)
	}
	_, err = Load(write("limits:\n  zone_max_records: -1\n  generate_max_range: 70000\napi: {max_concurrent_edits: 0}\n"))
	want := []string{
		"gtm.yaml:8: limits.zone_max_records: -1 is outside 1..100000000",
		"gtm.yaml:9: limits.generate_max_range: 70000 is outside 1..65536",
	}
	if err == nil {
		t.Fatal("bad limits accepted")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("errors lack %q:\n%v", w, err)
		}
	}
}
