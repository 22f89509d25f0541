package zones

import (
	"net/netip"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"
)

func TestDefaultsApplied(t *testing.T) {
	set, err := Load("testdata/valid/defaults.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := set.Config
	host, _ := os.Hostname()
	if host == "" {
		host = "gtm"
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"node.id", c.Node.ID, host},
		{"dns.listen", c.DNS.Listen, []string{":53"}},
		{"dns.nsid", c.DNS.NSID, host},
		{"dns.udp_size", c.DNS.UDPSize, 1232},
		{"dns.workers", c.DNS.Workers, runtime.GOMAXPROCS(0)},
		{"dns.ecs.max_prefix_v4", c.DNS.ECS.MaxPrefixV4, 24},
		{"dns.ecs.max_prefix_v6", c.DNS.ECS.MaxPrefixV6, 56},
		{"dns.rrl.rate", c.DNS.RRL.Rate, 0},
		{"dns.rrl.slip", *c.DNS.RRL.Slip, 2},
		{"dns.rrl.window", c.DNS.RRL.Window.D(), 15 * time.Second},
		{"dns.rrl.ipv4_prefix", c.DNS.RRL.IPv4Prefix, 24},
		{"dns.rrl.ipv6_prefix", c.DNS.RRL.IPv6Prefix, 56},
		{"dns.rrl.table_size", c.DNS.RRL.TableSize, 65536},
		{"dns.cookies.enabled", c.DNS.Cookies.CookiesEnabled(), true},
		{"dns.cookies.rotate", c.DNS.Cookies.Rotate.D(), 24 * time.Hour},
		{"dns.tcp.max_connections", c.DNS.TCP.MaxConnections, 1000},
		{"dns.tcp.max_per_client", c.DNS.TCP.MaxPerClient, 10},
		{"dns.tcp.idle_timeout", c.DNS.TCP.IdleTimeout.D(), 10 * time.Second},
		{"api.listen", c.API.Listen, "127.0.0.1:8053"},
		{"api.max_connections", c.API.MaxConnections, 256},
		{"api.read_timeout", c.API.ReadTimeout.D(), 30 * time.Second},
		{"api.write_timeout", c.API.WriteTimeout.D(), time.Minute},
		{"api.idle_timeout", c.API.IdleTimeout.D(), time.Minute},
		{"state.backend", c.State.Backend, "memory"},
		{"state.stale_action", c.State.StaleAction, "keep"},
		{"state.redis.prefix", c.State.Redis.Prefix, "gtm"},
		{"prober.enabled", c.Prober.ProberEnabled(), true},
		{"prober.concurrency", c.Prober.Concurrency, 1000},
		{"prober.icmp", c.Prober.ICMP, "auto"},
		{"zones[0].origin", c.Zones[0].Origin, "example.com."},
	}
	s0, s1, s2 := c.Services[0], c.Services[1], c.Services[2]
	checks = append(checks, []struct {
		what      string
		got, want any
	}{
		// Names are made canonical: lower case, fully qualified.
		{"services[0].name", s0.Name, "api.example.com."},
		{"services[0].ttl", s0.TTL, uint32(30)},
		{"services[0].policy", s0.Policy, "latency"},
		{"services[0].answers", s0.Answers, 1},
		{"services[0].fail_open", s0.FailsOpen(), true},
		{"services[0].check.type", s0.Check.Type, "http"},
		{"services[0].check.port", s0.Check.Port, 80},
		{"services[0].check.tls", s0.Check.TLS, false},
		{"services[0].check.method", s0.Check.Method, "GET"},
		{"services[0].check.path", s0.Check.Path, "/"},
		{"services[0].check.expect", s0.Check.Expect, []string{"200-399"}},
		{"services[0].check.interval", s0.Check.Interval.D(), 5 * time.Second},
		{"services[0].check.timeout", s0.Check.Timeout.D(), 2 * time.Second},
		{"services[0].check.jitter", s0.Check.Jitter.D(), 500 * time.Millisecond},
		{"services[0].check.rise", s0.Check.Rise, 2},
		{"services[0].check.fall", s0.Check.Fall, 3},
		{"services[0].endpoints[0].weight", s0.Endpoints[0].EffectiveWeight(), 1},
		{"services[0].endpoints[0].priority", s0.Endpoints[0].Priority, 0},
		{"services[0].endpoints[0].Addr", s0.Endpoints[0].Addr, netip.MustParseAddr("198.51.100.10")},
		// An IPv4-mapped address is answered as the IPv4 address it is.
		{"services[0].endpoints[1].Addr", s0.Endpoints[1].Addr, netip.MustParseAddr("203.0.113.10")},
		// tls: true makes an http check https, on port 443.
		{"services[1].check.type", s1.Check.Type, "https"},
		{"services[1].check.port", s1.Check.Port, 443},
		{"services[1].check.expect", s1.Check.Expect, []string{"200-399"}},
		{"services[1].endpoints[0].Addr", s1.Endpoints[0].Addr, netip.MustParseAddr("2001:db8::10")},
		// A 1s interval: the 2s default timeout would not fit, so 80% of it.
		{"services[2].check.port", s2.Check.Port, 22},
		{"services[2].check.timeout", s2.Check.Timeout.D(), 800 * time.Millisecond},
		{"services[2].check.method", s2.Check.Method, ""},
		{"services[2].check.expect", s2.Check.Expect, []string(nil)},
	}...)
	for _, ch := range checks {
		if !equalAny(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.what, ch.got, ch.want)
		}
	}
}

func equalAny(a, b any) bool {
	if as, ok := a.([]string); ok {
		bs, ok := b.([]string)
		return ok && slices.Equal(as, bs) && (as == nil) == (bs == nil)
	}
	return a == b
}

// TestNodeIDDefaultsNSID checks dns.nsid follows a written node.id.
func TestNodeIDDefaultsNSID(t *testing.T) {
	cfg, err := ParseConfig("c.yaml", []byte("node: {id: edge-7}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Node.ID != "edge-7" || cfg.DNS.NSID != "edge-7" {
		t.Errorf("node.id %q, dns.nsid %q; want edge-7 for both", cfg.Node.ID, cfg.DNS.NSID)
	}
}

func TestEmptyConfigIsValid(t *testing.T) {
	cfg, err := ParseConfig("empty.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.State.Backend != "memory" || cfg.Path() != "empty.yaml" || cfg.Dir() != "." {
		t.Errorf("backend %q path %q dir %q", cfg.State.Backend, cfg.Path(), cfg.Dir())
	}
}

func TestRegionOrder(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"block", "regions:\n  us-east: {}\n  eu-west: {}\n  ap-southeast: {}\n", []string{"us-east", "eu-west", "ap-southeast"}},
		// All on one line: the written order still holds, not the names'.
		{"flow", "regions: {zz: {}, mm: {}, aa: {}}\n", []string{"zz", "mm", "aa"}},
		{"none", "node: {id: x}\n", []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig("c.yaml", []byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.RegionOrder(); !slices.Equal(got, tc.want) {
				t.Errorf("RegionOrder() = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("from file", func(t *testing.T) {
		set, err := Load("testdata/valid/defaults.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := set.Config.RegionOrder(), []string{"us-east", "eu-west", "ap-southeast"}; !slices.Equal(got, want) {
			t.Errorf("RegionOrder() = %v, want %v", got, want)
		}
	})
	t.Run("built in code", func(t *testing.T) {
		cfg := &Config{Regions: map[string]Region{"b": {}, "a": {}}}
		if got := cfg.RegionOrder(); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("RegionOrder() = %v, want [a b] (by name)", got)
		}
	})
}

func TestSummary(t *testing.T) {
	set, err := Load("testdata/valid/defaults.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const want = "1 zones, 8 records, 3 services, 4 endpoints, 3 regions"
	if got := set.Summary(); got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
}

func TestValidFixture(t *testing.T) {
	set, err := Load("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Config.Resolve("example.com.zone"); got != "testdata/example.com.zone" {
		t.Errorf("Resolve = %q", got)
	}
	if got := set.Config.Resolve("/abs/x.zone"); got != "/abs/x.zone" {
		t.Errorf("Resolve of an absolute name = %q", got)
	}
	if len(set.Zones) != 1 || set.Zones[0].SOA == nil || set.Zones[0].SOA.Serial != 1 {
		t.Errorf("zones: %+v", set.Zones)
	}
}

func TestQuickstartLoads(t *testing.T) {
	set, err := Load("../examples/quickstart/gtm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Config.Services) == 0 || len(set.Zones) == 0 {
		t.Fatalf("quickstart loaded empty: %s", set.Summary())
	}
	for _, s := range set.Config.Services {
		for _, e := range s.Endpoints {
			// The quickstart promises to contact nothing: any checked
			// endpoint must be on loopback.
			if s.Check != nil && !e.Addr.IsLoopback() {
				t.Errorf("%s/%s: checked endpoint %s is not loopback", s.Name, e.Name, e.Addr)
			}
		}
	}
	if got := set.Config.RegionOrder(); !slices.Equal(got, []string{"eu-west", "us-east", "ap-southeast"}) {
		t.Errorf("RegionOrder() = %v", got)
	}
}

func TestLoadCookieSecrets(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) string {
		p := dir + "/secret"
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cur, prev, err := LoadCookieSecrets(write("# rotated 2026-01-01\ne5e973e5a6b2a43f48e7dc849e37bfcf\n\n445536bcd2513298075a5d379663c962\n"))
	if err != nil || len(cur) != 16 || len(prev) != 16 || cur[0] != 0xe5 || prev[0] != 0x44 {
		t.Errorf("two secrets: %x %x %v", cur, prev, err)
	}
	cur, prev, err = LoadCookieSecrets(write("e5e973e5a6b2a43f48e7dc849e37bfcf"))
	if err != nil || len(cur) != 16 || prev != nil {
		t.Errorf("one secret: %x %x %v", cur, prev, err)
	}
	for _, bad := range []string{"", "zz", "e5e973e5a6b2a43f48e7dc849e37bf", "00000000000000000000000000000000\n00000000000000000000000000000000\n00000000000000000000000000000000"} {
		if _, _, err := LoadCookieSecrets(write(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
