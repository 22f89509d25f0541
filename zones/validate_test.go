package zones

import (
	"strings"
	"testing"
)

func TestParseStatusRange(t *testing.T) {
	for _, tc := range []struct {
		in     string
		lo, hi int
		ok     bool
	}{
		{"200", 200, 200, true},
		{"200-299", 200, 299, true},
		{" 301 - 302 ", 301, 302, true},
		{"100-599", 100, 599, true},
		{"99", 0, 0, false},
		{"600", 0, 0, false},
		{"299-200", 0, 0, false},
		{"2xx", 0, 0, false},
		{"200-", 0, 0, false},
		{"", 0, 0, false},
	} {
		lo, hi, err := ParseStatusRange(tc.in)
		if (err == nil) != tc.ok || lo != tc.lo || hi != tc.hi {
			t.Errorf("ParseStatusRange(%q) = %d, %d, %v; want %d, %d, ok %v", tc.in, lo, hi, err, tc.lo, tc.hi, tc.ok)
		}
	}
}

// TestValidateRules covers the rules no file fixture needs: each config
// breaks one and must get exactly the one error given.
func TestValidateRules(t *testing.T) {
	const svc = "regions: {eu: {}}\nservices:\n  - name: a.example.com.\n    endpoints:\n      - {name: e, region: eu, address: 192.0.2.1"
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"longitude", "regions:\n  eu: {lat: 1, lon: 181}\n", "c:2: regions.eu.lon: longitude 181 is outside -180..180"},
		{"udp size", "dns: {udp_size: 70000}\n", "c:1: dns.udp_size: 70000 is outside 512..65535"},
		{"workers", "dns:\n  workers: 300\n", "c:2: dns.workers: 300 is outside 1..256"},
		{"ecs v4", "dns:\n  ecs:\n    max_prefix_v4: 33\n", "c:3: dns.ecs.max_prefix_v4: 33 is outside 0..32"},
		{"ecs v6", "dns:\n  ecs:\n    max_prefix_v6: -1\n", "c:3: dns.ecs.max_prefix_v6: -1 is outside 0..128"},
		{"tcp max", "dns:\n  tcp:\n    max_connections: -1\n", "c:3: dns.tcp.max_connections: -1 is outside 1..1000000"},
		{"tcp per client", "dns:\n  tcp: {max_connections: 5, max_per_client: 6}\n", "c:2: dns.tcp.max_per_client: 6 is outside 1..max_connections (5)"},
		{"tcp idle", "dns:\n  tcp:\n    idle_timeout: 100ms\n", "c:3: dns.tcp.idle_timeout: 100ms is outside 1s..10m"},
		{"api max", "api:\n  max_connections: -3\n", "c:2: api.max_connections: -3 is outside 1..100000"},
		{"api read", "api:\n  read_timeout: 2h\n", "c:2: api.read_timeout: 2h0m0s is outside 1s..1h"},
		{"api idle", "api:\n  idle_timeout: 10ms\n", "c:2: api.idle_timeout: 10ms is outside 1s..1h"},
		{"redis addr", "state:\n  backend: redis\n  redis:\n    addrs: [\"10.0.0.1\"]\n", `c:4: state.redis.addrs[0]: "10.0.0.1" is not host:port`},
		{"stale action", "state: {stale_action: panic}\n", `c:1: state.stale_action: unknown action "panic": want keep or fail_open`},
		{"icmp mode", "prober:\n  icmp: raw\n", `c:2: prober.icmp: unknown mode "raw": want auto, privileged or unprivileged`},
		{"concurrency", "prober:\n  concurrency: -5\n", "c:2: prober.concurrency: must be at least 1"},
		{"control target", "prober:\n  control_targets: [\"127.0.0.1\"]\n", `c:2: prober.control_targets[0]: "127.0.0.1" is not host:port`},
		{"zone origin", "zones:\n  - {origin: \"a..b\", file: x.zone}\n", `c:2: zones[0].origin: "a..b." is not a domain name`},
		{"zone root", "zones:\n  - {origin: ., file: x.zone}\n", "c:2: zones[0].origin: a zone needs an origin such as example.com."},
		{"zone file", "zones:\n  - origin: a.\n", "c:2: zones[0].file: a zone needs a master file"},
		{"zone twice", "zones:\n  - {origin: a., file: x}\n  - {origin: A, file: y}\n", "c:3: zones[1].origin: zone a. is already defined at zones[0]"},
		{"no service name", "regions: {eu: {}}\nservices:\n  - endpoints: [{name: e, region: eu, address: 192.0.2.1}]\n", "c:3: services[0].name: a service needs a name such as api.example.com."},
		{"empty service", "services:\n  - null\n", "c:2: services[0]: empty service"},
		{"empty endpoint", "regions: {eu: {}}\nservices:\n  - name: a.\n    endpoints: [null]\n", "c:4: services[0].endpoints[0]: empty endpoint"},
		{"answers", svc + "}\n    answers: 33\n", "c:6: services[0].answers: 33 is outside 1..32"},
		{"endpoint name", "regions: {eu: {}}\nservices:\n  - name: a.\n    endpoints: [{region: eu, address: 192.0.2.1}]\n", "c:4: services[0].endpoints[0].name: an endpoint needs a name"},
		{"endpoint slash", svc + ", }\n      - {name: a/b, region: eu, address: 192.0.2.2}\n", `c:6: services[0].endpoints[1].name: "a/b": names may not hold '/' or spaces`},
		{"no region", "services:\n  - name: a.\n    endpoints:\n      - name: e\n        address: 192.0.2.1\n", "c:4: services[0].endpoints[0].region: an endpoint needs a region"},
		{"ipv6 zone", "regions: {eu: {}}\nservices:\n  - name: a.\n    endpoints:\n      - name: e\n        region: eu\n        address: fe80::1%eth0\n", `c:7: services[0].endpoints[0].address: "fe80::1%eth0": an IPv6 zone cannot be answered in DNS`},
		{"weight", svc + ", weight: -1}\n", "c:5: services[0].endpoints[0].weight: -1 is outside 0..1000000"},
		{"priority", svc + ", priority: -1}\n", "c:5: services[0].endpoints[0].priority: -1 is negative"},
		{"jitter", svc + "}\n    check:\n      type: icmp\n      jitter: 3s\n", "c:8: services[0].check.jitter: 3s is more than half the interval (5s)"},
		{"rise", svc + "}\n    check:\n      type: icmp\n      rise: 101\n", "c:8: services[0].check.rise: 101 is outside 1..100"},
		{"http path", svc + "}\n    check:\n      type: http\n      path: status\n", `c:8: services[0].check.path: "status" must start with /`},
		{"negative duration", svc + "}\n    check:\n      type: icmp\n      interval: -5s\n", `c:8: services[0].check.interval: negative duration "-5s"`},
		{"duration not scalar", svc + "}\n    check:\n      type: icmp\n      interval: [5s]\n", `c:8: services[0].check.interval: a duration must be a string such as "5s"`},
		{"wrong type", "dns:\n  udp_size: big\n", "c:2: dns.udp_size: cannot unmarshal !!str `big` into int"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig("c", []byte(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tc.want {
				t.Errorf("error:\n  got:  %s\n  want: %s", strings.ReplaceAll(err.Error(), "\n", "\n        "), tc.want)
			}
		})
	}
}
