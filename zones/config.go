// Package zones owns gtm's configuration model: the YAML config file, RFC
// 1035 master files, traffic-managed services, and their validation. Every
// error it reports names the file and line (and the config path) it is about.
//
// It knows nothing of Redis, probes or sockets: it turns files into a
// validated, immutable Set that the rest of gtm serves.
package zones

import (
	"net/netip"
	"time"
)

// Config is the whole gtm configuration file. Zero values are filled with
// documented defaults by ApplyDefaults before validation.
type Config struct {
	Node     Node              `yaml:"node"`
	DNS      DNS               `yaml:"dns"`
	API      API               `yaml:"api"`
	State    State             `yaml:"state"`
	Geo      Geo               `yaml:"geo"`
	Regions  map[string]Region `yaml:"regions"`
	Zones    []ZoneRef         `yaml:"zones"`
	Services []*Service        `yaml:"services"`
	Prober   Prober            `yaml:"prober"`
	Limits   Limits            `yaml:"limits"`

	// path is the file the config was read from; relative zone files are
	// resolved against its directory.
	path string
	// lines maps a config path ("services[1].endpoints[0].address") to the
	// line it was written on, for error messages (see lineIndex).
	lines *lineIndex
	// regionOrder lists the regions as written, which lines alone cannot
	// tell when several share a line (a flow mapping).
	regionOrder []string
}

// Node identifies this gtm process.
type Node struct {
	// Region is the region this node (and its in-process prober) sits in.
	Region string `yaml:"region"`
	// ID names the node in NSID, CHAOS id.server and metrics. Default: the
	// host name.
	ID string `yaml:"id"`
}

// DNS configures the DNS listeners.
type DNS struct {
	// Listen is a list of host:port; each gets UDP and TCP. Default [":53"].
	Listen []string `yaml:"listen"`
	// NSID is returned for RFC 5001 NSID requests. Default: node.id.
	NSID string `yaml:"nsid"`
	// UDPSize is the EDNS0 UDP payload size we advertise and the largest
	// UDP response we send. Default 1232 (DNS flag day 2020).
	UDPSize int `yaml:"udp_size"`
	// Version is the answer to CHAOS TXT version.bind; empty refuses it.
	Version string `yaml:"version"`
	// Workers is the number of UDP sockets (SO_REUSEPORT) per listen
	// address. Default: the number of CPUs.
	Workers int `yaml:"workers"`
	// ECS bounds the EDNS Client Subnet source prefixes honoured.
	ECS ECS `yaml:"ecs"`
	// RRL is response rate limiting over UDP. Off by default (rate: 0).
	RRL RRL `yaml:"rrl"`
	// Cookies configures DNS cookies (RFC 7873, RFC 9018).
	Cookies Cookies `yaml:"cookies"`
	// TCP bounds DNS over TCP connections.
	TCP DNSTCP `yaml:"tcp"`
}

// DNSTCP bounds DNS over TCP (RFC 7766) connections, per listen address.
type DNSTCP struct {
	// MaxConnections is the most open connections. Past it the oldest
	// idle connection is closed to make room; with none idle the new one
	// is refused. Default 1000 (lowered at start to fit the open-file
	// limit).
	MaxConnections int `yaml:"max_connections"`
	// MaxPerClient is the most connections from one /24 (IPv4) or /56
	// (IPv6), enforced the same way. Default 10.
	MaxPerClient int `yaml:"max_per_client"`
	// IdleTimeout closes a connection with no query for this long, and
	// bounds how long one query may take to arrive once it started.
	// Default 10s (RFC 7766 §6.2.3); 1s above 3/4 of max_connections.
	IdleTimeout Duration `yaml:"idle_timeout"`
}

// RRL configures response rate limiting (the Knot/BIND model, UDP only):
// Rate responses a second per response class, client network and name;
// over it, every Slip-th response is sent truncated and the rest dropped.
type RRL struct {
	// Rate is responses per second per bucket. Default 0: off.
	Rate int `yaml:"rate"`
	// Slip: every Slip-th limited response is sent truncated (TC=1), the
	// others dropped; 0 drops all, 1 truncates all. Default 2.
	Slip *int `yaml:"slip"`
	// Window is how long a client over the rate stays limited: its debt
	// is capped at Rate × Window responses. Default 15s.
	Window Duration `yaml:"window"`
	// IPv4Prefix and IPv6Prefix are the client network lengths buckets
	// are kept per. Defaults 24 and 56.
	IPv4Prefix int `yaml:"ipv4_prefix"`
	IPv6Prefix int `yaml:"ipv6_prefix"`
	// Exempt lists networks (CIDR) never limited.
	Exempt []string `yaml:"exempt"`
	// TableSize is the fixed number of buckets (32 bytes each). Default
	// 65536.
	TableSize int `yaml:"table_size"`
	// LogOnly counts and logs what would be limited, answering normally.
	LogOnly bool `yaml:"log_only"`
}

// Cookies configures DNS cookies. The server secret must be shared by
// every node of a deployment so a cookie from one is valid at the others.
type Cookies struct {
	// Enabled answers COOKIE options. Default true.
	Enabled *bool `yaml:"enabled"`
	// SecretFile holds the secret in hex (16 bytes) on its first line and,
	// optionally, the previous secret, still accepted, on the second.
	// Empty: with the redis backend a secret kept in the store, rotated
	// every Rotate; with the memory backend a random one per process.
	SecretFile string `yaml:"secret_file"`
	// Rotate is how often the store-held secret is replaced. Default 24h.
	Rotate Duration `yaml:"rotate"`
}

// CookiesEnabled reports whether DNS cookies are on.
func (c Cookies) CookiesEnabled() bool { return c.Enabled == nil || *c.Enabled }

// ECS configures EDNS Client Subnet handling (RFC 7871).
type ECS struct {
	// MaxPrefixV4 is the longest IPv4 source prefix used. Default 24.
	MaxPrefixV4 int `yaml:"max_prefix_v4"`
	// MaxPrefixV6 is the longest IPv6 source prefix used. Default 56.
	MaxPrefixV6 int `yaml:"max_prefix_v6"`
}

// API configures the HTTP listener for metrics, health and the API.
type API struct {
	// Listen is host:port. Default "127.0.0.1:8053".
	Listen string `yaml:"listen"`
	// TokenFile holds bearer tokens for state-changing calls.
	TokenFile string `yaml:"token_file"`
	// ReadAuth makes reads of zones and services need a token too (a
	// read-only one will do). Default false: reads are open.
	ReadAuth bool `yaml:"read_auth"`
	// TLSCertFile and TLSKeyFile serve the API over HTTPS.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// MaxConnections is the most open HTTP connections; past it accept
	// waits, and the oldest idle keep-alive connection is closed to make
	// room. Default 256 (lowered at start to fit the open-file limit).
	MaxConnections int `yaml:"max_connections"`
	// ReadTimeout bounds reading one request, body included. Default 30s.
	ReadTimeout Duration `yaml:"read_timeout"`
	// WriteTimeout bounds handling and writing one response. Default 60s.
	WriteTimeout Duration `yaml:"write_timeout"`
	// IdleTimeout closes a keep-alive connection with no request for this
	// long. Default 60s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxConcurrentEdits bounds the zone and service bodies parsed and
	// validated at once (PUT, DELETE, rollback, dry runs); others wait up
	// to their deadline, then get 503. Default 4.
	MaxConcurrentEdits int `yaml:"max_concurrent_edits"`
}

// Limits bound the work one zone may cost, from the files and from the
// API alike, so that a small master file cannot expand into millions of
// records.
type Limits struct {
	// ZoneMaxRecords is the most records one zone may hold; parsing stops
	// at the first record over it. Default 1000000.
	ZoneMaxRecords int `yaml:"zone_max_records"`
	// GenerateMaxRange is the most records one $GENERATE line may produce,
	// checked before it is expanded. Default 65536 (also miekg/dns's own
	// ceiling).
	GenerateMaxRange int `yaml:"generate_max_range"`
}

// State configures where shared state lives.
type State struct {
	// Backend is "memory" (default, single node) or "redis".
	Backend string `yaml:"backend"`
	Redis   Redis  `yaml:"redis"`
	// SnapshotPath is where the last-known-good snapshot is kept on disk.
	SnapshotPath string `yaml:"snapshot_path"`
	// StaleAfter is how long health learnt from the store may be served
	// after the store went away; 0 means forever.
	StaleAfter Duration `yaml:"stale_after"`
	// StaleAction is what happens after StaleAfter: "keep" or "fail_open".
	StaleAction string `yaml:"stale_action"`
}

// Redis configures the Redis backend (go-redis UniversalClient: one address
// is standalone, several a Cluster, MasterName selects Sentinel).
type Redis struct {
	Addrs        []string `yaml:"addrs"`
	MasterName   string   `yaml:"master_name"`
	Username     string   `yaml:"username"`
	PasswordFile string   `yaml:"password_file"`
	// SentinelUsername and SentinelPasswordFile authenticate to the
	// sentinels (their own requirepass); only with master_name.
	SentinelUsername     string `yaml:"sentinel_username"`
	SentinelPasswordFile string `yaml:"sentinel_password_file"`
	DB                   int    `yaml:"db"`
	// TLS dials every Redis (and sentinel) with TLS 1.2+, verified against
	// the system roots or TLSCAFile, and the dialled host or TLSServerName.
	// TLSCertFile and TLSKeyFile present a client certificate.
	TLS           bool   `yaml:"tls"`
	TLSCAFile     string `yaml:"tls_ca_file"`
	TLSCertFile   string `yaml:"tls_cert_file"`
	TLSKeyFile    string `yaml:"tls_key_file"`
	TLSServerName string `yaml:"tls_server_name"`
	// Prefix is prepended to every key. Default "gtm".
	Prefix string `yaml:"prefix"`
}

// Geo configures client location.
type Geo struct {
	// Database is a GeoIP2/GeoLite2/DB-IP City or Country MMDB.
	Database string `yaml:"database"`
	// ASNDatabase is an optional ASN MMDB.
	ASNDatabase string `yaml:"asn_database"`
}

// Region is a location endpoints and probers live in.
type Region struct {
	Lat float64 `yaml:"lat"`
	Lon float64 `yaml:"lon"`
}

// ZoneRef names a zone and the master file it is loaded from.
type ZoneRef struct {
	Origin string `yaml:"origin"`
	// File is relative to the config file's directory.
	File string `yaml:"file"`
}

// Prober configures the in-process prober of `gtm serve` and `gtm probe`.
type Prober struct {
	// Enabled runs a prober in `gtm serve`. Default true.
	Enabled *bool `yaml:"enabled"`
	// Concurrency bounds probes in flight. Default 1000.
	Concurrency int `yaml:"concurrency"`
	// ICMP selects raw ("privileged"), "unprivileged" (UDP ping) or "auto".
	ICMP string `yaml:"icmp"`
	// ControlTargets are host:port addresses (TCP) this prober must reach to
	// trust its own vantage point; when they all fail it is impaired.
	ControlTargets []string `yaml:"control_targets"`
	// Latency configures the measured latency map.
	Latency Latency `yaml:"latency"`
}

// Latency configures the measured latency map: DNS nodes sample the
// resolvers they serve, probers measure the round trip to them.
type Latency struct {
	// Enabled turns sampling and measuring on. Default false: it sends
	// probes to third-party resolvers, which an operator must choose.
	Enabled bool `yaml:"enabled"`
	// Interval between measurement rounds. Default 5m.
	Interval Duration `yaml:"interval"`
	// Timeout of one measurement. Default 2s.
	Timeout Duration `yaml:"timeout"`
	// TopK is how many of the busiest resolver networks are kept and
	// measured. Default 10000.
	TopK int `yaml:"top_k"`
	// Concurrency bounds measurements in flight. Default 100.
	Concurrency int `yaml:"concurrency"`
	// Method is auto (ICMP, else TCP connect to port 53), icmp or tcp.
	Method string `yaml:"method"`
	// Allow lists the prefixes that may be measured. Empty: public unicast
	// only (no private, loopback, link-local or documentation ranges).
	Allow []string `yaml:"allow"`
	// SampleEvery samples one query in N. Default 16.
	SampleEvery int `yaml:"sample_every"`
	// SampleInterval is how often samples are written. Default 1m.
	SampleInterval Duration `yaml:"sample_interval"`
	// MaxAge leaves older measurements out of the map. Default 3 × interval.
	MaxAge Duration `yaml:"max_age"`
}

// ProberEnabled reports whether the in-process prober runs.
func (p Prober) ProberEnabled() bool { return p.Enabled == nil || *p.Enabled }

// Service is a traffic-managed name: a pool of endpoints answered by policy.
type Service struct {
	Name string `yaml:"name"`
	// TTL of the answers. Default 30.
	TTL uint32 `yaml:"ttl"`
	// Policy is latency | geo | failover | weighted. Default latency.
	Policy string `yaml:"policy"`
	// Answers is how many endpoints an answer holds. Default 1.
	Answers int `yaml:"answers"`
	// FailOpen answers every endpoint when all are down. Default true.
	FailOpen *bool `yaml:"fail_open"`
	// GeoRules send a country's or continent's clients to a region ahead
	// of distance (geo policy only). First match wins.
	GeoRules []GeoRule `yaml:"geo_rules"`
	// Check is how the endpoints are probed; nil means static (always up).
	Check     *Check      `yaml:"check"`
	Endpoints []*Endpoint `yaml:"endpoints"`
}

// GeoRule is one country or continent → region rule.
type GeoRule struct {
	Country   string `yaml:"country"`   // ISO 3166-1 alpha-2, e.g. DE
	Continent string `yaml:"continent"` // AF AN AS EU NA OC SA
	Region    string `yaml:"region"`
}

// FailsOpen reports whether an all-down service answers every endpoint.
func (s *Service) FailsOpen() bool { return s.FailOpen == nil || *s.FailOpen }

// Endpoint is one address of a service, in a region and availability zone.
type Endpoint struct {
	Name    string `yaml:"name"`
	Region  string `yaml:"region"`
	Zone    string `yaml:"zone"`
	Address string `yaml:"address"`
	// Weight for the weighted policy. Default 1; 0 never answers unless all
	// others are down.
	Weight *int `yaml:"weight"`
	// Priority for the failover policy: lowest wins. Default 0.
	Priority int `yaml:"priority"`

	// Addr is Address parsed; set by validation.
	Addr netip.Addr `yaml:"-"`
}

// EffectiveWeight is the endpoint's weight with its default applied.
func (e *Endpoint) EffectiveWeight() int {
	if e.Weight == nil {
		return 1
	}
	return *e.Weight
}

// Check describes how a service's endpoints are probed.
type Check struct {
	// Type is icmp | tcp | http | https.
	Type string `yaml:"type"`
	// Port to connect to (tcp, http, https). Defaults: 80 http, 443 https.
	Port int `yaml:"port"`
	// TLS turns an http check into https.
	TLS    bool   `yaml:"tls"`
	Method string `yaml:"method"`
	Path   string `yaml:"path"`
	// Host is the HTTP Host header; default the endpoint address.
	Host string `yaml:"host"`
	// SNI is the TLS server name; default Host.
	SNI string `yaml:"sni"`
	// InsecureSkipVerify disables TLS certificate verification.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// CAFile is a PEM CA bundle that verifies https endpoints instead of
	// the system roots (gateways with certificates from a private CA).
	// Relative to the config file; re-read on reload.
	CAFile string `yaml:"ca_file"`
	// Expect lists accepted status codes or ranges ("200-399"). Default 200-399.
	Expect []string `yaml:"expect"`
	// Body, when set, must appear in the response body.
	Body    string            `yaml:"body"`
	Headers map[string]string `yaml:"headers"`
	// Interval between probes. Default 5s, minimum 1s.
	Interval Duration `yaml:"interval"`
	// Timeout of one probe. Default 2s; must be below the interval.
	Timeout Duration `yaml:"timeout"`
	// Jitter spreads probes; default 10% of the interval.
	Jitter Duration `yaml:"jitter"`
	// Rise successes bring an endpoint up. Default 2.
	Rise int `yaml:"rise"`
	// Fall failures take it down. Default 3; minimum 2 at a 1s interval.
	Fall int `yaml:"fall"`
}

// Duration is a time.Duration written as "5s", "200ms" in YAML.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }
