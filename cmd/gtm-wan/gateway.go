package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// ListenFunc opens a gateway's listener: inside the site's namespace in
// production, on loopback in tests.
type ListenFunc func(s *Site, addr netip.AddrPort) (net.Listener, error)

// listenInNetns listens on addr inside the site's network namespace.
func listenInNetns(s *Site, addr netip.AddrPort) (net.Listener, error) {
	var l net.Listener
	err := inNetns(netnsPath(s.Netns), func() error {
		var err error
		l, err = net.Listen("tcp4", addr.String())
		return err
	})
	return l, err
}

// Gateways are the sites' stand-in API gateways: HTTP servers answering
// every request with 200 "ok ADDR". Stop and Start take one down and up
// (a stopped gateway's address still answers, with a TCP reset, like a
// host whose server process died).
type Gateways struct {
	log    zerolog.Logger
	listen ListenFunc
	sites  map[netip.AddrPort]*Site

	mu      sync.Mutex
	running map[netip.AddrPort]*gatewayServer
	closed  bool
}

type gatewayServer struct {
	srv  *http.Server
	addr net.Addr
	done chan struct{}
}

// NewGateways knows every gateway of the sites; it starts none until Run.
func NewGateways(sites []Site, listen ListenFunc, log zerolog.Logger) *Gateways {
	g := &Gateways{log: log, listen: listen, sites: map[netip.AddrPort]*Site{}, running: map[netip.AddrPort]*gatewayServer{}}
	for i := range sites {
		for _, a := range sites[i].gws {
			g.sites[a] = &sites[i]
		}
	}
	return g
}

// Run starts every gateway, serves until ctx ends, then stops them all.
func (g *Gateways) Run(ctx context.Context) error {
	for a := range g.sites {
		if err := g.Start(a); err != nil {
			g.stopAll()
			return err
		}
	}
	<-ctx.Done()
	g.stopAll()
	return nil
}

func (g *Gateways) stopAll() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	for a := range g.sites {
		_ = g.stop(a)
	}
}

// ErrUnknownGateway is returned for an address no site lists.
var ErrUnknownGateway = errors.New("no such gateway")

// Start brings the gateway at addr up; starting a running one is a no-op.
func (g *Gateways) Start(addr netip.AddrPort) error {
	s, ok := g.sites[addr]
	if !ok {
		return fmt.Errorf("%s: %w", addr, ErrUnknownGateway)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return errors.New("gateways are shutting down")
	}
	if g.running[addr] != nil {
		return nil
	}
	l, err := g.listen(s, addr)
	if err != nil {
		return fmt.Errorf("gateway %s in site %s: %w", addr, s.Name, err)
	}
	body := []byte("ok " + addr.String() + "\n")
	gs := &gatewayServer{addr: l.Addr(), done: make(chan struct{}), srv: &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write(body)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}}
	go func() {
		defer close(gs.done)
		_ = gs.srv.Serve(l)
	}()
	g.running[addr] = gs
	g.log.Info().Str("gateway", addr.String()).Str("site", s.Name).Msg("gateway up")
	return nil
}

// Stop takes the gateway at addr down: its listener and connections are
// closed. Stopping a stopped one is a no-op.
func (g *Gateways) Stop(addr netip.AddrPort) error {
	if _, ok := g.sites[addr]; !ok {
		return fmt.Errorf("%s: %w", addr, ErrUnknownGateway)
	}
	return g.stop(addr)
}

func (g *Gateways) stop(addr netip.AddrPort) error {
	g.mu.Lock()
	gs := g.running[addr]
	delete(g.running, addr)
	g.mu.Unlock()
	if gs == nil {
		return nil
	}
	err := gs.srv.Close()
	<-gs.done
	g.log.Info().Str("gateway", addr.String()).Msg("gateway down")
	return err
}

// Addr is the address a running gateway listens on (nil when stopped);
// tests listening on loopback learn their port from it.
func (g *Gateways) Addr(addr netip.AddrPort) net.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()
	if gs := g.running[addr]; gs != nil {
		return gs.addr
	}
	return nil
}
