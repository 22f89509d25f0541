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
	"sync/atomic"
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
	// TCPMaxConns caps the open TCP connections per listener
	// (dns.tcp.max_connections). A connection past it closes the
	// oldest idle one, or is refused if none is idle. Default 1000.
	TCPMaxConns int
	// TCPMaxPerClient caps the TCP connections per client /24 (IPv4) or
	// /56 (IPv6) per listener (dns.tcp.max_per_client), the same way.
	// Default 10.
	TCPMaxPerClient int
	// TCPPressureIdleTimeout replaces TCPIdleTimeout while a listener
	// holds more than 3/4 of TCPMaxConns. Default 1s.
	TCPPressureIdleTimeout time.Duration
	// ECSMaxPrefixV4 and ECSMaxPrefixV6 are the longest EDNS Client Subnet
	// source prefixes used to route (dns.ecs.max_prefix_v4/v6); longer
	// ones are cut to them. Defaults 24 and 56 (RFC 7871 §11.1).
	ECSMaxPrefixV4 int
	ECSMaxPrefixV6 int
	// Sampler, when set, is given the source addresses of queries about
	// our zones (see Sampler). Nil samples nothing.
	Sampler *Sampler
	// Cookies, when set, turns DNS cookies on (RFC 7873, RFC 9018 server
	// cookies) with these secrets, which the caller may replace at any
	// time (CookieSecrets.Set). Nil ignores COOKIE options.
	Cookies *CookieSecrets
	// RRL is response rate limiting over UDP; Rate 0 (the default) is off.
	RRL RRLConfig
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
	ecsMax4 int
	ecsMax6 int
	sampler *Sampler
	cookies *CookieSecrets
	rrl     *rrl

	mu    sync.Mutex
	addrs []netip.AddrPort
	ready chan struct{}
	udp   []*net.UDPConn
	tcp   []net.Listener
	conns map[net.Conn]struct{} // open TCP connections; guarded by mu
	// limiters are the connection limiters of tcp, index for index; set
	// before Ready.
	limiters []*tcpLimiter
	connWG   sync.WaitGroup
	closing  atomic.Bool
	workers  sync.Pool

	acceptLog, pressureLog, refuseLog rareLog
	// wrapListener, set by tests, wraps each TCP listener.
	wrapListener func(net.Listener) net.Listener
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
	if cfg.TCPMaxConns <= 0 {
		cfg.TCPMaxConns = 1000
	}
	if cfg.TCPMaxPerClient <= 0 {
		cfg.TCPMaxPerClient = 10
	}
	if cfg.TCPPressureIdleTimeout <= 0 {
		cfg.TCPPressureIdleTimeout = time.Second
	}
	if cfg.ECSMaxPrefixV4 <= 0 {
		cfg.ECSMaxPrefixV4 = 24
	}
	if cfg.ECSMaxPrefixV6 <= 0 {
		cfg.ECSMaxPrefixV6 = 56
	}
	s := &Server{
		cfg: cfg, source: src, log: log, metrics: NewMetrics(reg), now: time.Now,
		udpSize: cfg.UDPSize, nodeID: cfg.NodeID, version: cfg.Version,
		ecsMax4: min(cfg.ECSMaxPrefixV4, 32), ecsMax6: min(cfg.ECSMaxPrefixV6, 128), sampler: cfg.Sampler,
		ready: make(chan struct{}), conns: map[net.Conn]struct{}{},
		cookies: cfg.Cookies,
	}
	if cfg.NSID != "" {
		s.nsid = &dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: fmt.Sprintf("%x", cfg.NSID)}
	}
	s.rrl = newRRL(cfg.RRL, log, s.metrics.rrlEvictions)
	if s.rrl != nil {
		log.Info().Int("rate", cfg.RRL.Rate).Int("slip", cfg.RRL.Slip).Bool("log_only", cfg.RRL.LogOnly).
			Int("table_size", len(s.rrl.buckets)).Msg("response rate limiting on (UDP)")
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
	for i, l := range s.tcp {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.serveTCPListener(l, s.limiters[i]); err != nil {
				errc <- err
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
	s.shutdownTCP(ctx)
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
	if s.wrapListener != nil {
		tl = s.wrapListener(tl)
	}
	s.tcp = append(s.tcp, tl)
	s.mu.Lock()
	s.limiters = append(s.limiters, newTCPLimiter(s))
	s.addrs = append(s.addrs, bound)
	s.mu.Unlock()
	s.log.Info().Str("addr", addr).Int("udp_sockets", len(udp)).Msg("dns listening")
	return nil
}
