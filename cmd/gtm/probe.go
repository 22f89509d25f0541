package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/gtm-project/gtm/api"
	"github.com/gtm-project/gtm/node"
	"github.com/gtm-project/gtm/prober"
	"github.com/gtm-project/gtm/zones"
	"golang.org/x/sync/errgroup"
)

// runProbe is `gtm probe`: a prober for node.region alone, writing results
// to the state store, with /metrics, /healthz and /readyz on api.listen.
func runProbe(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", defaultConfig, "config file")
	format, level := logFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, set, reg, nofile, err := start(stderr, *cfgPath, *format, *level)
	if err != nil {
		return err
	}
	cfg := set.Config
	st, err := openStore(cfg, log.With().Str("component", "store").Logger(), reg)
	if err != nil {
		log.Error().Err(err).Msg("state store")
		return exitError{1}
	}
	defer st.Close()
	prb, err := prober.New(cfg, prober.Options{Sink: st, Logger: log.With().Str("component", "prober").Logger(), Registerer: reg})
	if err != nil {
		log.Error().Err(err).Msg("prober")
		return exitError{1}
	}
	lp, err := node.NewLatencyProber(log.With().Str("component", "latency").Logger(), cfg, st, prb, reg)
	if err != nil {
		log.Error().Err(err).Msg("latency prober")
		return exitError{1}
	}
	web := api.New(cfg.API.Listen, reg, nil, log.With().Str("component", "api").Logger())
	web.Limits = apiLimits(cfg, fitConnCaps(log, nofile, 0, connCaps{api: cfg.API.MaxConnections}).api)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return prb.Run(gctx) })
	if lp != nil {
		g.Go(func() error { return lp.Run(gctx) })
	}
	g.Go(func() error { return web.Run(gctx) })
	g.Go(func() error {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-hup:
				set, err := zones.Load(*cfgPath)
				if err != nil {
					logConfigErrors(log, err)
					log.Error().Msg("reload refused; the previous configuration keeps probing")
					continue
				}
				prb.Reload(set.Config)
				log.Info().Str("summary", set.Summary()).Msg("configuration reloaded")
			}
		}
	})
	log.Info().Str("config", *cfgPath).Msg("probing")
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		log.Error().Err(err).Msg("stopped on error")
		return exitError{1}
	}
	log.Info().Msg("stopped")
	return nil
}
