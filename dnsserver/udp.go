package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// listenUDP binds a UDP socket, with SO_REUSEPORT when several sockets
// share the address so the kernel spreads queries over them (and so over
// cores).
func listenUDP(addr string, reuse bool) (*net.UDPConn, error) {
	lc := net.ListenConfig{}
	if reuse {
		lc.Control = func(network, address string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	pc, err := lc.ListenPacket(context.Background(), "udp", addr)
	if err != nil {
		return nil, err
	}
	c := pc.(*net.UDPConn)
	// Receive buffers absorb bursts while a worker is busy.
	_ = c.SetReadBuffer(4 << 20)
	if la := c.LocalAddr().(*net.UDPAddr); la.IP.IsUnspecified() {
		// On a wildcard address the reply must leave from the address the
		// query came to: ask the kernel to tell us (IP_PKTINFO).
		err6 := ipv6.NewPacketConn(c).SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true)
		err4 := ipv4.NewPacketConn(c).SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true)
		if err4 != nil && err6 != nil {
			c.Close()
			return nil, fmt.Errorf("IP_PKTINFO on %s: %w", addr, err4)
		}
	}
	return c, nil
}

// serveUDP is one socket's loop: read, answer, write, with no goroutine
// per packet. Answering never blocks (no I/O on the answer path), so a
// loop per socket and a socket per core keep every core busy.
func (s *Server) serveUDP(c *net.UDPConn) error {
	w := newWorker()
	in := make([]byte, 4096)
	wildcard := c.LocalAddr().(*net.UDPAddr).IP.IsUnspecified()
	for {
		if wildcard {
			n, sess, err := dns.ReadFromSessionUDP(c, in)
			if err != nil {
				return udpErr(c, err)
			}
			src := netip.AddrPort{}
			if ua, ok := sess.RemoteAddr().(*net.UDPAddr); ok {
				src = ua.AddrPort()
			}
			if out := s.serveSafe(w, in[:n], protoUDP, src.Addr().Unmap()); out != nil {
				_, _ = dns.WriteToSessionUDP(c, out, sess)
			}
			continue
		}
		n, src, err := c.ReadFromUDPAddrPort(in)
		if err != nil {
			return udpErr(c, err)
		}
		if out := s.serveSafe(w, in[:n], protoUDP, src.Addr().Unmap()); out != nil {
			_, _ = c.WriteToUDPAddrPort(out, src)
		}
	}
}

func udpErr(c *net.UDPConn, err error) error {
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return fmt.Errorf("dns udp %s: %w", c.LocalAddr(), err)
}

// serveSafe is serve with a recover: a bug answers SERVFAIL and is
// counted, it does not take the listener down.
func (s *Server) serveSafe(w *worker, pkt []byte, proto int, src netip.Addr) (out []byte) {
	defer func() {
		if r := recover(); r != nil {
			s.metrics.panics.Inc()
			s.log.Error().Interface("panic", r).Msg("query handler panicked; answered SERVFAIL")
			out = s.headerOnly(w, pkt, proto, dns.RcodeServerFailure)
		}
	}()
	return s.serve(w, pkt, proto, src)
}
