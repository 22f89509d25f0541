// Command gtm-wan is a userspace WAN for testing gtm on one machine: it
// joins network namespaces (regions, client networks) through a TUN device
// in each, and forwards IPv4 packets between them by destination address
// after a per-pair one-way delay, so that ICMP, TCP and UDP round trips
// between namespaces are real and chosen. Links can be cut and restored,
// delays changed, and stand-in HTTP gateways stopped and started, through
// a small HTTP control API. It needs root (setns, TUN) and a kernel with
// TUN; it needs no netem.
//
//	gtm-wan --config wan.yaml [--control unix:/run/gtm-wan.sock] [--create-netns]
//
// The namespaces exist beforehand (`ip netns add NAME`), or --create-netns
// adds the missing ones and deletes them on exit. Only the namespaces are
// changed: addresses and the route of the WAN range go on each TUN inside
// its namespace, nothing in the namespace gtm-wan runs in. The devices
// vanish when gtm-wan exits. The config format is in README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "gtm-wan:", err)
		os.Exit(1)
	}
}

// run parses flags, builds the WAN and serves until ctx ends.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("gtm-wan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "WAN config file (YAML or JSON); required")
	control := fs.String("control", "127.0.0.1:0", "control API: unix:PATH, or a loopback host:port")
	create := fs.Bool("create-netns", false, "add the sites' namespaces that do not exist, delete them on exit")
	logFormat := fs.String("log-format", "json", "json | console")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" {
		fs.Usage()
		return errors.New("--config is required")
	}
	log := zerolog.New(stderr).With().Timestamp().Logger()
	if *logFormat == "console" {
		log = zerolog.New(zerolog.ConsoleWriter{Out: stderr}).With().Timestamp().Logger()
	}
	cfg, err := LoadConfig(*cfgPath)
	if err != nil {
		return err
	}
	ln, err := listenControl(*control)
	if err != nil {
		return err
	}
	defer ln.Close()

	if *create {
		made, err := createNetns(ctx, cfg.Sites)
		defer func() {
			if err := deleteNetns(made); err != nil {
				log.Error().Err(err).Msg("deleting namespaces")
			}
		}()
		if err != nil {
			return err
		}
	}
	devs := make([]Device, 0, len(cfg.Sites))
	defer func() {
		for _, d := range devs {
			_ = d.Close() // after Run they are closed already; a second Close is harmless
		}
	}()
	for i := range cfg.Sites {
		s := &cfg.Sites[i]
		f, err := openTUN(netnsPath(s.Netns), cfg.TUN)
		if err != nil {
			return fmt.Errorf("site %s: %w", s.Name, err)
		}
		devs = append(devs, f)
		if err := configureSite(ctx, s, cfg.TUN, cfg.rng.String()); err != nil {
			return err
		}
	}
	wan, err := NewWAN(cfg, devs, log)
	if err != nil {
		return err
	}
	gws := NewGateways(cfg.Sites, listenInNetns, log)
	srv := &http.Server{Handler: controlHandler(wan, gws, log), ReadHeaderTimeout: 5 * time.Second}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return wan.Run(gctx) })
	g.Go(func() error { return gws.Run(gctx) })
	g.Go(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("control API: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	log.Info().Str("control", controlAddr(ln)).Int("sites", len(cfg.Sites)).Str("range", cfg.rng.String()).Msg("ready")
	err = g.Wait()
	log.Info().Err(err).Msg("stopped")
	return err
}

// listenControl opens the control API's listener: a unix socket (made
// fresh, mode 0600) or a TCP port on loopback only, since the API can cut
// links and must not be reachable from any network.
func listenControl(spec string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(spec, "unix:"); ok {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("control socket: %w", err)
		}
		l, err := net.Listen("unix", path)
		if err != nil {
			return nil, fmt.Errorf("control socket: %w", err)
		}
		if err := os.Chmod(path, 0o600); err != nil {
			l.Close()
			return nil, fmt.Errorf("control socket: %w", err)
		}
		return l, nil
	}
	host, _, err := net.SplitHostPort(spec)
	if err != nil {
		return nil, fmt.Errorf("--control %q: want unix:PATH or host:port: %w", spec, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("--control %q: a TCP control API listens on loopback only", spec)
	}
	return net.Listen("tcp", spec)
}

func controlAddr(l net.Listener) string {
	if l.Addr().Network() == "unix" {
		return "unix:" + l.Addr().String()
	}
	return l.Addr().String()
}
