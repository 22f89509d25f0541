package node

import (
	"context"
	"fmt"
	"time"

	"github.com/gtm-project/gtm/dnsserver"
	"github.com/gtm-project/gtm/geo"
	"github.com/gtm-project/gtm/prober"
	"github.com/gtm-project/gtm/routing"
	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"
)

// latencyEvery is how often the latency map is rebuilt from the store;
// measurements arrive every few minutes, so this only bounds the delay.
const latencyEvery = 30 * time.Second

// SteeringStore is the part of the store steering uses: the latency map
// (read here and by the latency prober), the resolver samples (written by
// the sampler, read by the prober) and the measurements (written by the
// prober). store.Store satisfies it.
type SteeringStore interface {
	prober.LatencySource
	prober.LatencySink
	PutResolverSamples(ctx context.Context, ss []store.ResolverSample) error
	Latency(ctx context.Context) ([]store.LatencyResult, error)
}

// SteeringOptions configure a Steering.
type SteeringOptions struct {
	Logger     zerolog.Logger
	Config     *zones.Config
	Store      SteeringStore
	Prober     *prober.Prober // nil: this process does not probe
	Engine     *Engine
	Registerer prometheus.Registerer
	// OnLatency is told every latency map read (Syncer.NoteLatency keeps
	// it in the last-known-good file).
	OnLatency func([]store.LatencyResult, time.Time)
}

// Steering is the client-location side of a node: the GeoIP database, the
// resolver sampler, the latency prober and the latency map.
type Steering struct {
	log     zerolog.Logger
	cfg     *zones.Config
	st      SteeringStore
	eng     *Engine
	gp      *geo.Provider
	sampler *dnsserver.Sampler
	lp      *prober.LatencyProber
	// onLatency is told every latency map read (the syncer keeps it in
	// the last-known-good file).
	onLatency func([]store.LatencyResult, time.Time)
}

// NewSteering opens the GeoIP database (a missing or corrupt file is an
// error here, at start), gives it to the engine and, when prober.latency
// is enabled, builds the sampler and the latency prober.
func NewSteering(opt SteeringOptions) (*Steering, error) {
	log, cfg, st, prb, eng, reg := opt.Logger, opt.Config, opt.Store, opt.Prober, opt.Engine, opt.Registerer
	s := &Steering{log: log, cfg: cfg, st: st, eng: eng, onLatency: opt.OnLatency}
	if cfg.Geo.Database != "" {
		gp, err := geo.NewProvider(geo.Options{
			Database: cfg.Resolve(cfg.Geo.Database), ASNDatabase: cfg.Resolve(cfg.Geo.ASNDatabase), Registerer: reg,
		})
		if err != nil {
			return nil, fmt.Errorf("geo.database: %w", err)
		}
		s.gp = gp
		eng.SetGeo(gp)
		eng.OnReload(func(*zones.Config) {
			if err := gp.Reload(); err != nil {
				log.Error().Err(err).Msg("GeoIP database reload refused; the previous one stays")
			}
			eng.Republish()
		})
	}
	l := cfg.Prober.Latency
	if !l.Enabled {
		return s, nil
	}
	sampler, err := dnsserver.NewSampler(dnsserver.SamplerOptions{
		Sink: resolverSink(st), Node: cfg.Node.ID, Interval: l.SampleInterval.D(), TopK: l.TopK, Every: l.SampleEvery,
		Logger: log, Registerer: reg,
	})
	if err != nil {
		return nil, err
	}
	s.sampler = sampler
	if s.lp, err = NewLatencyProber(log, cfg, st, prb, reg); err != nil {
		return nil, err
	}
	return s, nil
}

// NewLatencyProber measures the sampled resolvers from this region, when
// prober.latency is enabled and this process probes (nil otherwise).
func NewLatencyProber(log zerolog.Logger, cfg *zones.Config, st SteeringStore, prb *prober.Prober, reg prometheus.Registerer) (*prober.LatencyProber, error) {
	l := cfg.Prober.Latency
	if !l.Enabled || prb == nil {
		return nil, nil
	}
	allow, err := prober.ParseAllowList(l.Allow)
	if err != nil {
		return nil, fmt.Errorf("prober.latency.allow: %w", err)
	}
	return prb.Latency(prober.LatencyOptions{
		Source: st, Sink: st, Interval: l.Interval.D(), Timeout: l.Timeout.D(), TopK: l.TopK,
		Concurrency: l.Concurrency, Allow: allow, Method: l.Method, Logger: log, Registerer: reg,
	})
}

// Sampler is the resolver sampler for the DNS server (nil unless
// prober.latency is enabled).
func (s *Steering) Sampler() *dnsserver.Sampler { return s.sampler }

// Run starts the steering parts in g; they end with ctx.
func (s *Steering) Run(ctx context.Context, g *errgroup.Group) {
	if s.gp != nil {
		g.Go(func() error { return s.watchGeoFile(ctx) })
		g.Go(func() error { return s.watchGeo(ctx) })
	}
	if s.sampler != nil {
		g.Go(func() error { return s.sampler.Run(ctx) })
		g.Go(func() error { return s.latencyLoop(ctx) })
	}
	if s.lp != nil {
		g.Go(func() error { return s.lp.Run(ctx) })
	}
}

// watchGeoFile reloads the database when its file is replaced. A watch
// that fails is logged and does not stop the node: the database in use
// keeps serving, and a reload (SIGHUP) still reads the file.
func (s *Steering) watchGeoFile(ctx context.Context) error {
	if err := s.gp.Watch(ctx, s.log); err != nil && ctx.Err() == nil {
		s.log.Error().Err(err).Msg("cannot watch the GeoIP database; it is reloaded only with the configuration (SIGHUP)")
	}
	return nil
}

// watchGeo republishes the snapshot when the database in use changes.
func (s *Steering) watchGeo(ctx context.Context) error {
	cur := s.gp.Current()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if db := s.gp.Current(); db != cur {
				cur = db
				s.eng.Republish()
			}
		}
	}
}

// latencyLoop rebuilds the latency map from the store's measurements.
func (s *Steering) latencyLoop(ctx context.Context) error {
	maxAge := s.cfg.Prober.Latency.MaxAge.D()
	t := time.NewTicker(latencyEvery)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		rs, err := s.st.Latency(cctx)
		cancel()
		if err == nil {
			now := time.Now()
			s.eng.SetLatency(routing.NewLatencyTable(rs, routing.LatencyOptions{Now: now, MaxAge: maxAge}))
			if s.onLatency != nil {
				s.onLatency(rs, now)
			}
		} else if ctx.Err() == nil {
			s.log.Warn().Err(err).Msg("cannot read the latency map; the previous one stays")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// resolverSink hands the DNS server's resolver samples to the store.
func resolverSink(st SteeringStore) dnsserver.ResolverSink {
	return dnsserver.SinkFunc(func(ctx context.Context, ss []dnsserver.ResolverSample) error {
		out := make([]store.ResolverSample, len(ss))
		for i, s := range ss {
			out[i] = store.ResolverSample(s)
		}
		return st.PutResolverSamples(ctx, out)
	})
}
