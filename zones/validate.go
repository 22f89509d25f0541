package zones

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gtm-project/gtm/internal/certpool"

	"github.com/miekg/dns"
)

// Policies a service may use.
var Policies = []string{"latency", "geo", "failover", "weighted"}

// CheckTypes a service check may use.
var CheckTypes = []string{"icmp", "tcp", "http", "https"}

// maxTTL is RFC 2181 §8: a TTL is 31 bits.
const maxTTL = 1<<31 - 1

// Validate checks everything that can be checked without reading zone
// files. It returns every problem, each at its line.
func (c *Config) Validate() ErrorList {
	var errs ErrorList
	add := func(path, format string, args ...any) { errs = append(errs, c.errAt(path, format, args...)) }

	for _, name := range c.RegionOrder() { // written order: errors come out the same every run
		r := c.Regions[name]
		p := "regions." + name
		if r.Lat < -90 || r.Lat > 90 {
			add(p+".lat", "latitude %v is outside -90..90", r.Lat)
		}
		if r.Lon < -180 || r.Lon > 180 {
			add(p+".lon", "longitude %v is outside -180..180", r.Lon)
		}
	}
	if c.Node.Region != "" {
		if _, ok := c.Regions[c.Node.Region]; !ok {
			add("node.region", "unknown region %q (not under regions:)", c.Node.Region)
		}
	}
	for i, l := range c.DNS.Listen {
		if err := checkHostPort(l); err != nil {
			add(fmt.Sprintf("dns.listen[%d]", i), "%v", err)
		}
	}
	if c.DNS.UDPSize < 512 || c.DNS.UDPSize > 65535 {
		add("dns.udp_size", "%d is outside 512..65535", c.DNS.UDPSize)
	}
	if c.DNS.Workers < 1 || c.DNS.Workers > 256 {
		add("dns.workers", "%d is outside 1..256", c.DNS.Workers)
	}
	if v := c.DNS.ECS.MaxPrefixV4; v < 0 || v > 32 {
		add("dns.ecs.max_prefix_v4", "%d is outside 0..32", v)
	}
	if v := c.DNS.ECS.MaxPrefixV6; v < 0 || v > 128 {
		add("dns.ecs.max_prefix_v6", "%d is outside 0..128", v)
	}
	{
		r := c.DNS.RRL
		if r.Rate < 0 || r.Rate > 1000000 {
			add("dns.rrl.rate", "%d is outside 0..1000000 (0: off)", r.Rate)
		}
		if r.Slip != nil && (*r.Slip < 0 || *r.Slip > 10) {
			add("dns.rrl.slip", "%d is outside 0..10", *r.Slip)
		}
		if w := time.Duration(r.Window); w < time.Second || w > time.Hour {
			add("dns.rrl.window", "%s is outside 1s..1h", r.Window)
		}
		if r.IPv4Prefix < 0 || r.IPv4Prefix > 32 {
			add("dns.rrl.ipv4_prefix", "%d is outside 0..32", r.IPv4Prefix)
		}
		if r.IPv6Prefix < 0 || r.IPv6Prefix > 128 {
			add("dns.rrl.ipv6_prefix", "%d is outside 0..128", r.IPv6Prefix)
		}
		if r.TableSize < 1024 || r.TableSize > 1<<24 {
			add("dns.rrl.table_size", "%d is outside 1024..16777216", r.TableSize)
		}
		if len(r.Exempt) > 1000 {
			add("dns.rrl.exempt", "%d networks: at most 1000", len(r.Exempt))
		}
		for i, e := range r.Exempt {
			if _, err := netip.ParsePrefix(strings.TrimSpace(e)); err != nil {
				add(fmt.Sprintf("dns.rrl.exempt[%d]", i), "%q is not a prefix such as 192.0.2.0/24", e)
			}
		}
	}
	if ck := c.DNS.Cookies; ck.CookiesEnabled() {
		if ck.SecretFile != "" {
			if _, _, err := LoadCookieSecrets(c.Resolve(ck.SecretFile)); err != nil {
				add("dns.cookies.secret_file", "%v", err)
			}
		}
		if time.Duration(ck.Rotate) < time.Hour {
			add("dns.cookies.rotate", "%s is below the 1h minimum (a cookie lives an hour)", ck.Rotate)
		}
	}
	if v := c.DNS.TCP.MaxConnections; v < 1 || v > 1000000 {
		add("dns.tcp.max_connections", "%d is outside 1..1000000", v)
	} else if v := c.DNS.TCP.MaxPerClient; v < 1 || v > c.DNS.TCP.MaxConnections {
		add("dns.tcp.max_per_client", "%d is outside 1..max_connections (%d)", v, c.DNS.TCP.MaxConnections)
	}
	if v := c.DNS.TCP.IdleTimeout.D(); v < time.Second || v > 10*time.Minute {
		add("dns.tcp.idle_timeout", "%s is outside 1s..10m", c.DNS.TCP.IdleTimeout)
	}
	if err := checkHostPort(c.API.Listen); err != nil {
		add("api.listen", "%v", err)
	}
	if (c.API.TLSCertFile == "") != (c.API.TLSKeyFile == "") {
		add("api.tls_cert_file", "HTTPS needs both tls_cert_file and tls_key_file")
	}
	if v := c.API.MaxConnections; v < 1 || v > 100000 {
		add("api.max_connections", "%d is outside 1..100000", v)
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{{"api.read_timeout", c.API.ReadTimeout}, {"api.write_timeout", c.API.WriteTimeout}, {"api.idle_timeout", c.API.IdleTimeout}} {
		if d.v.D() < time.Second || d.v.D() > time.Hour {
			add(d.key, "%s is outside 1s..1h", d.v)
		}
	}
	if v := c.API.MaxConcurrentEdits; v < 1 || v > 1024 {
		add("api.max_concurrent_edits", "%d is outside 1..1024", v)
	}
	if v := c.Limits.ZoneMaxRecords; v < 1 || v > 100000000 {
		add("limits.zone_max_records", "%d is outside 1..100000000", v)
	}
	if v := c.Limits.GenerateMaxRange; v < 1 || v > DefaultGenerateMaxRange {
		add("limits.generate_max_range", "%d is outside 1..%d", v, DefaultGenerateMaxRange)
	}
	switch c.State.Backend {
	case "memory":
	case "redis":
		if len(c.State.Redis.Addrs) == 0 {
			add("state.redis.addrs", "the redis backend needs at least one address")
		}
		for i, a := range c.State.Redis.Addrs {
			if err := checkHostPort(a); err != nil {
				add(fmt.Sprintf("state.redis.addrs[%d]", i), "%v", err)
			}
		}
		r := c.State.Redis
		if r.MasterName == "" {
			if r.SentinelUsername != "" {
				add("state.redis.sentinel_username", "sentinel credentials need master_name (Sentinel)")
			}
			if r.SentinelPasswordFile != "" {
				add("state.redis.sentinel_password_file", "sentinel credentials need master_name (Sentinel)")
			}
		}
		if !r.TLS {
			for _, k := range []struct{ key, v string }{
				{"tls_ca_file", r.TLSCAFile}, {"tls_cert_file", r.TLSCertFile},
				{"tls_key_file", r.TLSKeyFile}, {"tls_server_name", r.TLSServerName},
			} {
				if k.v != "" {
					add("state.redis."+k.key, "set, but state.redis.tls is false: add tls: true")
				}
			}
		}
		if (r.TLSCertFile == "") != (r.TLSKeyFile == "") {
			add("state.redis.tls_cert_file", "a client certificate needs both tls_cert_file and tls_key_file")
		}
	default:
		add("state.backend", "unknown backend %q: want memory or redis", c.State.Backend)
	}
	switch c.State.StaleAction {
	case "keep", "fail_open":
	default:
		add("state.stale_action", "unknown action %q: want keep or fail_open", c.State.StaleAction)
	}
	switch c.Prober.ICMP {
	case "auto", "privileged", "unprivileged":
	default:
		add("prober.icmp", "unknown mode %q: want auto, privileged or unprivileged", c.Prober.ICMP)
	}
	if c.Prober.Concurrency < 1 {
		add("prober.concurrency", "must be at least 1")
	}
	if l := c.Prober.Latency; l.Enabled {
		switch l.Method {
		case "auto", "icmp", "tcp":
		default:
			add("prober.latency.method", "unknown method %q: want auto, icmp or tcp", l.Method)
		}
		if l.Interval.D() < 10*time.Second {
			add("prober.latency.interval", "%s is below the 10s minimum", l.Interval)
		}
		if l.Timeout <= 0 || l.Timeout >= l.Interval {
			add("prober.latency.timeout", "%s must be above 0 and below the interval (%s)", l.Timeout, l.Interval)
		}
		if l.TopK < 1 || l.TopK > 1000000 {
			add("prober.latency.top_k", "%d is outside 1..1000000", l.TopK)
		}
		if l.SampleEvery < 1 {
			add("prober.latency.sample_every", "must be at least 1")
		}
		for i, a := range l.Allow {
			if _, err := netip.ParsePrefix(strings.TrimSpace(a)); err != nil {
				add(fmt.Sprintf("prober.latency.allow[%d]", i), "%q is not a prefix such as 192.0.2.0/24", a)
			}
		}
	}
	for i, t := range c.Prober.ControlTargets {
		if err := checkHostPort(t); err != nil {
			add(fmt.Sprintf("prober.control_targets[%d]", i), "%v", err)
		}
	}

	origins := map[string]int{}
	for i, z := range c.Zones {
		p := fmt.Sprintf("zones[%d]", i)
		if z.Origin == "." || z.Origin == "" {
			add(p+".origin", "a zone needs an origin such as example.com.")
		} else if _, ok := dns.IsDomainName(z.Origin); !ok {
			add(p+".origin", "%q is not a domain name", z.Origin)
		}
		if j, dup := origins[z.Origin]; dup {
			add(p+".origin", "zone %s is already defined at zones[%d]", z.Origin, j)
		}
		origins[z.Origin] = i
		if z.File == "" {
			add(p+".file", "a zone needs a master file")
		}
	}

	names := map[string]int{}
	for i, s := range c.Services {
		p := fmt.Sprintf("services[%d]", i)
		if s == nil {
			add(p, "empty service")
			continue
		}
		errs = append(errs, c.validateService(p, s)...)
		if j, dup := names[s.Name]; dup && s.Name != "" {
			add(p+".name", "service %s is already defined at services[%d]", s.Name, j)
		}
		names[s.Name] = i
	}
	return errs
}

func (c *Config) validateService(p string, s *Service) ErrorList {
	var errs ErrorList
	add := func(path, format string, args ...any) { errs = append(errs, c.errAt(path, format, args...)) }
	if s.Name == "" || s.Name == "." {
		add(p+".name", "a service needs a name such as api.example.com.")
	} else if _, ok := dns.IsDomainName(s.Name); !ok {
		add(p+".name", "%q is not a domain name", s.Name)
	}
	if s.TTL > maxTTL {
		add(p+".ttl", "%d is above the largest TTL, %d (RFC 2181)", s.TTL, maxTTL)
	}
	if !contains(Policies, s.Policy) {
		add(p+".policy", "unknown policy %q: want one of %s", s.Policy, strings.Join(Policies, ", "))
	}
	if s.Answers < 1 || s.Answers > 32 {
		add(p+".answers", "%d is outside 1..32", s.Answers)
	}
	if s.Check != nil {
		errs = append(errs, c.validateCheck(p+".check", s.Check)...)
	}
	for i, r := range s.GeoRules {
		rp := fmt.Sprintf("%s.geo_rules[%d]", p, i)
		if s.Policy != "geo" {
			add(rp, "geo_rules apply to the geo policy only (this service uses %s)", s.Policy)
		}
		if (r.Country == "") == (r.Continent == "") {
			add(rp, "a rule needs a country or a continent (one of them)")
		}
		if r.Country != "" && (len(r.Country) != 2 || strings.ToUpper(r.Country) != r.Country) {
			add(rp+".country", "%q is not an ISO 3166-1 alpha-2 code such as DE", r.Country)
		}
		if r.Continent != "" && !contains([]string{"AF", "AN", "AS", "EU", "NA", "OC", "SA"}, r.Continent) {
			add(rp+".continent", "%q is not one of AF AN AS EU NA OC SA", r.Continent)
		}
		if _, ok := c.Regions[r.Region]; !ok {
			add(rp+".region", "unknown region %q (not under regions:)", r.Region)
		}
	}
	if len(s.Endpoints) == 0 {
		add(p+".endpoints", "a service needs at least one endpoint")
	}
	seen := map[string]int{}
	for j, e := range s.Endpoints {
		ep := fmt.Sprintf("%s.endpoints[%d]", p, j)
		if e == nil {
			add(ep, "empty endpoint")
			continue
		}
		if e.Name == "" {
			add(ep+".name", "an endpoint needs a name")
		} else if strings.ContainsAny(e.Name, "/ \t") {
			add(ep+".name", "%q: names may not hold '/' or spaces", e.Name)
		} else if k, dup := seen[e.Name]; dup {
			add(ep+".name", "duplicate endpoint name %q (also at endpoints[%d])", e.Name, k)
		}
		seen[e.Name] = j
		if e.Address == "" {
			add(ep+".address", "an endpoint needs an address")
		} else if a, err := netip.ParseAddr(e.Address); err != nil {
			add(ep+".address", "%q is not an IP address", e.Address)
		} else if a.Zone() != "" {
			add(ep+".address", "%q: an IPv6 zone cannot be answered in DNS", e.Address)
		} else {
			e.Addr = a.Unmap()
		}
		if e.Region == "" {
			add(ep+".region", "an endpoint needs a region")
		} else if _, ok := c.Regions[e.Region]; !ok {
			add(ep+".region", "unknown region %q (not under regions:)", e.Region)
		}
		if w := e.EffectiveWeight(); w < 0 || w > 1000000 {
			add(ep+".weight", "%d is outside 0..1000000", w)
		}
		if e.Priority < 0 {
			add(ep+".priority", "%d is negative", e.Priority)
		}
	}
	return errs
}

func (c *Config) validateCheck(p string, ch *Check) ErrorList {
	var errs ErrorList
	add := func(path, format string, args ...any) { errs = append(errs, c.errAt(path, format, args...)) }
	if !contains(CheckTypes, ch.Type) {
		add(p+".type", "unknown check type %q: want one of %s", ch.Type, strings.Join(CheckTypes, ", "))
	}
	if ch.Type != "icmp" && (ch.Port < 1 || ch.Port > 65535) {
		add(p+".port", "%d is outside 1..65535", ch.Port)
	}
	if ch.Interval.D() < MinInterval {
		// Below 1s a prober fleet's load grows faster than detection improves.
		add(p+".interval", "%s is below the %s minimum", ch.Interval, MinInterval)
	}
	if ch.Timeout <= 0 || ch.Timeout >= ch.Interval {
		add(p+".timeout", "%s must be above 0 and below the interval (%s)", ch.Timeout, ch.Interval)
	}
	if ch.Jitter > ch.Interval/2 {
		add(p+".jitter", "%s is more than half the interval (%s)", ch.Jitter, ch.Interval)
	}
	if ch.Rise < 1 || ch.Rise > 100 {
		add(p+".rise", "%d is outside 1..100", ch.Rise)
	}
	if ch.Fall < 1 || ch.Fall > 100 {
		add(p+".fall", "%d is outside 1..100", ch.Fall)
	}
	if ch.Interval.D() < 2*time.Second && ch.Fall < 2 {
		// One lost packet must not fail over a region.
		add(p+".fall", "at an interval of %s, fall must be at least 2", ch.Interval)
	}
	if ch.Type == "http" || ch.Type == "https" {
		if !strings.HasPrefix(ch.Path, "/") {
			add(p+".path", "%q must start with /", ch.Path)
		}
		for i, x := range ch.Expect {
			if _, _, err := ParseStatusRange(x); err != nil {
				add(fmt.Sprintf("%s.expect[%d]", p, i), "%v", err)
			}
		}
	}
	if ch.CAFile != "" {
		if ch.Type != "https" {
			add(p+".ca_file", "applies to https checks only (type: https, or type: http with tls: true)")
		} else if _, _, err := certpool.Load(c.Resolve(ch.CAFile)); err != nil {
			add(p+".ca_file", "%v", err)
		}
	}
	return errs
}

// ParseStatusRange reads "200" or "200-299".
func ParseStatusRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(strings.TrimSpace(s), "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi = lo
	var err2 error
	if isRange {
		hi, err2 = strconv.Atoi(strings.TrimSpace(b))
	}
	if err1 != nil || err2 != nil || lo < 100 || hi > 599 || lo > hi {
		return 0, 0, fmt.Errorf("%q is not a status code or range such as 200-299", s)
	}
	return lo, hi, nil
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: bad port %q", s, port)
	}
	_ = host
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// canonical lower-cases a name and makes it fully qualified.
func canonical(name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		return ""
	}
	return strings.ToLower(dns.Fqdn(name))
}
