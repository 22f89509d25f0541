package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gtm-project/gtm/api"
	"github.com/gtm-project/gtm/dnsserver"
	"github.com/gtm-project/gtm/health"
	"github.com/gtm-project/gtm/node"
	"github.com/gtm-project/gtm/prober"
	"github.com/gtm-project/gtm/zones"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"
)

const defaultConfig = "/etc/gtm/gtm.yaml"

// logFlags adds --log-format and --log-level to fs.
func logFlags(fs *flag.FlagSet) (format, level *string) {
	format = fs.String("log-format", "json", "log format: json or console")
	level = fs.String("log-level", "info", "log level: debug, info, warn, error")
	return
}

func newLogger(w io.Writer, format, level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Nop(), fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	switch format {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	default:
		return zerolog.Nop(), fmt.Errorf("--log-format %q: want json or console", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

func runServe(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", defaultConfig, "config file")
	lameduck := fs.Duration("lameduck", 0, "on SIGTERM, report not ready and keep answering this long before stopping")
	allowEmpty := fs.Bool("allow-empty", false, "accept (at start and on reload) a configuration with no zones and no services, or one dropping every zone served")
	format, level := logFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, set, reg, nofile, err := start(stderr, *cfgPath, *format, *level)
	if err != nil {
		return err
	}
	cfg := set.Config
	if err := zones.CheckReplace(nil, set); err != nil && !*allowEmpty {
		log.Error().Err(err).Msg("configuration refused")
		return exitError{1}
	}

	st, err := openStore(cfg, log.With().Str("component", "store").Logger(), reg)
	if err != nil {
		log.Error().Err(err).Msg("state store")
		return exitError{1}
	}
	defer st.Close()
	eng := node.NewEngine(node.EngineOptions{Logger: log, Registerer: reg, AllowEmpty: *allowEmpty, Docs: st})
	eng.SetConfig(set)

	mon := health.NewMonitor(log.With().Str("component", "health").Logger(), reg, time.Now)
	sync := node.NewSyncer(node.SyncOptions{
		Logger: log.With().Str("component", "state").Logger(), Store: st, Monitor: mon, Engine: eng, Config: cfg, Registerer: reg,
	})
	sync.LoadLastGood()
	var prb *prober.Prober
	if cfg.Prober.ProberEnabled() {
		prb, err = prober.New(cfg, prober.Options{
			Sink: st, Logger: log.With().Str("component", "prober").Logger(), Registerer: reg,
		})
		if err != nil {
			log.Error().Err(err).Msg("prober")
			return exitError{1}
		}
		eng.OnReload(prb.Reload)
	}
	tokens, err := api.LoadTokens(cfg.Resolve(cfg.API.TokenFile))
	if err != nil {
		log.Error().Err(err).Msg("api tokens")
		return exitError{1}
	}

	steer, err := node.NewSteering(node.SteeringOptions{
		Logger: log.With().Str("component", "steering").Logger(), Config: cfg, Store: st, Prober: prb, Engine: eng,
		Registerer: reg, OnLatency: sync.NoteLatency,
	})
	if err != nil {
		log.Error().Err(err).Msg("steering")
		return exitError{1}
	}

	cookies, err := node.NewCookieKeeper(ctx, cfg, st, log.With().Str("component", "dns").Logger(), reg)
	if err != nil {
		log.Error().Err(err).Msg("dns cookies")
		return exitError{1}
	}
	caps := fitConnCaps(log, nofile, len(cfg.DNS.Listen), connCaps{
		dnsPerListener: cfg.DNS.TCP.MaxConnections, dnsPerClient: cfg.DNS.TCP.MaxPerClient, api: cfg.API.MaxConnections,
	})
	dnsCfg := dnsserver.Config{
		Listen:          cfg.DNS.Listen,
		UDPSize:         cfg.DNS.UDPSize,
		Workers:         cfg.DNS.Workers,
		NodeID:          cfg.Node.ID,
		NSID:            cfg.DNS.NSID,
		Version:         cfg.DNS.Version,
		TCPIdleTimeout:  cfg.DNS.TCP.IdleTimeout.D(),
		TCPMaxConns:     caps.dnsPerListener,
		TCPMaxPerClient: caps.dnsPerClient,
		ECSMaxPrefixV4:  cfg.DNS.ECS.MaxPrefixV4,
		ECSMaxPrefixV6:  cfg.DNS.ECS.MaxPrefixV6,
		Sampler:         steer.Sampler(),
		RRL:             node.RRLConfig(cfg.DNS.RRL),
	}
	if cookies != nil {
		dnsCfg.Cookies = cookies.Secrets()
	}
	dns := dnsserver.New(dnsCfg, eng, log.With().Str("component", "dns").Logger(), reg)

	var draining atomic.Bool
	web := api.New(cfg.API.Listen, reg, func() (bool, map[string]any) {
		d := sync.State()
		d["snapshot_version"] = eng.Version()
		if draining.Load() {
			d["reason"] = "shutting down"
			return false, d
		}
		return true, d
	}, log.With().Str("component", "api").Logger())
	web.Tokens = tokens
	web.Limits = apiLimits(cfg, caps.api)
	if cfg.API.TLSCertFile != "" {
		web.CertFile, web.KeyFile = cfg.Resolve(cfg.API.TLSCertFile), cfg.Resolve(cfg.API.TLSKeyFile)
	}
	// API writes: with the memory store and a snapshot file, a 2xx waits
	// for the file to be fsynced.
	apiStore := st
	if cfg.State.Backend != "redis" {
		apiStore = sync.Durable(st)
	}
	web.HandleDrains(apiStore, eng.Config)
	web.HandleEdits(apiStore, eng, api.EditOptions{ReadAuth: cfg.API.ReadAuth, MaxConcurrent: cfg.API.MaxConcurrentEdits})
	web.HandleExplain(explainer(dns, eng))
	web.HandleStatus(func() any { return node.StatusDoc(cfg.Node, eng, mon, sync) })
	web.HandleUI(func() api.UIData {
		d := uiData(cfg.Node, eng, mon, cfg.State.Backend)
		st := sync.State()
		d.ConfigVersion = fmt.Sprint(st["config_version"])
		if up, _ := st["store_up"].(bool); !up {
			d.StoreError = "the state store is unreachable: serving the last known state"
		}
		d.SnapshotError, _ = st["snapshot_error"].(string)
		d.SnapshotCorrupt, _ = st["snapshot_corrupt"].([]string)
		return d
	})

	// Stop signals end runCtx only after the lameduck period, so load
	// balancers see /readyz fail while DNS still answers.
	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-ctx.Done():
		case <-runCtx.Done():
			return
		}
		draining.Store(true)
		log.Info().Dur("lameduck", *lameduck).Msg("stopping")
		select {
		case <-time.After(*lameduck):
		case <-runCtx.Done():
		}
		cancel()
	}()

	// SIGHUP is caught before anything listens: a reload sent as soon as
	// the node answers must not kill it (the default action).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return dns.Run(gctx) })
	g.Go(func() error { return web.Run(gctx) })
	g.Go(func() error { return reloadOnHUP(gctx, hup, *cfgPath, eng) })
	g.Go(func() error { return node.WatchFiles(gctx, log, *cfgPath, eng) })
	g.Go(func() error { return sync.Run(gctx) })
	if cookies != nil {
		g.Go(func() error { return cookies.Run(gctx) })
	}
	if prb != nil {
		g.Go(func() error { return prb.Run(gctx) })
	}
	steer.Run(gctx, g)
	g.Go(func() error {
		select {
		case <-dns.Ready():
			log.Info().Str("config", *cfgPath).Str("summary", set.Summary()).Msg("serving")
		case <-gctx.Done():
		}
		return nil
	})
	err = g.Wait()
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error().Err(err).Msg("stopped on error")
		return exitError{1}
	}
	log.Info().Msg("stopped")
	return nil
}

// start is what serve and probe do first: a logger, the configuration
// (its errors logged, exit 1), a metrics registry with the runtime's
// collectors and gtm_build_info, and the open file limit raised to the
// hard limit (returned; 0 if unknown).
func start(stderr io.Writer, cfgPath, format, level string) (zerolog.Logger, *zones.Set, *prometheus.Registry, uint64, error) {
	log, err := newLogger(stderr, format, level)
	if err != nil {
		return log, nil, nil, 0, err
	}
	set, err := zones.Load(cfgPath)
	if err != nil {
		logConfigErrors(log, err)
		return log, nil, nil, 0, exitError{1}
	}
	cfg := set.Config
	log = log.With().Str("node", cfg.Node.ID).Str("region", cfg.Node.Region).Logger()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "gtm", Name: "build_info", Help: "Always 1; labels say what runs.",
		ConstLabels: prometheus.Labels{"version": version, "node": cfg.Node.ID, "region": cfg.Node.Region},
	})
	buildInfo.Set(1)
	reg.MustRegister(buildInfo)
	return log, set, reg, raiseFileLimit(log), nil
}

// apiLimits are the HTTP server's bounds from api: in the config, with
// the connection cap as fitted to the open file limit.
func apiLimits(cfg *zones.Config, maxConns int) api.Limits {
	return api.Limits{
		MaxConnections: maxConns,
		ReadTimeout:    cfg.API.ReadTimeout.D(),
		WriteTimeout:   cfg.API.WriteTimeout.D(),
		IdleTimeout:    cfg.API.IdleTimeout.D(),
	}
}

// reloadOnHUP re-reads config and zones on SIGHUP. A bad file is refused
// with its errors logged, and the previous version keeps serving.
func reloadOnHUP(ctx context.Context, hup <-chan os.Signal, path string, eng *node.Engine) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			eng.Reload(path, "SIGHUP")
		}
	}
}

func logConfigErrors(log zerolog.Logger, err error) { node.LogConfigErrors(log, err) }

// explainer answers /api/v1/explain with the same code path as a query.
func explainer(srv *dnsserver.Server, eng *node.Engine) func(api.ExplainRequest) (any, error) {
	return func(r api.ExplainRequest) (any, error) {
		q, err := srv.Query(r.Name, r.Type, r.Client, r.ECS)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", api.ErrBadRequest, err)
		}
		snap := eng.Snapshot()
		if snap == nil {
			return nil, fmt.Errorf("no snapshot yet")
		}
		return snap.Explain(&q), nil
	}
}

// The engine checks zone edits record by record (a zone edit's memory stays
// a small multiple of its body).
var _ api.EditChecker = (*node.Engine)(nil)
