package zones

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// invalidFixtures maps each testdata/invalid-*.yaml to the exact errors
// Load reports for it, in order. A fixture breaks one rule unless its name
// says otherwise; an error caused by another (an address left empty by a
// misspelt key) is listed too, since the operator sees it.
var invalidFixtures = map[string][]string{
	"invalid-unknown-key.yaml": {
		`testdata/invalid-unknown-key.yaml:4: unknown key "nodes"`,
	},
	"invalid-unknown-key-nested.yaml": {
		`testdata/invalid-unknown-key-nested.yaml:9: services[0].endpoints[0].address: an endpoint needs an address`,
		`testdata/invalid-unknown-key-nested.yaml:11: services[0].endpoints[0]: unknown key "adress"`,
		`testdata/invalid-unknown-key-nested.yaml:15: services[0].check: unknown key "intervall"`,
	},
	"invalid-duplicate-key.yaml": {
		`testdata/invalid-duplicate-key.yaml:3: regions: mapping key "eu-west" already defined at line 2`,
	},
	// A tab where YAML wants spaces: go.yaml.in/yaml reports its line.
	"invalid-yaml-syntax.yaml": {
		`testdata/invalid-yaml-syntax.yaml:4: found character that cannot start any token`,
	},
	// The mistake is the short indent of line 5, but go.yaml.in/yaml names
	// the line of the block it breaks (the sequence under zones:, line 3):
	// its errors carry one line and it picks the context's.
	"invalid-yaml-indent.yaml": {
		`testdata/invalid-yaml-indent.yaml:3: did not find expected '-' indicator`,
	},
	"invalid-duration.yaml": {
		`testdata/invalid-duration.yaml:11: services[0].check.interval: bad duration "5 seconds": want a number with a unit, such as 5s or 250ms`,
	},
	"invalid-interval.yaml": {
		`testdata/invalid-interval.yaml:11: services[0].check.interval: 500ms is below the 1s minimum`,
	},
	"invalid-timeout.yaml": {
		`testdata/invalid-timeout.yaml:12: services[0].check.timeout: 5s must be above 0 and below the interval (5s)`,
	},
	"invalid-fall.yaml": {
		`testdata/invalid-fall.yaml:13: services[0].check.fall: at an interval of 1s, fall must be at least 2`,
	},
	"invalid-policy.yaml": {
		`testdata/invalid-policy.yaml:8: services[0].policy: unknown policy "nearest": want one of latency, geo, failover, weighted`,
	},
	"invalid-check-type.yaml": {
		`testdata/invalid-check-type.yaml:8: services[0].check.type: unknown check type "dns": want one of icmp, tcp, http, https`,
	},
	"invalid-check-ca.yaml": {
		`testdata/invalid-check-ca.yaml:8: services[0].check.ca_file: applies to https checks only (type: https, or type: http with tls: true)`,
		`testdata/invalid-check-ca.yaml:12: services[1].check.ca_file: open testdata/missing-ca.pem: no such file or directory`,
		`testdata/invalid-check-ca.yaml:16: services[2].check.ca_file: testdata/example.com.zone: no PEM certificate in it`,
	},
	"invalid-port.yaml": {
		`testdata/invalid-port.yaml:10: services[0].check.port: 70000 is outside 1..65535`,
	},
	"invalid-expect.yaml": {
		`testdata/invalid-expect.yaml:12: services[0].check.expect[1]: "299-200" is not a status code or range such as 200-299`,
		`testdata/invalid-expect.yaml:13: services[0].check.expect[2]: "2xx" is not a status code or range such as 200-299`,
	},
	"invalid-address.yaml": {
		`testdata/invalid-address.yaml:11: services[0].endpoints[0].address: "gw1.example.net" is not an IP address`,
		`testdata/invalid-address.yaml:14: services[0].endpoints[1].address: "203.0.113.300" is not an IP address`,
	},
	"invalid-region.yaml": {
		`testdata/invalid-region.yaml:2: node.region: unknown region "eu-central" (not under regions:)`,
		`testdata/invalid-region.yaml:15: services[0].endpoints[1].region: unknown region "us-east" (not under regions:)`,
	},
	"invalid-duplicate-endpoint.yaml": {
		`testdata/invalid-duplicate-endpoint.yaml:11: services[0].endpoints[2].name: duplicate endpoint name "gw-eu-1" (also at endpoints[0])`,
	},
	"invalid-duplicate-service.yaml": {
		`testdata/invalid-duplicate-service.yaml:12: services[1].name: service api.example.com. is already defined at services[0]`,
	},
	"invalid-service-outside.yaml": {
		`testdata/invalid-service-outside.yaml:7: services[0].name: api.example.org. is outside every zone served (add its zone under zones:)`,
	},
	"invalid-service-cname.yaml": {
		`testdata/invalid-service-cname.yaml:7: services[0].name: www.example.com. clashes with the static CNAME at testdata/example.com.zone:10`,
	},
	"invalid-service-a.yaml": {
		`testdata/invalid-service-a.yaml:7: services[0].name: static.example.com. clashes with the static A record at testdata/example.com.zone:11: the service answers A and AAAA`,
	},
	"invalid-service-delegation.yaml": {
		`testdata/invalid-service-delegation.yaml:7: services[0].name: api.child.example.com. is at or below the delegation of child.example.com. (testdata/example.com.zone:12): its answers belong to the child zone`,
	},
	"invalid-service-ttl.yaml": {
		`testdata/invalid-service-ttl.yaml:8: services[0].ttl: 2147483648 is above the largest TTL, 2147483647 (RFC 2181)`,
		"testdata/invalid-service-ttl.yaml:12: services[1].ttl: cannot unmarshal !!int `4294967296` into uint32",
	},
	"invalid-redis.yaml": {
		`testdata/invalid-redis.yaml:3: state.redis.addrs: the redis backend needs at least one address`,
	},
	"invalid-redis-tls.yaml": {
		`testdata/invalid-redis-tls.yaml:5: state.redis.sentinel_password_file: sentinel credentials need master_name (Sentinel)`,
		`testdata/invalid-redis-tls.yaml:6: state.redis.tls_ca_file: set, but state.redis.tls is false: add tls: true`,
		`testdata/invalid-redis-tls.yaml:7: state.redis.tls_cert_file: set, but state.redis.tls is false: add tls: true`,
		`testdata/invalid-redis-tls.yaml:7: state.redis.tls_cert_file: a client certificate needs both tls_cert_file and tls_key_file`,
	},
	"invalid-backend.yaml": {
		`testdata/invalid-backend.yaml:1: state.backend: unknown backend "etcd": want memory or redis`,
	},
	"invalid-listen.yaml": {
		`testdata/invalid-listen.yaml:4: dns.listen[1]: "127.0.0.1" is not host:port`,
		`testdata/invalid-listen.yaml:6: api.listen: "127.0.0.1:99999": bad port "99999"`,
	},

	// Zone files.
	"invalid-zone-file-missing.yaml": {
		`testdata/invalid-zone-file-missing.yaml:5: zones[0].file: zone example.com.: open testdata/zones/nonexistent.zone: no such file or directory`,
	},
	"invalid-zone-no-soa.yaml": {
		`testdata/zones/no-soa.zone:1: zone example.com. has no SOA record at its apex`,
	},
	"invalid-zone-no-ns.yaml": {
		`testdata/zones/no-ns.zone:1: zone example.com. has no NS record at its apex`,
	},
	"invalid-zone-outside.yaml": {
		`testdata/zones/outside.zone:7: ns1.example.net. A is outside zone example.com.`,
	},
	"invalid-zone-cname-other.yaml": {
		`testdata/zones/cname-other.zone:7: www.example.com.: CNAME beside other data (TXT at line 6): a CNAME must be alone at its name (RFC 1034 §3.6.2)`,
	},
	"invalid-zone-two-cnames.yaml": {
		`testdata/zones/two-cnames.zone:7: www.example.com.: a second CNAME (the first at line 6): a name has at most one`,
	},
	// The SOA spans lines 7-9: the error names the line it starts on.
	"invalid-zone-soa-below.yaml": {
		`testdata/zones/soa-below.zone:7: SOA at sub.example.com.: a SOA belongs at the zone apex example.com.`,
	},
	"invalid-zone-syntax.yaml": {
		`testdata/zones/syntax.zone:6: bad A A: "192.0.2.300"`,
	},
	"invalid-zone-ttl.yaml": {
		`testdata/zones/ttl.zone:6: big.example.com.: TTL 2147483648 is above the largest TTL, 2147483647 (RFC 2181)`,
	},
	"invalid-zone-include-missing.yaml": {
		"testdata/zones/include-missing.zone:5: failed to open `missing.zone' as `testdata/zones/missing.zone': open testdata/zones/missing.zone: no such file or directory",
	},
	// The error is in the included file and names it; the include is
	// found relative to the including file (zones/), not the working
	// directory.
	"invalid-zone-include-error.yaml": {
		`testdata/zones/parts/bad-hosts.zone:4: bad AAAA AAAA: "192.0.2.80"`,
	},
	"invalid-zone-include-invalid.yaml": {
		`testdata/zones/include-invalid.zone:6: www.example.com.: CNAME beside other data (TXT at testdata/zones/parts/clash.zone:2): a CNAME must be alone at its name (RFC 1034 §3.6.2)`,
	},

	// Everything at once: config and zone errors alike, none hiding
	// another, sorted by file and line.
	// Every dns.rrl and dns.cookies check at once.
	"invalid-many-rrl-cookies.yaml": {
		`testdata/invalid-many-rrl-cookies.yaml:3: dns.rrl.rate: -1 is outside 0..1000000 (0: off)`,
		`testdata/invalid-many-rrl-cookies.yaml:4: dns.rrl.slip: 11 is outside 0..10`,
		`testdata/invalid-many-rrl-cookies.yaml:5: dns.rrl.window: 500ms is outside 1s..1h`,
		`testdata/invalid-many-rrl-cookies.yaml:6: dns.rrl.ipv4_prefix: 33 is outside 0..32`,
		`testdata/invalid-many-rrl-cookies.yaml:7: dns.rrl.table_size: 10 is outside 1024..16777216`,
		`testdata/invalid-many-rrl-cookies.yaml:8: dns.rrl.exempt[1]: "not-a-net" is not a prefix such as 192.0.2.0/24`,
		`testdata/invalid-many-rrl-cookies.yaml:10: dns.cookies.secret_file: testdata/cookie-secret-bad.txt:1: want 16 bytes in hex (32 hex digits)`,
		`testdata/invalid-many-rrl-cookies.yaml:11: dns.cookies.rotate: 10m0s is below the 1h minimum (a cookie lives an hour)`,
	},
	"invalid-many.yaml": {
		`testdata/invalid-many.yaml:2: node.region: unknown region "mars" (not under regions:)`,
		`testdata/invalid-many.yaml:4: dns.listen[1]: "nowhere" is not host:port`,
		`testdata/invalid-many.yaml:5: dns.udp_size: 100 is outside 512..65535`,
		`testdata/invalid-many.yaml:6: unknown key "bogus"`,
		`testdata/invalid-many.yaml:8: regions.eu-west.lat: latitude 95 is outside -90..90`,
		`testdata/invalid-many.yaml:16: services[0].policy: unknown policy "random": want one of latency, geo, failover, weighted`,
		`testdata/invalid-many.yaml:19: services[0].check.interval: 200ms is below the 1s minimum`,
		`testdata/invalid-many.yaml:20: services[0].check.expect[0]: "600" is not a status code or range such as 200-299`,
		`testdata/invalid-many.yaml:23: services[0].endpoints[1].name: duplicate endpoint name "a" (also at endpoints[0])`,
		`testdata/invalid-many.yaml:23: services[0].endpoints[1].address: "not-an-ip" is not an IP address`,
		`testdata/invalid-many.yaml:23: services[0].endpoints[1].region: unknown region "asia" (not under regions:)`,
		`testdata/invalid-many.yaml:25: services[1].ttl: 2147483648 is above the largest TTL, 2147483647 (RFC 2181)`,
		// Two keys share the line in a flow mapping, so the path is left out.
		`testdata/invalid-many.yaml:26: bad duration "1 minute": want a number with a unit, such as 5s or 250ms`,
		`testdata/invalid-many.yaml:26: services[1].check.port: 0 is outside 1..65535`,
		`testdata/invalid-many.yaml:27: services[1].endpoints: a service needs at least one endpoint`,
		`testdata/zones/many.zone:1: zone example.com. has no NS record at its apex`,
		`testdata/zones/many.zone:7: www.example.com.: a second CNAME (the first at line 6): a name has at most one`,
		`testdata/zones/many.zone:8: huge.example.com.: TTL 2147483648 is above the largest TTL, 2147483647 (RFC 2181)`,
		`testdata/zones/many.zone:9: other.example.org. A is outside zone example.com.`,
		`testdata/zones/parts/many-syntax.zone:3: bad MX Pref: "ten"`,
	},
}

func TestInvalidFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Every fixture on disk has expectations and every expectation a file,
	// so neither can be forgotten.
	var onDisk []string
	for _, f := range files {
		onDisk = append(onDisk, filepath.Base(f))
	}
	var listed []string
	for f := range invalidFixtures {
		listed = append(listed, f)
	}
	sort.Strings(listed)
	if !slices.Equal(onDisk, listed) {
		t.Fatalf("fixtures on disk %v\ndo not match the table %v", onDisk, listed)
	}

	for name, want := range invalidFixtures {
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			set, err := Load(filepath.Join("testdata", name))
			if err == nil {
				t.Fatalf("Load succeeded: %s", set.Summary())
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, not an ErrorList: %v", err, err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Error())
			}
			if !slices.Equal(got, want) {
				t.Errorf("errors:\n  got:  %s\n  want: %s", strings.Join(got, "\n        "), strings.Join(want, "\n        "))
			}
			if !sort.SliceIsSorted(list, func(i, j int) bool {
				if list[i].File != list[j].File {
					return list[i].File < list[j].File
				}
				return list[i].Line < list[j].Line
			}) {
				t.Errorf("errors are not in file and line order")
			}
		})
	}
}

// TestParseConfigReportsEveryError checks ParseConfig alone (no zone files
// read) returns every config error as one ErrorList.
func TestParseConfigReportsEveryError(t *testing.T) {
	data, err := os.ReadFile("testdata/invalid-many.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig("many.yaml", data)
	if cfg != nil {
		t.Fatal("ParseConfig returned a config with errors")
	}
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error is %T, not an ErrorList", err)
	}
	// The config's own 15 errors (the zone files are not read).
	if len(list) != 15 {
		t.Fatalf("%d errors, want 15:\n%v", len(list), err)
	}
	if !strings.HasPrefix(err.Error(), "15 errors:\nmany.yaml:2: node.region:") {
		t.Errorf("ErrorList text starts %q", err.Error()[:40])
	}
}

func TestLoadMissingConfig(t *testing.T) {
	_, err := Load("testdata/no-such-config.yaml")
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("err = %v, want one Error", err)
	}
	if list[0].File != "testdata/no-such-config.yaml" || !strings.Contains(list[0].Msg, "no such file") {
		t.Errorf("err = %+v", list[0])
	}
	if _, err := LoadConfig("testdata/no-such-config.yaml"); err == nil {
		t.Error("LoadConfig of a missing file succeeded")
	}
}
