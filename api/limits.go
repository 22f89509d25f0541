package api

import (
	"crypto/tls"
	"syscall"

	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// MaxHeaderBytes bounds a request's header: far above what the API, the
// status page and Prometheus send.
const MaxHeaderBytes = 64 << 10

// Limits bound the HTTP server against slow or idle clients.
type Limits struct {
	// MaxConnections is the most open connections (default 256). When
	// full, accept waits and the oldest idle connection (keep-alive, or
	// opened without a request yet) is closed to make room.
	MaxConnections int
	// ReadTimeout bounds reading one request, body included (default
	// 30s: a 16 MiB edit at about 5 Mbit/s). The header alone must come
	// within min(5s, ReadTimeout).
	ReadTimeout time.Duration
	// WriteTimeout bounds handling and writing one response (default 60s).
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection with no new request
	// (default 60s).
	IdleTimeout time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.MaxConnections <= 0 {
		l.MaxConnections = 256
	}
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = 30 * time.Second
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = 60 * time.Second
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = 60 * time.Second
	}
	return l
}

// connMetrics are the HTTP connection series.
type connMetrics struct {
	open    prometheus.Gauge
	evicted prometheus.Counter
}

func newConnMetrics(reg prometheus.Registerer) *connMetrics {
	m := &connMetrics{
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "gtm", Subsystem: "api", Name: "connections",
			Help: "Open HTTP connections to the API listener.",
		}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "gtm", Subsystem: "api", Name: "connections_evicted_total",
			Help: "Idle HTTP connections closed because api.max_connections was reached.",
		}),
	}
	if reg != nil {
		m.open = register(reg, m.open).(prometheus.Gauge)
		m.evicted = register(reg, m.evicted).(prometheus.Counter)
	}
	return m
}

// register registers c, or returns the collector already registered under
// its name (a second Server on the same registry shares the series).
func register(reg prometheus.Registerer, c prometheus.Collector) prometheus.Collector {
	if err := reg.Register(c); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			return are.ExistingCollector
		}
	}
	return c
}

// connTracker follows connections through http.Server.ConnState. When a
// new connection fills the last slot of the cap, it closes the connection
// idle the longest, so the next accept never waits on idle ones:
// attackers holding connections open only push out each other.
type connTracker struct {
	max     int
	metrics *connMetrics

	mu    sync.Mutex
	conns map[net.Conn]*connInfo
	// recheck is a look for a victim scheduled at recheckAt, when a
	// grace ends (nil: none).
	recheck   *time.Timer
	recheckAt time.Time
}

type connInfo struct {
	idle  bool
	since time.Time
	// fresh: accepted, no request read yet.
	fresh bool
}

// newGrace and idleGrace are how long a connection must have been silent,
// since it was accepted or since its last response, before a full cap may
// close it. A client sends its request as soon as it connects, and reuses
// a keep-alive connection at once when it has more to send: one still
// silent after that is holding a slot (a slow or idle attacker), while
// younger ones are real clients in a burst, which must not push each other
// out (a PUT sent on a connection closed under it fails: it is not
// retried). newGrace also sets how fast held connections are cleared from
// a full cap: max_connections per newGrace.
const (
	newGrace  = time.Second
	idleGrace = 5 * time.Second
)

func newConnTracker(max int, m *connMetrics) *connTracker {
	return &connTracker{max: max, metrics: m, conns: map[net.Conn]*connInfo{}}
}

func (t *connTracker) hook(c net.Conn, st http.ConnState) {
	var victim net.Conn
	t.mu.Lock()
	switch st {
	case http.StateNew:
		t.conns[c] = &connInfo{idle: true, fresh: true, since: time.Now()}
		t.metrics.open.Inc()
		victim = t.victimLocked(c)
	case http.StateActive:
		if ci := t.conns[c]; ci != nil {
			ci.idle, ci.fresh = false, false
		}
	case http.StateIdle:
		if ci := t.conns[c]; ci != nil {
			ci.idle, ci.since = true, time.Now()
			if len(t.conns) >= t.max {
				// Accept is waiting on the cap: this connection may make
				// room once its grace ends.
				t.scheduleLocked(ci.since.Add(idleGrace))
			}
		}
	case http.StateHijacked, http.StateClosed:
		if _, ok := t.conns[c]; ok {
			delete(t.conns, c)
			t.metrics.open.Dec()
		}
	}
	t.mu.Unlock()
	t.evict(victim)
}

// victimLocked picks the connection to close when the cap is full (the
// one idle the longest, not c), or, when only fresh ones could be, looks
// again once the youngest grace ends: accept waits meanwhile.
func (t *connTracker) victimLocked(c net.Conn) net.Conn {
	if len(t.conns) < t.max {
		return nil
	}
	now := time.Now()
	var victim net.Conn
	var oldest *connInfo
	var graceEnds time.Time
	for oc, ci := range t.conns {
		if oc == c || !ci.idle {
			continue
		}
		grace := idleGrace
		if ci.fresh {
			grace = newGrace
		}
		if now.Sub(ci.since) < grace {
			if end := ci.since.Add(grace); graceEnds.IsZero() || end.Before(graceEnds) {
				graceEnds = end
			}
			continue
		}
		if oldest == nil || ci.since.Before(oldest.since) {
			if ci.fresh && pending(oc) {
				// Its request is there, the server has not read it yet
				// (a busy node): a real client, not one holding a slot.
				// It turns active, or idle, soon: look again then.
				if end := now.Add(newGrace); graceEnds.IsZero() || end.Before(graceEnds) {
					graceEnds = end
				}
				continue
			}
			victim, oldest = oc, ci
		}
	}
	if victim != nil {
		oldest.idle = false // closed once, even if the hook runs again before StateClosed
		return victim
	}
	if !graceEnds.IsZero() {
		t.scheduleLocked(graceEnds)
	}
	return nil
}

// scheduleLocked looks for a victim again at at (at most one look is
// pending; an earlier one replaces a later one).
func (t *connTracker) scheduleLocked(at time.Time) {
	if t.recheck != nil && !t.recheckAt.After(at) {
		return
	}
	if t.recheck != nil {
		t.recheck.Stop()
	}
	t.recheckAt = at
	t.recheck = time.AfterFunc(time.Until(at)+time.Millisecond, func() {
		t.mu.Lock()
		t.recheck = nil
		v := t.victimLocked(nil)
		t.mu.Unlock()
		t.evict(v)
	})
}

func (t *connTracker) evict(victim net.Conn) {
	if victim != nil {
		t.metrics.evicted.Inc()
		victim.Close()
	}
}

// rareWriter takes net/http's error log (accept errors such as EMFILE,
// TLS handshake failures: one line per bad client) to zerolog at most
// once a minute, with the count of the lines held back.
type rareWriter struct {
	log     zerolog.Logger
	mu      sync.Mutex
	last    time.Time
	skipped int
}

func (w *rareWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	now := time.Now()
	if !w.last.IsZero() && now.Sub(w.last) < time.Minute {
		w.skipped++
		w.mu.Unlock()
		return len(p), nil
	}
	n := w.skipped
	w.last, w.skipped = now, 0
	w.mu.Unlock()
	w.log.Warn().Int("held_back", n).Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}

// pending says whether c's socket holds bytes not read yet (MSG_PEEK): a
// client that sent its request. Errors read as no.
func pending(c net.Conn) bool {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var n int
	var buf [1]byte
	_ = rc.Control(func(fd uintptr) {
		n, _, _ = unix.Recvfrom(int(fd), buf[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	})
	return n > 0
}
