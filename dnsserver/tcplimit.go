package dnsserver

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Reasons a TCP connection ends or is refused, the values of
// gtm_dns_tcp_closed_total{reason}.
const (
	closeIdle      = "idle"       // no query within the idle timeout
	closeSlow      = "slow"       // a query started but did not arrive whole within the timeout
	closeEvicted   = "evicted"    // the oldest idle connection, closed to make room
	closePerClient = "per_client" // refused: the client's network is at dns.tcp.max_per_client
	closeCap       = "cap"        // refused: the listener is at dns.tcp.max_connections
	closeClient    = "client"     // the client closed or reset it
	closeWrite     = "write"      // an answer could not be written in time
	closeShutdown  = "shutdown"   // gtm is stopping
)

var closeReasons = []string{closeIdle, closeSlow, closeEvicted, closePerClient, closeCap, closeClient, closeWrite, closeShutdown}

// tcpConn is one accepted connection as its listener's tcpLimiter sees it.
type tcpConn struct {
	c   net.Conn
	key netip.Prefix // the client's /24 or /56
	// idleSince is when the connection began waiting for a query (Unix
	// ns), 0 while a query is read or answered, and evictedMark once the
	// limiter closed it to make room. The connection's goroutine and the
	// limiter change it by compare-and-swap, so a connection is never
	// evicted in the middle of a query.
	idleSince atomic.Int64
	idx       int  // position in tcpLimiter.conns; guarded by tcpLimiter.mu
	removed   bool // guarded by tcpLimiter.mu
}

const evictedMark = -1

// tcpLimiter bounds the connections of one TCP listener: at most max in
// all and perClient per client network. A connection past a cap closes the
// oldest idle connection (of that network for perClient) to make room, as
// Knot and BIND do; only when none is idle is the new one refused. Above
// 3/4 of max the idle timeout drops to pressureIdle (RFC 7766 §6.2.3).
type tcpLimiter struct {
	s            *Server
	max          int
	perClient    int
	idle         time.Duration
	pressureIdle time.Duration
	pressure     atomic.Bool

	mu     sync.Mutex
	conns  []*tcpConn
	perKey map[netip.Prefix]int
}

func newTCPLimiter(s *Server) *tcpLimiter {
	return &tcpLimiter{
		s: s, max: s.cfg.TCPMaxConns, perClient: s.cfg.TCPMaxPerClient,
		idle: s.cfg.TCPIdleTimeout, pressureIdle: min(s.cfg.TCPPressureIdleTimeout, s.cfg.TCPIdleTimeout),
		perKey: map[netip.Prefix]int{},
	}
}

// clientNetwork is the unit of dns.tcp.max_per_client: a /24 or a /56, the
// networks one customer or one attacker host usually has.
func clientNetwork(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 56
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p
}

// idleTimeout is how long a connection may wait for its next query, and
// how long a query may take to arrive once it started.
func (l *tcpLimiter) idleTimeout() time.Duration {
	if l.pressure.Load() {
		return l.pressureIdle
	}
	return l.idle
}

// admit registers c, closing an idle connection to make room if a cap is
// reached. It returns nil if c must be refused, with the reason.
func (l *tcpLimiter) admit(c net.Conn, src netip.Addr) (*tcpConn, string) {
	tc := &tcpConn{c: c, key: clientNetwork(src)}
	var victim *tcpConn
	l.mu.Lock()
	switch {
	case l.perKey[tc.key] >= l.perClient:
		if victim = l.evictOldestIdleLocked(tc.key, true); victim == nil {
			l.mu.Unlock()
			return nil, closePerClient
		}
	case len(l.conns) >= l.max:
		if victim = l.evictOldestIdleLocked(netip.Prefix{}, false); victim == nil {
			l.mu.Unlock()
			return nil, closeCap
		}
	}
	tc.idx = len(l.conns)
	l.conns = append(l.conns, tc)
	l.perKey[tc.key]++
	l.s.metrics.tcpConns.Inc()
	l.checkPressureLocked()
	l.mu.Unlock()
	if victim != nil {
		l.s.metrics.tcpClosed[closeEvicted].Inc()
		victim.c.Close()
	}
	return tc, ""
}

// evictOldestIdleLocked claims the idle connection idle the longest (of
// network key when sameKey) and removes it; the caller closes it.
func (l *tcpLimiter) evictOldestIdleLocked(key netip.Prefix, sameKey bool) *tcpConn {
	for range 3 { // a candidate may turn busy under us; then look again
		var oldest *tcpConn
		var since int64
		for _, tc := range l.conns {
			if sameKey && tc.key != key {
				continue
			}
			if t := tc.idleSince.Load(); t > 0 && (oldest == nil || t < since) {
				oldest, since = tc, t
			}
		}
		if oldest == nil {
			return nil
		}
		if oldest.idleSince.CompareAndSwap(since, evictedMark) {
			l.removeLocked(oldest)
			return oldest
		}
	}
	return nil
}

// release forgets tc when its goroutine ends (a no-op if it was evicted).
func (l *tcpLimiter) release(tc *tcpConn) {
	l.mu.Lock()
	l.removeLocked(tc)
	l.mu.Unlock()
}

func (l *tcpLimiter) removeLocked(tc *tcpConn) {
	if tc.removed {
		return
	}
	tc.removed = true
	last := l.conns[len(l.conns)-1]
	l.conns[tc.idx] = last
	last.idx = tc.idx
	l.conns[len(l.conns)-1] = nil
	l.conns = l.conns[:len(l.conns)-1]
	if l.perKey[tc.key]--; l.perKey[tc.key] <= 0 {
		delete(l.perKey, tc.key)
	}
	l.s.metrics.tcpConns.Dec()
	l.checkPressureLocked()
}

// checkPressureLocked switches the short idle timeout on above 3/4 of the
// cap (and off below it). Switching on cuts the wait of the connections
// already idle too, not only of those that go idle from now on.
func (l *tcpLimiter) checkPressureLocked() {
	under := len(l.conns)*4 > l.max*3
	if under == l.pressure.Load() {
		return
	}
	l.pressure.Store(under)
	if !under {
		return
	}
	l.s.notePressure()
	for _, tc := range l.conns {
		if t := tc.idleSince.Load(); t > 0 {
			_ = tc.c.SetReadDeadline(time.Unix(0, t).Add(l.pressureIdle))
		}
	}
}

// rareLog lets a log line through at most once per interval and counts
// the events it held back, so an attack cannot flood the log: the next
// line that gets through reports how many there were.
type rareLog struct {
	mu      sync.Mutex
	last    time.Time
	skipped int
}

const rareLogEvery = time.Minute

// allow reports whether to log now and how many events were held back
// since the last line.
func (r *rareLog) allow(now time.Time) (bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.last.IsZero() && now.Sub(r.last) < rareLogEvery {
		r.skipped++
		return false, 0
	}
	n := r.skipped
	r.last, r.skipped = now, 0
	return true, n
}

// notePressure logs (rarely) that a listener went above 3/4 of its cap.
func (s *Server) notePressure() {
	if ok, n := s.pressureLog.allow(time.Now()); ok {
		s.log.Warn().Int("max_connections", s.cfg.TCPMaxConns).Dur("idle_timeout", min(s.cfg.TCPPressureIdleTimeout, s.cfg.TCPIdleTimeout)).
			Int("times_since_last_line", n).Msg("dns tcp connections above 3/4 of the cap; idle timeout shortened")
	}
}

// noteRefused logs (rarely) a connection refused at a cap.
func (s *Server) noteRefused(reason string, src netip.Addr) {
	s.metrics.tcpClosed[reason].Inc()
	if ok, n := s.refuseLog.allow(time.Now()); ok {
		s.log.Warn().Str("reason", reason).Str("client", src.String()).Int("refused_since_last_line", n).
			Msg("dns tcp connection refused: cap reached and no idle connection to close")
	}
}
