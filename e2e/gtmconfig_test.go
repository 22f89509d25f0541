//go:build e2e && linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gtm-project/gtm/geo/geotest"
)

// baseZone is the static zone every node loads from its file; edits
// through the API replace it in the store.
const baseZone = `$ORIGIN example.com.
$TTL 60
@ SOA ns1 hostmaster 1 7200 900 1209600 60
  NS ns1
ns1 A 192.0.2.53
www CNAME api
`

// nodeConfig is the gtm config of region r's node: Redis in the primary
// region, a GeoIP database placing the client networks, the latency map
// measuring them (allowed: the WAN range only) and fast checks.
func (tp *topology) nodeConfig(r *region) string {
	var b strings.Builder
	p := tp.region(primary)
	fmt.Fprintf(&b, `node: {region: %[1]s, id: dns-%[1]s}
dns: {listen: ["%[2]s"]}
api: {listen: "%[3]s", token_file: tokens}
state:
  backend: redis
  redis: {addrs: ["%[4]s:6379"]}
  snapshot_path: state-%[1]s.json
geo: {database: clients.mmdb}
regions:
`, r.name, r.nodeAP(), apiAddr, p.nodeAddr())
	for _, x := range tp.regions {
		fmt.Fprintf(&b, "  %s: {lat: %g, lon: %g}\n", x.name, x.lat, x.lon)
	}
	fmt.Fprintf(&b, `zones:
  - {origin: example.com., file: example.com.zone}
services:
  - name: api.example.com.
    ttl: 5
    policy: latency
    answers: 3
    check: {type: http, port: %d, path: /status, interval: %ds, timeout: 300ms, rise: %d, fall: %d}
    endpoints:
`, gwPort, checkInterval, checkRise, checkFall)
	for _, g := range tp.gateways() {
		fmt.Fprintf(&b, "      - {name: %s, region: %s, zone: %q, address: %s}\n", g.name, g.region.name, g.zone, g.addr)
	}
	fmt.Fprintf(&b, `prober:
  latency: {enabled: true, interval: 10s, timeout: 1s, allow: [%q], sample_every: 1, sample_interval: 1s}
`, wanRange)
	return b.String()
}

// writeConfigs writes every node's config, the zone, the tokens, the
// GeoIP database and the WAN config into dir.
func (tp *topology) writeConfigs(dir string) error {
	files := map[string]string{
		"example.com.zone": baseZone,
		"tokens":           token + " rw e2e\n",
		"wan.yaml":         tp.wanConfig(),
	}
	for _, r := range tp.regions {
		files["gtm-"+r.name+".yaml"] = tp.nodeConfig(r)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	var nets []geotest.Net
	for _, c := range tp.clients {
		nets = append(nets, geotest.Net{Prefix: c.prefix(), City: c.name, Country: c.country, Continent: c.cont, Lat: c.lat, Lon: c.lon})
	}
	return geotest.Write(filepath.Join(dir, "clients.mmdb"), nets)
}
