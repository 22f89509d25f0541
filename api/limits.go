package api

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

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
}

type connInfo struct {
	idle  bool
	since time.Time
}

func newConnTracker(max int, m *connMetrics) *connTracker {
	return &connTracker{max: max, metrics: m, conns: map[net.Conn]*connInfo{}}
}

func (t *connTracker) hook(c net.Conn, st http.ConnState) {
	var victim net.Conn
	t.mu.Lock()
	switch st {
	case http.StateNew:
		t.conns[c] = &connInfo{idle: true, since: time.Now()}
		t.metrics.open.Inc()
		if len(t.conns) >= t.max {
			var oldest *connInfo
			for oc, ci := range t.conns {
				if oc != c && ci.idle && (oldest == nil || ci.since.Before(oldest.since)) {
					victim, oldest = oc, ci
				}
			}
			if victim != nil {
				oldest.idle = false // closed once, even if the hook runs again before StateClosed
			}
		}
	case http.StateActive:
		if ci := t.conns[c]; ci != nil {
			ci.idle = false
		}
	case http.StateIdle:
		if ci := t.conns[c]; ci != nil {
			ci.idle, ci.since = true, time.Now()
		}
	case http.StateHijacked, http.StateClosed:
		if _, ok := t.conns[c]; ok {
			delete(t.conns, c)
			t.metrics.open.Dec()
		}
	}
	t.mu.Unlock()
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
