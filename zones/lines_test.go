package zones

import (
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
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

// TestARecordsCompact: A records keep their address in 4 bytes, and still
// print, pack and compare as before.
func TestARecordsCompact(t *testing.T) {
	z, errs := ParseZoneText("example.com.", "t.zone", []byte("@ 300 IN SOA ns1 h 1 2 3 4 5\n@ 300 IN NS ns1\nns1 300 IN A 192.0.2.53\n"))
	if errs != nil {
		t.Fatal(errs)
	}
	a := z.Records[2].(*dns.A)
	if len(a.A) != 4 || a.A.String() != "192.0.2.53" {
		t.Fatalf("A address %v in %d bytes, want 192.0.2.53 in 4", a.A, len(a.A))
	}
	if !dns.IsDuplicate(a, &dns.A{Hdr: a.Hdr, A: net.ParseIP("192.0.2.53")}) {
		t.Error("a 4-byte and a 16-byte form of one address are not duplicates")
	}
	m := new(dns.Msg)
	m.Answer = []dns.RR{a}
	wire, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	var back dns.Msg
	if err := back.Unpack(wire); err != nil || back.Answer[0].(*dns.A).A.String() != "192.0.2.53" {
		t.Errorf("packed and unpacked: %v %v", back.Answer, err)
	}
}
