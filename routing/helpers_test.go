package routing

import (
	"slices"
	"strings"
	"testing"

	"github.com/gtm-project/gtm/zones"
	"github.com/miekg/dns"
)

// down is the Health fake: the endpoints named in it are unusable.
type down map[string]bool

func (d down) Usable(_, endpoint string) bool { return !d[endpoint] }

// fixture parses the config and zones of fixture_test.go into a Set.
func fixture(tb testing.TB) *zones.Set {
	tb.Helper()
	cfg, err := zones.ParseConfig("gtm.yaml", []byte(configYAML))
	if err != nil {
		tb.Fatalf("config: %v", err)
	}
	var zs []*zones.Zone
	for _, z := range []struct{ origin, text string }{
		{"example.com.", exampleCom}, {"example.net.", exampleNet}, {"example.", exampleTLD},
	} {
		zz, errs := zones.ParseZone(z.origin, z.origin+"zone", strings.NewReader(z.text))
		if len(errs) > 0 {
			tb.Fatalf("zone %s: %v", z.origin, errs)
		}
		zs = append(zs, zz)
	}
	set, err := zones.NewSet(cfg, zs)
	if err != nil {
		tb.Fatalf("set: %v", err)
	}
	return set
}

// snapshot builds the fixture with the given health.
func snapshot(tb testing.TB, h Health) *Snapshot {
	tb.Helper()
	return Build(fixture(tb), Inputs{Health: h, Version: 1})
}

// lookup runs one query into a fresh Result.
func lookup(s *Snapshot, name string, qtype uint16, rnd uint64) *Result {
	r := &Result{}
	r.Reset()
	s.Lookup(&Query{Name: name, Type: qtype, Rand: rnd}, r)
	return r
}

// rrStrings prints records the way miekg/dns does, sorted, so that
// sections compare regardless of order and spacing.
func rrStrings(tb testing.TB, rrs []dns.RR) []string {
	out := make([]string, len(rrs))
	for i, rr := range rrs {
		out[i] = strings.Join(strings.Fields(rr.String()), " ")
	}
	slices.Sort(out)
	return out
}

func parseRRs(tb testing.TB, ss []string) []string {
	tb.Helper()
	out := make([]string, len(ss))
	for i, s := range ss {
		rr, err := dns.NewRR(s)
		if err != nil {
			tb.Fatalf("bad record %q: %v", s, err)
		}
		out[i] = strings.Join(strings.Fields(rr.String()), " ")
	}
	slices.Sort(out)
	return out
}

func sameSection(tb testing.TB, section string, got []dns.RR, want []string) {
	tb.Helper()
	g, w := rrStrings(tb, got), parseRRs(tb, want)
	if !slices.Equal(g, w) {
		tb.Errorf("%s:\n got %q\nwant %q", section, g, w)
	}
}

// Negative-answer SOAs with TTL min(SOA TTL, MINIMUM) (RFC 2308 §5).
const (
	negCom = "example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 2026010101 7200 900 1209600 300"
	negNet = "example.net. 60 IN SOA ns1.example.com. hostmaster.example.com. 7 7200 900 1209600 600"
	negTLD = "example. 3600 IN SOA ns.example. hostmaster.example. 1 7200 900 1209600 3600"
)
