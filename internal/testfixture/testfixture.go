// Package testfixture holds the zones and services that routing's and
// dnsserver's tests answer from: three zones and six services. routing
// parses them from text; dnsserver writes them to files and serves them
// over sockets, so both test the same data.
package testfixture

// ConfigYAML lists regions so that config order (us-east first) differs from
// alphabetical order: the latency policy's fallback must follow the file.
const ConfigYAML = `
node: {region: us-east, id: test-node-1}
regions:
  us-east:      {lat: 38.9, lon: -77.0}
  eu-west:      {lat: 53.3, lon: -6.3}
  ap-southeast: {lat: 1.35, lon: 103.8}
zones:
  - {origin: example.com., file: example.com.zone}
  - {origin: example.net., file: example.net.zone}
  - {origin: example., file: example.zone}
services:
  - name: api.example.com.
    ttl: 42
    policy: latency
    endpoints:
      - {name: use1, region: us-east, zone: a, address: 198.51.100.10}
      - {name: use2, region: us-east, zone: b, address: 198.51.100.11}
      - {name: use6, region: us-east, zone: a, address: "2001:db8::10"}
      - {name: euw1, region: eu-west, zone: a, address: 203.0.113.10}
      - {name: euw6, region: eu-west, zone: a, address: "2001:db8::20"}
      - {name: apse1, region: ap-southeast, zone: a, address: 192.0.2.10}
  - name: fo.example.com.
    policy: failover
    answers: 2
    endpoints:
      - {name: p0a, region: us-east, zone: a, address: 203.0.113.20, priority: 0}
      - {name: p0b, region: us-east, zone: a, address: 203.0.113.21, priority: 0}
      - {name: p0c, region: us-east, zone: b, address: 203.0.113.22, priority: 0}
      - {name: p1a, region: eu-west, zone: a, address: 198.51.100.20, priority: 1}
      - {name: p1b, region: eu-west, zone: b, address: 198.51.100.21, priority: 1}
      - {name: p2a, region: eu-west, zone: a, address: 192.0.2.20, priority: 2}
  - name: wt.example.com.
    policy: weighted
    endpoints:
      - {name: heavy, region: us-east, zone: a, address: 203.0.113.30, weight: 9}
      - {name: light, region: us-east, zone: b, address: 203.0.113.31, weight: 1}
      - {name: zero,  region: us-east, zone: a, address: 203.0.113.32, weight: 0}
  - name: closed.example.com.
    policy: latency
    fail_open: false
    endpoints:
      - {name: closed1, region: us-east, zone: a, address: 203.0.113.40}
      - {name: closed2, region: eu-west, zone: a, address: 203.0.113.41}
  - name: geo.example.com.
    policy: geo
    endpoints:
      - {name: geo-eu, region: eu-west, zone: a, address: 203.0.113.50}
      - {name: geo-us, region: us-east, zone: a, address: 198.51.100.50}
  - name: only6.example.net.
    endpoints:
      - {name: v6only, region: eu-west, zone: a, address: "2001:db8::60"}
`

// ExampleCom has SOA TTL 3600 and MINIMUM 300: negative answers use 300.
const ExampleCom = `$ORIGIN example.com.
$TTL 3600
@         IN SOA ns1 hostmaster 2026010101 7200 900 1209600 300
@         IN NS  ns1
@         IN NS  ns2.example.net.
@         IN MX  10 mail
@         IN TXT "v=spf1 mx -all"
ns1       IN A   192.0.2.53
mail      IN A   192.0.2.25
mail      IN AAAA 2001:db8::25
www       IN CNAME web
web       IN CNAME www.example.net.
ext       IN CNAME www.elsewhere.test.
dangling  IN CNAME nothing.example.net.
loop1     IN CNAME loop2
loop2     IN CNAME loop1
alias-api IN CNAME api
*.apps    IN A   192.0.2.80
child     IN NS  ns1.child
child     IN NS  ns.example.net.
ns1.child IN A   192.0.2.54
deep.ent  IN A   192.0.2.90
`

// ExampleNet has SOA TTL 60 and MINIMUM 600: negative answers use 60.
const ExampleNet = `$ORIGIN example.net.
@    60   IN SOA ns1.example.com. hostmaster.example.com. 7 7200 900 1209600 600
@    3600 IN NS  ns1.example.com.
ns   3600 IN A   192.0.2.55
ns2  3600 IN A   192.0.2.56
www  120  IN A   203.0.113.80
`

// ExampleTLD is the zone of RFC 4592 §2.2.1, plus an empty non-terminal
// (ent) directly under the wildcard's parent and an address for the NS
// targets.
const ExampleTLD = `$ORIGIN example.
$TTL 3600
@                  SOA   ns hostmaster 1 7200 900 1209600 3600
@                  NS    ns
ns                 A     192.0.2.2
*                  TXT   "this is a wildcard"
*                  MX    10 host1
sub.*              TXT   "this is not a wildcard"
host1              A     192.0.2.1
_ssh._tcp.host1    SRV   0 0 22 host1
_ssh._tcp.host2    SRV   0 0 22 host2
subdel             NS    ns.example.com.
subdel             NS    ns.example.net.
deep.ent           A     192.0.2.9
`
