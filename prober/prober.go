package prober

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/gtm-project/gtm/zones"
)

// Defaults of Options. A flush every 100ms keeps results fresh for health
// (whose intervals are seconds) while batching 10,000 results/s into ~10
// store writes.
const (
	DefaultFlushInterval = 100 * time.Millisecond
	DefaultBatchSize     = 1000
	DefaultFlushTimeout  = 5 * time.Second
	DefaultMaxBody       = 64 << 10
)

// Options are a Prober's dependencies and tuning; every zero value is a
// documented default except Sink, which is required.
type Options struct {
	// Sink receives results in batches. Required.
	Sink Sink
	// Logger receives errors and, at debug level, one line per result. The
	// caller adds any component field.
	Logger zerolog.Logger
	// Registerer gets the prober's metrics; nil registers them nowhere.
	Registerer prometheus.Registerer
	// Now is the clock; nil means time.Now. Results are stamped and probes
	// scheduled with it.
	Now func() time.Time
	// Rand drives start offsets and jitter; nil seeds one from the clock.
	// It is only used by the scheduler goroutine, so it need not be safe for
	// concurrent use.
	Rand *rand.Rand
	// RootCAs verifies HTTPS endpoints; nil means the system roots.
	RootCAs *x509.CertPool
	// FlushInterval is how often results go to the Sink. Default 100ms.
	FlushInterval time.Duration
	// BatchSize flushes early once this many results wait. Default 1000.
	BatchSize int
	// FlushTimeout bounds one Sink call. Default 5s.
	FlushTimeout time.Duration
	// MaxBody is the most of an HTTP body read per probe. Default 64 KiB.
	MaxBody int64
}

// Prober probes every checked endpoint of a config, and its control
// targets, from one node. Create it with New, start it with Run, and swap
// its targets with Reload.
type Prober struct {
	opts    Options
	log     zerolog.Logger
	now     func() time.Time
	metrics *metrics
	batch   *batcher
	probes  map[string]probeFunc
	dialer  *net.Dialer
	icmp    *icmpEnv

	// node is the region and id results are stamped with; Reload swaps it.
	node atomic.Pointer[nodeInfo]
	// concurrency is fixed when Run starts: it sizes the worker pool.
	concurrency int
	running     atomic.Bool

	mu      sync.Mutex         // serialises Reload; guards the fields below
	targets map[string]*target // by key, the set in force
	// pending is the latest target set from Reload that the scheduler has
	// not adopted yet; nil when there is none.
	pending []*target
	wake    chan struct{}
}

// New builds a Prober for cfg's node (cfg.Node.Region and cfg.Node.ID) that
// probes every endpoint of every service with a check, and the prober's
// control targets. It starts nothing; call Run.
func New(cfg *zones.Config, opts Options) (*Prober, error) {
	if cfg == nil {
		return nil, errors.New("prober: nil config")
	}
	if opts.Sink == nil {
		return nil, errors.New("prober: Options.Sink is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		seed := uint64(opts.Now().UnixNano())
		opts.Rand = rand.New(rand.NewPCG(seed, seed>>17|1))
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.FlushTimeout <= 0 {
		opts.FlushTimeout = DefaultFlushTimeout
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("prober: %w", err)
	}
	icmpEnv, err := newICMPEnv(cfg.Prober.ICMP)
	if err != nil {
		return nil, fmt.Errorf("prober: %w", err)
	}
	p := &Prober{
		opts:        opts,
		log:         opts.Logger,
		now:         opts.Now,
		metrics:     m,
		icmp:        icmpEnv,
		dialer:      newDialer(),
		concurrency: cfg.Prober.Concurrency,
		targets:     map[string]*target{},
		wake:        make(chan struct{}, 1),
	}
	if p.concurrency < 1 {
		p.concurrency = zones.DefaultConcurrency
	}
	p.batch = newBatcher(opts, p.log, m)
	p.probes = p.probeTable()
	p.Reload(cfg)
	return p, nil
}

// Reload swaps the target set for cfg's. Targets whose check, address and
// thresholds are unchanged keep their schedule and rise/fall state; changed
// ones start over at "unknown". Endpoints that cannot be probed (no usable
// address, unknown check type) are logged and left out. The node's region
// and id follow cfg too; the concurrency bound is fixed once Run started.
func (p *Prober) Reload(cfg *zones.Config) {
	if cfg == nil {
		return
	}
	built := buildTargets(cfg, p.opts, p.log)

	p.mu.Lock()
	defer p.mu.Unlock()
	nd := &nodeInfo{region: cfg.Node.Region, id: cfg.Node.ID}
	prev := p.node.Swap(nd)
	regionChanged := prev == nil || prev.region != nd.region
	if !p.running.Load() && cfg.Prober.Concurrency > 0 {
		p.concurrency = cfg.Prober.Concurrency
	}
	p.icmp.setMode(cfg.Prober.ICMP)

	next := make(map[string]*target, len(built))
	list := make([]*target, 0, len(built))
	for _, t := range built {
		if old, ok := p.targets[t.key]; ok && old.sameAs(t) {
			t = old
		}
		next[t.key] = t
		list = append(list, t)
	}
	for k, old := range p.targets {
		switch {
		case next[k] != old:
			old.removed.Store(true)
			p.metrics.unbind(old)
		case regionChanged:
			p.metrics.unbind(old)
		}
	}
	for _, t := range list {
		if t.metrics.Load() == nil {
			p.metrics.bind(t, nd.region)
		}
	}
	p.targets = next
	p.pending = list
	p.metrics.targets.Set(float64(len(list)))
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run probes until ctx ends, then waits for probes in flight, flushes the
// last results to the Sink and returns nil. It may be called once.
func (p *Prober) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("prober: Run called twice")
	}
	p.mu.Lock()
	workers := p.concurrency
	p.mu.Unlock()

	jobs := make(chan *target)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for t := range jobs {
				p.probeAndRecord(ctx, t)
				t.running.Store(false)
			}
		})
	}
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		p.batch.run(ctx)
	}()

	p.schedule(ctx, jobs)
	close(jobs)
	wg.Wait()
	p.batch.stop()
	<-flushed
	return nil
}

// nodeInfo is who stamps results: the node's region and id.
type nodeInfo struct{ region, id string }

// takePending returns the target set Reload left for the scheduler, if any.
func (p *Prober) takePending() []*target {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.pending
	p.pending = nil
	return l
}
