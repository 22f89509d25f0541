package zones

import (
	"strings"
	"testing"
)

// TestLineIndexOnDemand: a valid config does not keep its line index, yet
// an error found after the load (a service checked against the zones, an
// API edit) still names its line, in the config and in copies of it.
func TestLineIndexOnDemand(t *testing.T) {
	text := "node: {region: eu, id: n1}\nregions:\n  eu: {lat: 50, lon: 8}\nservices:\n  - name: a.example.com.\n    endpoints:\n      - {name: e1, region: eu, zone: \"1\", address: 192.0.2.1}\n  - name: b.example.com.\n    endpoints:\n      - {name: e1, region: eu, zone: \"1\", address: 192.0.2.2}\n"
	cfg, err := ParseConfig("gtm.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.lines == nil || cfg.lines.m != nil {
		t.Fatalf("line index built for a valid config: %v", cfg.lines)
	}
	cp := *cfg
	for _, c := range []*Config{&cp, cfg} {
		if e := c.errAt("services[1].name", "x"); e.Line != 8 || e.File != "gtm.yaml" {
			t.Errorf("services[1].name at %s:%d, want gtm.yaml:8", e.File, e.Line)
		}
		if e := c.errAt("services[0].endpoints[0].address", "x"); e.Line != 7 {
			t.Errorf("services[0].endpoints[0].address at line %d, want 7", e.Line)
		}
	}
	if cfg.lines.data != nil {
		t.Error("the YAML text is still held once the index is built")
	}
	if _, errs := NewSet(cfg, nil); errs == nil {
		t.Fatal("services outside every zone accepted")
	} else if got := errs.Error(); got == "" || !strings.Contains(got, "gtm.yaml:5: services[0].name") {
		t.Errorf("NewSet error %q does not name gtm.yaml:5", got)
	}
	var code Config
	if e := code.errAt("services[0]", "x"); e.Line != 0 {
		t.Errorf("a Config built in code names line %d", e.Line)
	}
}
