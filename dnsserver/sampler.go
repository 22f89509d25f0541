package dnsserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Sampler defaults.
const (
	DefaultSampleInterval = time.Minute
	DefaultSampleTopK     = 10000
	DefaultSampleEvery    = 16
	// ResolverBits4 and ResolverBits6 group resolvers into networks: a
	// /24 or /56 is one site of one operator as far as latency goes.
	ResolverBits4 = 24
	ResolverBits6 = 56
	// sampleBatch is how many addresses a worker holds before handing
	// them over, and sampleFlush how long at most.
	sampleBatch = 64
	sampleFlush = time.Second
)

// ResolverSample is one resolver network and how busy it was: what the
// Sampler hands its sink (the state store, which keeps it for the
// probers to measure).
type ResolverSample struct {
	// Prefix is the resolver's network (/24 for IPv4, /56 for IPv6).
	Prefix netip.Prefix
	// Addr is a query source address seen in Prefix: what is measured.
	Addr netip.Addr
	// Count is how many queries came from Prefix (an estimate).
	Count uint64
	// Node is the DNS node that saw them.
	Node string
	At   time.Time
	// TTL is how long the sample should be kept; 0 is the sink's default.
	TTL time.Duration
}

// ResolverSink receives the sampled resolver networks.
type ResolverSink interface {
	PutResolverSamples(ctx context.Context, ss []ResolverSample) error
}

// SinkFunc makes a function a ResolverSink.
type SinkFunc func(ctx context.Context, ss []ResolverSample) error

// PutResolverSamples implements ResolverSink.
func (f SinkFunc) PutResolverSamples(ctx context.Context, ss []ResolverSample) error {
	return f(ctx, ss)
}

// SamplerOptions configure a Sampler; zero values are documented defaults
// except Sink, which is required.
type SamplerOptions struct {
	Sink ResolverSink
	// Node names this DNS node in the samples.
	Node string
	// Interval is how often the busiest networks are written. Default 1m.
	Interval time.Duration
	// TopK bounds the networks kept and written. Default 10,000.
	TopK int
	// Every samples one query in Every per worker. Default 16: counting
	// every query would cost the answer path more than the estimate is
	// worth.
	Every int
	// TTL is how long the sink keeps a sample. Default 0: the sink's own
	// default.
	TTL time.Duration
	// Now is the clock; nil means time.Now.
	Now        func() time.Time
	Logger     zerolog.Logger
	Registerer prometheus.Registerer
}

// Sampler counts the resolver networks the DNS server answers (the source
// address of each query, never an ECS address: that is what is safe to
// measure) and writes the busiest to the store, where the probers pick
// them up to measure. The answer path hands it addresses in batches with
// a TryLock, so a busy Sampler costs dropped samples, never a waiting
// query. Create it with NewSampler, pass it in Config.Sampler, run it
// with Run.
type Sampler struct {
	opts  SamplerOptions
	log   zerolog.Logger
	every uint32

	mu   sync.Mutex
	nets map[netip.Prefix]resolverCount

	networks prometheus.Gauge
	dropped  prometheus.Counter
	writes   *prometheus.CounterVec
}

// resolverCount is one network's estimated queries and latest address.
type resolverCount struct {
	addr  netip.Addr
	count uint64
	last  time.Time
}

// NewSampler returns a Sampler; it starts nothing until Run.
func NewSampler(opts SamplerOptions) (*Sampler, error) {
	if opts.Sink == nil {
		return nil, errors.New("dnsserver: SamplerOptions.Sink is required")
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultSampleInterval
	}
	if opts.TopK <= 0 {
		opts.TopK = DefaultSampleTopK
	}
	if opts.Every <= 0 {
		opts.Every = DefaultSampleEvery
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Sampler{
		opts: opts, log: opts.Logger.With().Str("component", "resolver-sampler").Logger(),
		every: uint32(opts.Every), nets: map[netip.Prefix]resolverCount{},
		networks: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "gtm", Subsystem: "dns", Name: "sampled_resolver_networks",
			Help: "Resolver networks (/24, /56) the sampler currently counts.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "gtm", Subsystem: "dns", Name: "resolver_samples_dropped_total",
			Help: "Sampled query sources dropped because the sampler was busy.",
		}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gtm", Subsystem: "dns", Name: "resolver_sample_writes_total",
			Help: "Writes of the busiest resolver networks to the store, by result.",
		}, []string{"result"}),
	}
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{s.networks, s.dropped, s.writes} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("dnsserver: sampler metrics: %w", err)
			}
		}
	}
	return s, nil
}

// samplerBuffer is a worker's share of sampling: every Every-th source
// address, handed over in batches.
type samplerBuffer struct {
	tick    uint32
	n       int
	addrs   [sampleBatch]netip.Addr
	flushed time.Time
}

// add notes a query from a; one in s.every is kept.
func (b *samplerBuffer) add(s *Sampler, a netip.Addr, now time.Time) {
	if b.tick++; b.tick < s.every {
		return
	}
	b.tick = 0
	if !a.IsValid() {
		return
	}
	b.addrs[b.n] = a
	b.n++
	if b.n < len(b.addrs) && now.Sub(b.flushed) < sampleFlush {
		return
	}
	if s.offer(b.addrs[:b.n], now) || b.n == len(b.addrs) {
		b.n = 0
		b.flushed = now
	}
}

// offer merges addresses if the Sampler is free, and reports whether it
// was; a full batch that cannot be merged is dropped.
func (s *Sampler) offer(addrs []netip.Addr, now time.Time) bool {
	if !s.mu.TryLock() {
		if len(addrs) == sampleBatch {
			s.dropped.Add(float64(len(addrs)))
		}
		return false
	}
	defer s.mu.Unlock()
	s.addLocked(addrs, now)
	return true
}

// addLocked counts addrs, each standing for s.every queries. The map is
// bounded: past twice TopK networks, the least counted half goes.
func (s *Sampler) addLocked(addrs []netip.Addr, now time.Time) {
	for _, a := range addrs {
		p := resolverNetwork(a)
		c, ok := s.nets[p]
		if !ok && len(s.nets) >= 2*s.opts.TopK {
			s.pruneLocked(s.opts.TopK)
		}
		c.addr, c.count, c.last = a, c.count+uint64(s.every), now
		s.nets[p] = c
	}
	s.networks.Set(float64(len(s.nets)))
}

// resolverNetwork is the /24 or /56 of a resolver address.
func resolverNetwork(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := ResolverBits4
	if a.Is6() {
		bits = ResolverBits6
	}
	p, _ := a.Prefix(bits)
	return p
}

// top returns the k most counted networks, busiest first.
func (s *Sampler) topLocked(k int) []netip.Prefix {
	ps := make([]netip.Prefix, 0, len(s.nets))
	for p := range s.nets {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		return cmp.Or(cmp.Compare(s.nets[b].count, s.nets[a].count), a.Addr().Compare(b.Addr()))
	})
	return ps[:min(k, len(ps))]
}

// pruneLocked keeps the k most counted networks.
func (s *Sampler) pruneLocked(k int) {
	keep := s.topLocked(k)
	next := make(map[netip.Prefix]resolverCount, 2*k)
	for _, p := range keep {
		next[p] = s.nets[p]
	}
	s.nets = next
}

// Samples returns the busiest TopK networks as store samples and halves
// every count, so that networks which stop querying fade out within a few
// intervals.
func (s *Sampler) Samples() []ResolverSample {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	top := s.topLocked(s.opts.TopK)
	out := make([]ResolverSample, len(top))
	for i, p := range top {
		c := s.nets[p]
		out[i] = ResolverSample{Prefix: p, Addr: c.addr, Count: c.count, Node: s.opts.Node, At: now, TTL: s.opts.TTL}
	}
	for p, c := range s.nets {
		if c.count /= 2; c.count == 0 {
			delete(s.nets, p)
			continue
		}
		s.nets[p] = c
	}
	s.networks.Set(float64(len(s.nets)))
	return out
}

// Run writes the busiest networks to the sink every Interval until ctx
// ends, and once more on the way out.
func (s *Sampler) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			s.write(fctx)
			cancel()
			return nil
		case <-t.C:
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			s.write(wctx)
			cancel()
		}
	}
}

func (s *Sampler) write(ctx context.Context) {
	ss := s.Samples()
	if len(ss) == 0 {
		return
	}
	if err := s.opts.Sink.PutResolverSamples(ctx, ss); err != nil {
		s.writes.WithLabelValues("error").Inc()
		s.log.Warn().Err(err).Int("networks", len(ss)).Msg("writing resolver samples failed")
		return
	}
	s.writes.WithLabelValues("ok").Inc()
}
