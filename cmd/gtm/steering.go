package main

import (
	"context"
	"fmt"
	"time"

	"github.com/gtm-project/gtm/api"
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

// steering is the client-location side of a node: the GeoIP database, the
// resolver sampler, the latency prober and the latency map.
type steering struct {
	log     zerolog.Logger
	cfg     *zones.Config
	st      store.Store
	eng     *engine
	gp      *geo.Provider
	sampler *dnsserver.Sampler
	lp      *prober.LatencyProber
	// onLatency is told every latency map read (the syncer keeps it in
	// the last-known-good file).
	onLatency func([]store.LatencyResult, time.Time)
}

// newSteering opens the GeoIP database (a missing or corrupt file is an
// error here, at start) and, when prober.latency is enabled, builds the
// sampler and the latency prober.
func newSteering(log zerolog.Logger, cfg *zones.Config, st store.Store, prb *prober.Prober, eng *engine, reg prometheus.Registerer) (*steering, error) {
	s := &steering{log: log, cfg: cfg, st: st, eng: eng}
	if cfg.Geo.Database != "" {
		gp, err := geo.NewProvider(geo.Options{
			Database: cfg.Resolve(cfg.Geo.Database), ASNDatabase: cfg.Resolve(cfg.Geo.ASNDatabase), Registerer: reg,
		})
		if err != nil {
			return nil, fmt.Errorf("geo.database: %w", err)
		}
		s.gp = gp
		eng.mu.Lock()
		eng.geo = gp
		eng.mu.Unlock()
		eng.republish()
		eng.onReload = append(eng.onReload, func(*zones.Config) {
			if err := gp.Reload(); err != nil {
				log.Error().Err(err).Msg("GeoIP database reload refused; the previous one stays")
			}
			eng.republish()
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
	if s.lp, err = newLatencyProber(log, cfg, st, prb, reg); err != nil {
		return nil, err
	}
	return s, nil
}

// newLatencyProber measures the sampled resolvers from this region, when
// prober.latency is enabled and this process probes (nil otherwise).
func newLatencyProber(log zerolog.Logger, cfg *zones.Config, st store.Store, prb *prober.Prober, reg prometheus.Registerer) (*prober.LatencyProber, error) {
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

// run starts the steering parts in g.
func (s *steering) run(ctx context.Context, g *errgroup.Group) {
	if s.gp != nil {
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

// watchGeo reloads the database when its file is replaced and republishes
// the snapshot with it.
func (s *steering) watchGeo(ctx context.Context) error {
	go func() { _ = s.gp.Watch(ctx, s.log) }()
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
				s.eng.republish()
			}
		}
	}
}

// latencyLoop rebuilds the latency map from the store's measurements.
func (s *steering) latencyLoop(ctx context.Context) error {
	maxAge := s.cfg.Prober.Latency.MaxAge.D()
	t := time.NewTicker(latencyEvery)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		rs, err := s.st.Latency(cctx)
		cancel()
		if err == nil {
			now := time.Now()
			s.eng.setLatency(routing.NewLatencyTable(rs, routing.LatencyOptions{Now: now, MaxAge: maxAge}))
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

// explainer answers /api/v1/explain with the same code path as a query.
func explainer(srv *dnsserver.Server, eng *engine) func(api.ExplainRequest) (any, error) {
	return func(r api.ExplainRequest) (any, error) {
		q, err := srv.Query(r.Name, r.Type, r.Client, r.ECS)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", api.ErrBadRequest, err)
		}
		snap := eng.holder.Snapshot()
		if snap == nil {
			return nil, fmt.Errorf("no snapshot yet")
		}
		return snap.Explain(&q), nil
	}
}

// resolverSink hands the DNS server's resolver samples to the store.
func resolverSink(st store.Store) dnsserver.ResolverSink {
	return dnsserver.SinkFunc(func(ctx context.Context, ss []dnsserver.ResolverSample) error {
		out := make([]store.ResolverSample, len(ss))
		for i, s := range ss {
			out[i] = store.ResolverSample(s)
		}
		return st.PutResolverSamples(ctx, out)
	})
}
