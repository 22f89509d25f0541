package zones

import (
	"os"
	"runtime"
	"time"
)

// Defaults for durations and thresholds. Route 53 and Azure Traffic Manager
// cannot probe faster than every 10s; 5s with fall 3 notices a dead endpoint
// in about 15s, and 1s with fall 2 in about 2s where that matters.
const (
	DefaultUDPSize       = 1232 // DNS flag day 2020: fits every path MTU seen in practice
	DefaultTTL           = 30
	DefaultInterval      = 5 * time.Second
	DefaultTimeout       = 2 * time.Second
	DefaultRise          = 2
	DefaultFall          = 3
	MinInterval          = time.Second
	DefaultConcurrency   = 1000
	DefaultAPIListen     = "127.0.0.1:8053"
	DefaultDNSListen     = ":53"
	DefaultECSMaxV4      = 24
	DefaultECSMaxV6      = 56
	DefaultPolicy        = "latency"
	DefaultRedisPrefix   = "gtm"
	DefaultStaleAction   = "keep"
	DefaultStateBackend  = "memory"
	DefaultICMPMode      = "auto"
	DefaultServiceAnswer = 1
	DefaultRRLSlip       = 2
	DefaultRRLWindow     = 15 * time.Second
	DefaultRRLV4Prefix   = 24
	DefaultRRLV6Prefix   = 56
	DefaultRRLTableSize  = 65536
	DefaultCookieRotate  = 24 * time.Hour

	DefaultDNSTCPMaxConnections = 1000
	DefaultDNSTCPMaxPerClient   = 10
	DefaultDNSTCPIdleTimeout    = 10 * time.Second // RFC 7766 §6.2.3
	DefaultAPIMaxConnections    = 256
	DefaultAPIReadTimeout       = 30 * time.Second // a 16 MiB edit over a slow link
	DefaultAPIWriteTimeout      = 60 * time.Second
	DefaultAPIIdleTimeout       = 60 * time.Second

	// DefaultZoneMaxRecords is limits.zone_max_records: a million records
	// is about 200 MB parsed, far above any zone served here.
	DefaultZoneMaxRecords = 1000000
	// DefaultGenerateMaxRange is limits.generate_max_range.
	DefaultGenerateMaxRange = 65536
	// DefaultMaxConcurrentEdits is api.max_concurrent_edits.
	DefaultMaxConcurrentEdits = 4
)

// ApplyDefaults fills every unset key with its documented default.
func (c *Config) ApplyDefaults() {
	if c.Node.ID == "" {
		c.Node.ID, _ = os.Hostname()
		if c.Node.ID == "" {
			c.Node.ID = "gtm"
		}
	}
	if len(c.DNS.Listen) == 0 {
		c.DNS.Listen = []string{DefaultDNSListen}
	}
	if c.DNS.NSID == "" {
		c.DNS.NSID = c.Node.ID
	}
	if c.DNS.UDPSize == 0 {
		c.DNS.UDPSize = DefaultUDPSize
	}
	if c.DNS.Workers == 0 {
		c.DNS.Workers = runtime.GOMAXPROCS(0)
	}
	if c.DNS.ECS.MaxPrefixV4 == 0 {
		c.DNS.ECS.MaxPrefixV4 = DefaultECSMaxV4
	}
	if c.DNS.ECS.MaxPrefixV6 == 0 {
		c.DNS.ECS.MaxPrefixV6 = DefaultECSMaxV6
	}
	{
		r := &c.DNS.RRL
		if r.Slip == nil {
			slip := DefaultRRLSlip
			r.Slip = &slip
		}
		if r.Window == 0 {
			r.Window = Duration(DefaultRRLWindow)
		}
		if r.IPv4Prefix == 0 {
			r.IPv4Prefix = DefaultRRLV4Prefix
		}
		if r.IPv6Prefix == 0 {
			r.IPv6Prefix = DefaultRRLV6Prefix
		}
		if r.TableSize == 0 {
			r.TableSize = DefaultRRLTableSize
		}
	}
	if c.DNS.Cookies.Rotate == 0 {
		c.DNS.Cookies.Rotate = Duration(DefaultCookieRotate)
	}
	if c.DNS.TCP.MaxConnections == 0 {
		c.DNS.TCP.MaxConnections = DefaultDNSTCPMaxConnections
	}
	if c.DNS.TCP.MaxPerClient == 0 {
		c.DNS.TCP.MaxPerClient = DefaultDNSTCPMaxPerClient
	}
	if c.DNS.TCP.IdleTimeout == 0 {
		c.DNS.TCP.IdleTimeout = Duration(DefaultDNSTCPIdleTimeout)
	}
	if c.API.Listen == "" {
		c.API.Listen = DefaultAPIListen
	}
	if c.API.MaxConnections == 0 {
		c.API.MaxConnections = DefaultAPIMaxConnections
	}
	if c.API.ReadTimeout == 0 {
		c.API.ReadTimeout = Duration(DefaultAPIReadTimeout)
	}
	if c.API.WriteTimeout == 0 {
		c.API.WriteTimeout = Duration(DefaultAPIWriteTimeout)
	}
	if c.API.IdleTimeout == 0 {
		c.API.IdleTimeout = Duration(DefaultAPIIdleTimeout)
	}
	if c.API.MaxConcurrentEdits == 0 {
		c.API.MaxConcurrentEdits = DefaultMaxConcurrentEdits
	}
	c.Limits = c.Limits.withDefaults()
	if c.State.Backend == "" {
		c.State.Backend = DefaultStateBackend
	}
	if c.State.StaleAction == "" {
		c.State.StaleAction = DefaultStaleAction
	}
	if c.State.Redis.Prefix == "" {
		c.State.Redis.Prefix = DefaultRedisPrefix
	}
	if c.Prober.Concurrency == 0 {
		c.Prober.Concurrency = DefaultConcurrency
	}
	if c.Prober.ICMP == "" {
		c.Prober.ICMP = DefaultICMPMode
	}
	l := &c.Prober.Latency
	if l.Interval == 0 {
		l.Interval = Duration(5 * time.Minute)
	}
	if l.Timeout == 0 {
		l.Timeout = Duration(2 * time.Second)
	}
	if l.TopK == 0 {
		l.TopK = 10000
	}
	if l.Concurrency == 0 {
		l.Concurrency = 100
	}
	if l.Method == "" {
		l.Method = "auto"
	}
	if l.SampleEvery == 0 {
		l.SampleEvery = 16
	}
	if l.SampleInterval == 0 {
		l.SampleInterval = Duration(time.Minute)
	}
	if l.MaxAge == 0 {
		l.MaxAge = 3 * l.Interval
	}
	for _, s := range c.Services {
		if s == nil {
			continue
		}
		s.Name = canonical(s.Name)
		if s.TTL == 0 {
			s.TTL = DefaultTTL
		}
		if s.Policy == "" {
			s.Policy = DefaultPolicy
		}
		if s.Answers == 0 {
			s.Answers = DefaultServiceAnswer
		}
		if s.Check != nil {
			s.Check.applyDefaults()
		}
	}
	for i := range c.Zones {
		c.Zones[i].Origin = canonical(c.Zones[i].Origin)
	}
}

func (ch *Check) applyDefaults() {
	if ch.Type == "http" && ch.TLS {
		ch.Type = "https"
	}
	if ch.Type == "https" {
		ch.TLS = true
	}
	if ch.Port == 0 {
		switch ch.Type {
		case "http":
			ch.Port = 80
		case "https":
			ch.Port = 443
		}
	}
	if ch.Method == "" && (ch.Type == "http" || ch.Type == "https") {
		ch.Method = "GET"
	}
	if ch.Path == "" && (ch.Type == "http" || ch.Type == "https") {
		ch.Path = "/"
	}
	if len(ch.Expect) == 0 && (ch.Type == "http" || ch.Type == "https") {
		ch.Expect = []string{"200-399"}
	}
	if ch.Interval == 0 {
		ch.Interval = Duration(DefaultInterval)
	}
	if ch.Timeout == 0 {
		ch.Timeout = Duration(DefaultTimeout)
		if ch.Timeout >= ch.Interval {
			ch.Timeout = ch.Interval * 8 / 10
		}
	}
	if ch.Jitter == 0 {
		ch.Jitter = ch.Interval / 10
	}
	if ch.Rise == 0 {
		ch.Rise = DefaultRise
	}
	if ch.Fall == 0 {
		ch.Fall = DefaultFall
	}
}

// withDefaults fills unset limits; a Config built without ApplyDefaults
// (tests, API overlays of such a base) still gets bounded parsing.
func (l Limits) withDefaults() Limits {
	if l.ZoneMaxRecords == 0 {
		l.ZoneMaxRecords = DefaultZoneMaxRecords
	}
	if l.GenerateMaxRange == 0 {
		l.GenerateMaxRange = DefaultGenerateMaxRange
	}
	return l
}
