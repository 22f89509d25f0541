package prober

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/gtm-project/gtm/store"
)

// Latency prober defaults (config prober.latency).
const (
	DefaultLatencyInterval    = 5 * time.Minute
	DefaultLatencyTimeout     = 2 * time.Second
	DefaultLatencyTopK        = 10000
	DefaultLatencyConcurrency = 100
	DefaultLatencyTCPPort     = 53
)

// Latency measurement methods (LatencyOptions.Method).
const (
	LatencyAuto = "auto" // ICMP where it works, else a TCP connect to the resolver port
	LatencyICMP = "icmp"
	LatencyTCP  = "tcp"
)

// LatencySource lists the resolver networks the DNS nodes sampled;
// store.Store satisfies it.
type LatencySource interface {
	ResolverSamples(ctx context.Context) ([]store.ResolverSample, error)
}

// LatencySink receives measured round trips; store.Store satisfies it.
type LatencySink interface {
	PutLatency(ctx context.Context, rs []store.LatencyResult) error
}

// LatencyOptions configure a LatencyProber. Zero values are documented
// defaults, except Source and Sink, which are required.
type LatencyOptions struct {
	Source LatencySource
	Sink   LatencySink
	// Interval between rounds. Default 5m: resolver latency moves with
	// routing changes, over hours, not seconds.
	Interval time.Duration
	// Timeout of one measurement. Default 2s.
	Timeout time.Duration
	// TopK is how many of the busiest networks a round measures. Default
	// 10,000.
	TopK int
	// Concurrency bounds measurements in flight. Default 100.
	Concurrency int
	// Allow says which addresses may be measured; the zero value allows
	// public unicast only (see AllowList).
	Allow AllowList
	// Method is auto (default), icmp or tcp.
	Method string
	// TCPPort is what a TCP measurement connects to. Default 53: a
	// resolver's DNS port, which answers (or resets) where ICMP is
	// filtered. A refused connection still measures the round trip.
	TCPPort uint16
	// TTL is how long the store keeps a result. Default 3 × Interval, so
	// one lost round does not empty the map.
	TTL        time.Duration
	Logger     zerolog.Logger
	Registerer prometheus.Registerer
}

// LatencyProber measures the round trip from this region to the resolver
// networks the DNS nodes sampled, with the Prober's own ICMP and TCP
// probes, and stores the results for the latency map. Only addresses a
// DNS node saw as a query's source are measured (the samples hold
// nothing else: never an ECS address), and only those Allow allows.
type LatencyProber struct {
	p    *Prober
	opts LatencyOptions
	log  zerolog.Logger

	// icmpDown remembers, per family, that ICMP cannot be used in this
	// process, so a round does not try it 10,000 times.
	icmpMu   sync.Mutex
	icmpDown [2]bool

	probes  *prometheus.CounterVec
	skipped *prometheus.CounterVec
	nets    prometheus.Gauge
	round   prometheus.Gauge
}

// Latency returns a LatencyProber measuring with p's probes and stamping
// results with p's region and id (following Reload). It starts nothing;
// call Run.
func (p *Prober) Latency(opts LatencyOptions) (*LatencyProber, error) {
	if opts.Source == nil || opts.Sink == nil {
		return nil, errors.New("prober: LatencyOptions.Source and Sink are required")
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultLatencyInterval
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultLatencyTimeout
	}
	if opts.TopK <= 0 {
		opts.TopK = DefaultLatencyTopK
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultLatencyConcurrency
	}
	if opts.TCPPort == 0 {
		opts.TCPPort = DefaultLatencyTCPPort
	}
	if opts.TTL <= 0 {
		opts.TTL = 3 * opts.Interval
	}
	switch opts.Method {
	case "":
		opts.Method = LatencyAuto
	case LatencyAuto, LatencyICMP, LatencyTCP:
	default:
		return nil, fmt.Errorf("prober.latency.method: unknown %q: want auto, icmp or tcp", opts.Method)
	}
	lp := &LatencyProber{
		p: p, opts: opts, log: opts.Logger.With().Str("component", "latency-prober").Logger(),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gtm_latency_probes_total",
			Help: "Round-trip measurements of resolver networks, by method and result (ok or fail).",
		}, []string{"method", "result"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gtm_latency_skipped_total",
			Help: "Sampled resolver networks not measured: reason not_allowed (outside prober.latency.allow) or invalid (address outside its network).",
		}, []string{"reason"}),
		nets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gtm_latency_networks",
			Help: "Resolver networks measured in the last round.",
		}),
		round: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gtm_latency_round_seconds",
			Help: "How long the last measurement round took.",
		}),
	}
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{lp.probes, lp.skipped, lp.nets, lp.round} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("prober: latency metrics: %w", err)
			}
		}
	}
	return lp, nil
}

// Run measures a round at once and then every Interval until ctx ends.
func (lp *LatencyProber) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := lp.Round(ctx); err != nil && ctx.Err() == nil {
			lp.log.Warn().Err(err).Msg("latency round failed")
		}
		t.Reset(lp.opts.Interval)
	}
}

// target is one resolver network to measure and the address to measure.
type latencyTarget struct {
	prefix netip.Prefix
	addr   netip.Addr
	count  uint64
}

// targets merges the samples of every DNS node per network and returns
// the TopK busiest that may be measured, busiest first. Each network is
// measured at the address its busiest sample saw.
func (lp *LatencyProber) targets(samples []store.ResolverSample) []latencyTarget {
	type agg struct {
		latencyTarget
		best uint64 // count of the sample whose address is kept
	}
	by := map[netip.Prefix]*agg{}
	for _, s := range samples {
		p, a := s.Prefix.Masked(), s.Addr.Unmap()
		if !p.IsValid() || !p.Contains(a) {
			lp.skipped.WithLabelValues("invalid").Inc()
			continue
		}
		g, ok := by[p]
		if !ok {
			g = &agg{latencyTarget: latencyTarget{prefix: p}}
			by[p] = g
		}
		g.count += s.Count
		if !g.addr.IsValid() || s.Count > g.best || (s.Count == g.best && a.Less(g.addr)) {
			g.addr, g.best = a, s.Count
		}
	}
	out := make([]latencyTarget, 0, len(by))
	for _, g := range by {
		if !lp.opts.Allow.Allows(g.addr) {
			lp.skipped.WithLabelValues("not_allowed").Inc()
			continue
		}
		out = append(out, g.latencyTarget)
	}
	slices.SortFunc(out, func(a, b latencyTarget) int {
		return cmp.Or(cmp.Compare(b.count, a.count), a.prefix.Addr().Compare(b.prefix.Addr()))
	})
	return out[:min(len(out), lp.opts.TopK)]
}

// Round reads the samples, measures the busiest networks and writes the
// results.
func (lp *LatencyProber) Round(ctx context.Context) error {
	start := time.Now()
	samples, err := lp.opts.Source.ResolverSamples(ctx)
	if err != nil {
		return fmt.Errorf("reading resolver samples: %w", err)
	}
	targets := lp.targets(samples)
	results := make([]store.LatencyResult, 0, len(targets))
	var mu sync.Mutex
	jobs := make(chan latencyTarget)
	var wg sync.WaitGroup
	for range min(lp.opts.Concurrency, len(targets)) {
		wg.Go(func() {
			for t := range jobs {
				if r, ok := lp.measure(ctx, t); ok {
					mu.Lock()
					results = append(results, r)
					mu.Unlock()
				}
			}
		})
	}
send:
	for _, t := range targets {
		select {
		case jobs <- t:
		case <-ctx.Done():
			break send
		}
	}
	close(jobs)
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	lp.nets.Set(float64(len(results)))
	lp.round.Set(time.Since(start).Seconds())
	if len(results) == 0 {
		return nil
	}
	if err := lp.opts.Sink.PutLatency(ctx, results); err != nil {
		return fmt.Errorf("writing %d latency results: %w", len(results), err)
	}
	lp.log.Debug().Int("networks", len(results)).Int("targets", len(targets)).Dur("took", time.Since(start)).Msg("latency round")
	return nil
}

// measure takes one round trip to t.addr: ICMP echo where the method and
// the process allow, else a TCP connect to TCPPort, where a refusal (the
// host's RST) measures the round trip as well as an accept.
func (lp *LatencyProber) measure(ctx context.Context, t latencyTarget) (store.LatencyResult, bool) {
	if !lp.opts.Allow.Allows(t.addr) { // checked again right before any packet leaves
		return store.LatencyResult{}, false
	}
	fam := famIndex(t.addr)
	method, rtt, ok := "", time.Duration(0), false
	if lp.opts.Method != LatencyTCP && !lp.icmpUnavailable(fam) {
		method = LatencyICMP
		pctx, cancel := context.WithTimeout(ctx, lp.opts.Timeout)
		o := lp.p.probeICMP(pctx, &target{kind: "icmp", ip: t.addr, addr: t.addr.String(), timeout: lp.opts.Timeout})
		cancel()
		ok, rtt = o.ok, o.rtt
		if errors.Is(o.err, ErrICMPUnavailable) {
			lp.setICMPUnavailable(fam)
		}
		lp.count(method, ok)
	}
	if !ok && lp.opts.Method != LatencyICMP && ctx.Err() == nil {
		method = LatencyTCP
		ap := netip.AddrPortFrom(t.addr, lp.opts.TCPPort)
		pctx, cancel := context.WithTimeout(ctx, lp.opts.Timeout)
		o := lp.p.probeTCP(pctx, &target{kind: "tcp", ap: ap, addr: ap.String(), timeout: lp.opts.Timeout})
		cancel()
		ok, rtt = o.ok || errors.Is(o.err, syscall.ECONNREFUSED), o.rtt
		lp.count(method, ok)
	}
	if !ok || rtt <= 0 || ctx.Err() != nil {
		return store.LatencyResult{}, false
	}
	nd := lp.p.node.Load()
	return store.LatencyResult{
		Prefix: t.prefix, Addr: t.addr, Source: nd.region, Prober: nd.id,
		Method: method, RTT: rtt, At: lp.p.now(), TTL: lp.opts.TTL,
	}, true
}

func (lp *LatencyProber) count(method string, ok bool) {
	res := "fail"
	if ok {
		res = "ok"
	}
	lp.probes.WithLabelValues(method, res).Inc()
}

func famIndex(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}

func (lp *LatencyProber) icmpUnavailable(fam int) bool {
	lp.icmpMu.Lock()
	defer lp.icmpMu.Unlock()
	return lp.icmpDown[fam]
}

// setICMPUnavailable stops ICMP for the family for the process's life; a
// restart (after a capability or sysctl change) tries again.
func (lp *LatencyProber) setICMPUnavailable(fam int) {
	lp.icmpMu.Lock()
	defer lp.icmpMu.Unlock()
	if !lp.icmpDown[fam] {
		lp.log.Warn().Int("family", 4+2*fam).Msg("ICMP unavailable; measuring resolvers with TCP connects")
	}
	lp.icmpDown[fam] = true
}
