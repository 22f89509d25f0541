// Package dnsserver is gtm's wire: UDP and TCP listeners speaking DNS with
// the behaviour of a careful authoritative server (EDNS0, NSID, truncation,
// CHAOS identification, FORMERR/NOTIMP/REFUSED where due). It knows nothing
// of where answers come from: it asks a Source for the current snapshot.
package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/gtm-project/gtm/routing"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Source returns the snapshot to answer from. *routing.Holder is one.
type Source interface {
	Snapshot() *routing.Snapshot
}

// Config configures a Server. Zero values are documented defaults.
type Config struct {
	// Listen is host:port addresses; each gets UDP and TCP. Port 0 picks a
	// free port (the same for UDP and TCP); Addrs reports it.
	Listen []string
	// UDPSize is the EDNS0 size we advertise and the most we send over UDP.
	// Default 1232.
	UDPSize int
	// Workers is the number of UDP sockets per address (SO_REUSEPORT), each
	// served by its own goroutine. Default 1.
	Workers int
	// NodeID answers CHAOS id.server and hostname.bind.
	NodeID string
	// NSID is sent to clients that ask (RFC 5001); empty sends nothing.
	NSID string
	// Version answers CHAOS version.bind; empty refuses it.
	Version string
	// TCPIdleTimeout closes idle TCP connections. Default 10s (RFC 7766
	// suggests seconds, not minutes, for a busy server).
	TCPIdleTimeout time.Duration
}

// Server answers DNS over UDP and TCP.
type Server struct {
	cfg     Config
	source  Source
	log     zerolog.Logger
	metrics *Metrics
	now     func() time.Time

	udpSize int
	nodeID  string
	version string
	nsid    *dns.EDNS0_NSID

	mu      sync.Mutex
	addrs   []netip.AddrPort
	ready   chan struct{}
	udp     []*net.UDPConn
	tcp     []*dns.Server
	workers sync.Pool
}

// New returns a Server; it starts nothing until Run.
func New(cfg Config, src Source, log zerolog.Logger, reg prometheus.Registerer) *Server {
	if cfg.UDPSize == 0 {
		cfg.UDPSize = 1232
	}
	if cfg.Workers == 0 {
		cfg.Workers = 1
	}
	if cfg.TCPIdleTimeout == 0 {
		cfg.TCPIdleTimeout = 10 * time.Second
	}
	s := &Server{
		cfg: cfg, source: src, log: log, metrics: NewMetrics(reg), now: time.Now,
		udpSize: cfg.UDPSize, nodeID: cfg.NodeID, version: cfg.Version,
		ready: make(chan struct{}),
	}
	if cfg.NSID != "" {
		s.nsid = &dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: fmt.Sprintf("%x", cfg.NSID)}
	}
	s.workers.New = func() any { return newWorker() }
	return s
}

// Ready is closed once every listener is bound.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addrs returns the bound addresses, one per Listen entry (valid after Ready).
func (s *Server) Addrs() []netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]netip.AddrPort(nil), s.addrs...)
}

// Run binds every listener, serves until ctx ends, then drains: TCP
// connections get up to 5s to finish, UDP sockets close at once (a UDP
// answer in flight is one packet).
func (s *Server) Run(ctx context.Context) error {
	if err := s.listen(); err != nil {
		s.closeAll(context.Background())
		return err
	}
	close(s.ready)
	var wg sync.WaitGroup
	errc := make(chan error, len(s.udp)+len(s.tcp))
	for _, c := range s.udp {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.serveUDP(c); err != nil {
				errc <- err
			}
		}()
	}
	for _, t := range s.tcp {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := t.ActivateAndServe(); err != nil && !errors.Is(err, net.ErrClosed) {
				errc <- fmt.Errorf("dns tcp %s: %w", t.Listener.Addr(), err)
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.closeAll(sctx)
	wg.Wait()
	return err
}

func (s *Server) closeAll(ctx context.Context) {
	for _, c := range s.udp {
		c.Close()
	}
	for _, t := range s.tcp {
		if t.Listener != nil {
			t.ShutdownContext(ctx) //nolint:errcheck // best effort at shutdown
		}
	}
}

// listen binds UDP (Workers sockets with SO_REUSEPORT) and TCP on each
// address. With port 0 the first UDP socket's port is used for the rest.
func (s *Server) listen() error {
	for _, l := range s.cfg.Listen {
		host, port, err := net.SplitHostPort(l)
		if err != nil {
			return fmt.Errorf("dns listen %q: %w", l, err)
		}
		// With port 0 the kernel picks a port free for UDP that may be
		// taken for TCP (by any client socket): pick again, not fail.
		for attempt := 1; ; attempt++ {
			err = s.bind(l, host)
			if err == nil || port != "0" || attempt == 20 || !errors.Is(err, syscall.EADDRINUSE) {
				break
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// bind opens the UDP sockets and the TCP listener of one address, and
// keeps them only if all could be opened.
func (s *Server) bind(l, host string) error {
	first, err := listenUDP(l, s.cfg.Workers > 1)
	if err != nil {
		return fmt.Errorf("dns listen udp %s: %w", l, err)
	}
	udp := []*net.UDPConn{first}
	bound := first.LocalAddr().(*net.UDPAddr).AddrPort()
	addr := net.JoinHostPort(host, fmt.Sprint(bound.Port()))
	for i := 1; i < s.cfg.Workers; i++ {
		c, err := listenUDP(addr, true)
		if err != nil {
			s.log.Warn().Err(err).Str("addr", addr).Msg("SO_REUSEPORT socket failed; serving with fewer UDP sockets")
			break
		}
		udp = append(udp, c)
	}
	tl, err := net.Listen("tcp", addr)
	if err != nil {
		for _, c := range udp {
			c.Close()
		}
		return fmt.Errorf("dns listen tcp %s: %w", addr, err)
	}
	s.udp = append(s.udp, udp...)
	s.tcp = append(s.tcp, &dns.Server{
		Listener:      tl,
		Handler:       dns.HandlerFunc(s.serveTCP),
		MsgAcceptFunc: acceptAll,
		IdleTimeout:   func() time.Duration { return s.cfg.TCPIdleTimeout },
		ReadTimeout:   s.cfg.TCPIdleTimeout,
		WriteTimeout:  5 * time.Second,
	})
	s.mu.Lock()
	s.addrs = append(s.addrs, bound)
	s.mu.Unlock()
	s.log.Info().Str("addr", addr).Int("udp_sockets", len(udp)).Msg("dns listening")
	return nil
}

// acceptAll lets every query through to our handler, which decides
// FORMERR and NOTIMP itself so UDP and TCP behave alike. Responses are
// still ignored.
func acceptAll(dh dns.Header) dns.MsgAcceptAction {
	if dh.Bits&(1<<15) != 0 {
		return dns.MsgIgnore
	}
	return dns.MsgAccept
}
