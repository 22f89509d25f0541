package main

import (
	"strings"
	"testing"
)

const goodConfig = `
range: 10.77.0.0/16
default_ms: 30
sites:
  - {name: eu-dns, place: eu, addrs: [10.77.1.2]}
  - {name: eu-gw, place: eu, addrs: [10.77.11.1, 10.77.11.2], gateways: ["10.77.11.1:8080"]}
  - {name: paris, addrs: [10.77.201.2]}
delays:
  - {a: eu, b: paris, ms: 5}
`

func TestParseConfigDefaults(t *testing.T) {
	c, err := ParseConfig([]byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.TUN != "wan0" || *c.IntraMS != 0.5 || *c.DefaultMS != 30 || c.rng.String() != "10.77.0.0/16" {
		t.Errorf("defaults: tun %q intra %g default %g range %s", c.TUN, *c.IntraMS, *c.DefaultMS, c.rng)
	}
	p := c.Sites[2]
	if p.Netns != "paris" || p.Place != "paris" || len(p.addrs) != 1 {
		t.Errorf("site defaults: %+v", p)
	}
	if len(c.Sites[1].gws) != 1 || c.Sites[1].gws[0].Port() != 8080 {
		t.Errorf("gateways: %v", c.Sites[1].gws)
	}
	// JSON is YAML.
	if _, err := ParseConfig([]byte(`{"range": "10.77.0.0/16", "sites": [{"name": "a", "addrs": ["10.77.0.1"]}, {"name": "b", "addrs": ["10.77.0.2"]}]}`)); err != nil {
		t.Errorf("JSON config: %v", err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, cfg, want string }{
		{"unknown key", "range: 10.77.0.0/16\nsites: []\nbogus: 1\n", "field bogus not found"},
		{"bad range", "range: 10.77.0.0\nsites: [{name: a, addrs: [10.77.0.1]}, {name: b, addrs: [10.77.0.2]}]\n", "range: \"10.77.0.0\" is not a prefix"},
		{"ipv6 range", "range: 2001:db8::/32\nsites: [{name: a, addrs: [10.77.0.1]}, {name: b, addrs: [10.77.0.2]}]\n", "only IPv4"},
		{"one site", "range: 10.77.0.0/16\nsites: [{name: a, addrs: [10.77.0.1]}]\n", "at least two sites"},
		{"outside range", "range: 10.77.0.0/16\nsites: [{name: a, addrs: [10.78.0.1]}, {name: b, addrs: [10.77.0.2]}]\n", "sites[0].addrs[0]: 10.78.0.1 is outside range"},
		{"shared address", "range: 10.77.0.0/16\nsites: [{name: a, addrs: [10.77.0.1]}, {name: b, addrs: [10.77.0.1]}]\n", "also an address of site \"a\""},
		{"duplicate name", "range: 10.77.0.0/16\nsites: [{name: a, addrs: [10.77.0.1]}, {name: a, addrs: [10.77.0.2]}]\n", "sites[1].name: \"a\" is used twice"},
		{"shared netns", "range: 10.77.0.0/16\nsites: [{name: a, netns: x, addrs: [10.77.0.1]}, {name: b, netns: x, addrs: [10.77.0.2]}]\n", "also the namespace of site"},
		{"gateway elsewhere", "range: 10.77.0.0/16\nsites: [{name: a, addrs: [10.77.0.1], gateways: [\"10.77.0.2:80\"]}, {name: b, addrs: [10.77.0.2]}]\n", "sites[0].gateways[0]: 10.77.0.2 is not an address of this site"},
		{"gateway port", "range: 10.77.0.0/16\nsites: [{name: a, addrs: [10.77.0.1], gateways: [\"10.77.0.1\"]}, {name: b, addrs: [10.77.0.2]}]\n", "is not IP:PORT"},
		{"delay name", "range: 10.77.0.0/16\nsites: [{name: a, addrs: [10.77.0.1]}, {name: b, addrs: [10.77.0.2]}]\ndelays: [{a: a, b: c, ms: 1}]\n", "delays[0]: \"c\" is neither a site nor a place"},
		{"delay range", "range: 10.77.0.0/16\nsites: [{name: a, addrs: [10.77.0.1]}, {name: b, addrs: [10.77.0.2]}]\ndelays: [{a: a, b: b, ms: -1}]\n", "delays[0].ms: -1 is outside"},
		{"name with comma", "range: 10.77.0.0/16\nsites: [{name: 'a,b', addrs: [10.77.0.1]}, {name: b, addrs: [10.77.0.2]}]\n", "sites[0].name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.cfg))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
