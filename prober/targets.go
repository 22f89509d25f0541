package prober

import (
	"crypto/x509"
	"fmt"
	"net/netip"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/gtm-project/gtm/internal/certpool"

	"github.com/rs/zerolog"

	"github.com/gtm-project/gtm/health"
	"github.com/gtm-project/gtm/zones"
)

// ControlService is the Service of control-target results: health reads
// them to tell a prober that lost its own vantage point from endpoints that
// are down.
const ControlService = "_control"

// target is one thing probed: a (service, endpoint) with its check, or a
// control target.
type target struct {
	key      string // service + "/" + endpoint, as store.ProbeResult.Key
	service  string
	endpoint string
	kind     string         // icmp | tcp | http | https
	addr     string         // what is contacted: "ip:port", "host:port" or "ip" (icmp)
	ip       netip.Addr     // for icmp
	ap       netip.AddrPort // ip and port, for tcp; zero for control targets (host:port)
	check    zones.Check
	interval time.Duration
	timeout  time.Duration
	jitter   time.Duration

	http *httpProbe // prepared once for http and https

	// tracker holds the rise/fall verdict; running keeps its observations
	// in probe order (one probe of a target at a time).
	tracker *health.Tracker
	running atomic.Bool
	// removed is set when a Reload drops the target, so a probe in flight
	// does not report for an endpoint that is gone.
	removed atomic.Bool
	// caPEM is the check's ca_file as read, so that a Reload after the
	// file changed builds a new client.
	caPEM   string
	metrics atomic.Pointer[targetMetrics]

	// Owned by the scheduler goroutine.
	nominal time.Time // the unjittered tick
	due     time.Time // nominal plus this tick's jitter
	dueKey  int64     // due as the heap orders it (see scheduler.epoch)
	index   int       // in the heap; -1 when out of it
}

// sameAs reports whether t and u probe the same thing the same way, so a
// Reload may keep t's schedule and rise/fall state.
func (t *target) sameAs(u *target) bool {
	return t.kind == u.kind && t.addr == u.addr && reflect.DeepEqual(t.check, u.check) && t.caPEM == u.caPEM
}

// buildTargets lists what cfg asks to probe: every endpoint of every
// service with a check, then the control targets. Entries that cannot be
// probed are logged and skipped: one bad endpoint must not stop the rest.
func buildTargets(cfg *zones.Config, opts Options, log zerolog.Logger) []*target {
	var out []*target
	seen := map[string]bool{}
	type caFile struct {
		pool *x509.CertPool
		pem  []byte
	}
	cas := map[string]caFile{} // by path: endpoints of a check share one pool
	add := func(t *target) {
		if seen[t.key] {
			log.Error().Str("service", t.service).Str("endpoint", t.endpoint).Msg("duplicate endpoint left out")
			return
		}
		if t.kind == "http" || t.kind == "https" {
			var roots *x509.CertPool
			if t.check.CAFile != "" {
				path := cfg.Resolve(t.check.CAFile)
				ca, ok := cas[path]
				if !ok {
					var err error
					if ca.pool, ca.pem, err = certpool.Load(path); err != nil {
						log.Error().Err(err).Str("service", t.service).Str("endpoint", t.endpoint).Msg("check ca_file unreadable: endpoint left out")
						return
					}
					cas[path] = ca
				}
				roots, t.caPEM = ca.pool, string(ca.pem)
			}
			hp, err := newHTTPProbe(t, opts, roots)
			if err != nil {
				log.Error().Err(err).Str("service", t.service).Str("endpoint", t.endpoint).Msg("endpoint left out")
				return
			}
			t.http = hp
		}
		seen[t.key] = true
		out = append(out, t)
	}
	for _, s := range cfg.Services {
		if s == nil || s.Check == nil {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep == nil {
				continue
			}
			t, err := endpointTarget(s, ep)
			if err != nil {
				log.Error().Err(err).Str("service", s.Name).Str("endpoint", ep.Name).Msg("endpoint left out")
				continue
			}
			add(t)
		}
	}
	for _, ct := range cfg.Prober.ControlTargets {
		add(controlTarget(ct))
	}
	return out
}

// endpointTarget builds the target for one endpoint of a checked service.
func endpointTarget(s *zones.Service, ep *zones.Endpoint) (*target, error) {
	ch := *s.Check
	applyCheckDefaults(&ch)
	ip := ep.Addr
	if !ip.IsValid() {
		a, err := netip.ParseAddr(ep.Address)
		if err != nil {
			return nil, fmt.Errorf("address %q: %w", ep.Address, err)
		}
		ip = a
	}
	ip = ip.Unmap()
	t := &target{
		key:      s.Name + "/" + ep.Name,
		service:  s.Name,
		endpoint: ep.Name,
		kind:     ch.Type,
		ip:       ip,
		check:    ch,
		index:    -1,
	}
	switch ch.Type {
	case "icmp":
		t.addr = ip.String()
	case "tcp", "http", "https":
		if ch.Port < 1 || ch.Port > 65535 {
			return nil, fmt.Errorf("check port %d is outside 1..65535", ch.Port)
		}
		t.ap = netip.AddrPortFrom(ip, uint16(ch.Port))
		t.addr = t.ap.String()
	default:
		return nil, fmt.Errorf("unknown check type %q", ch.Type)
	}
	t.setTiming()
	return t, nil
}

// controlTarget builds the TCP target for a prober.control_targets entry,
// probed with the default interval, timeout and thresholds.
func controlTarget(hostport string) *target {
	ch := zones.Check{Type: "tcp"}
	applyCheckDefaults(&ch)
	t := &target{
		key:      ControlService + "/" + hostport,
		service:  ControlService,
		endpoint: hostport,
		kind:     "tcp",
		addr:     hostport,
		check:    ch,
		index:    -1,
	}
	t.setTiming()
	return t
}

func (t *target) setTiming() {
	t.interval = t.check.Interval.D()
	t.timeout = t.check.Timeout.D()
	t.jitter = t.check.Jitter.D()
	t.tracker = newTracker(t.check.Rise, t.check.Fall)
}

// applyCheckDefaults fills what zones.Config.ApplyDefaults would, so a
// config built in code without it still probes sensibly.
func applyCheckDefaults(ch *zones.Check) {
	if ch.Type == "http" && ch.TLS {
		ch.Type = "https"
	}
	if ch.Port == 0 {
		switch ch.Type {
		case "http":
			ch.Port = 80
		case "https":
			ch.Port = 443
		}
	}
	if ch.Type == "http" || ch.Type == "https" {
		if ch.Method == "" {
			ch.Method = "GET"
		}
		if ch.Path == "" {
			ch.Path = "/"
		}
		if len(ch.Expect) == 0 {
			ch.Expect = []string{"200-399"}
		}
	}
	if ch.Interval <= 0 {
		ch.Interval = zones.Duration(zones.DefaultInterval)
	}
	if ch.Timeout <= 0 {
		ch.Timeout = zones.Duration(min(zones.DefaultTimeout, ch.Interval.D()*8/10))
	}
	if ch.Jitter <= 0 {
		ch.Jitter = ch.Interval / 10
	}
	if ch.Rise <= 0 {
		ch.Rise = zones.DefaultRise
	}
	if ch.Fall <= 0 {
		ch.Fall = zones.DefaultFall
	}
}
