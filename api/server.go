// Package api is gtm's HTTP side: Prometheus metrics, liveness and
// readiness, and (as it grows) the operator API under /api/v1/.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	stdlog "log"

	"golang.org/x/net/netutil"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// Readiness reports whether this node should receive traffic, and why not.
type Readiness func() (ready bool, detail map[string]any)

// Server serves the HTTP endpoints.
type Server struct {
	Addr     string
	Gatherer prometheus.Gatherer
	Ready    Readiness
	Log      zerolog.Logger
	// Mux lets other parts add handlers before Run.
	Mux *http.ServeMux
	// Tokens authorise state-changing calls.
	Tokens Tokens
	// CertFile and KeyFile, when set, serve HTTPS instead of HTTP.
	CertFile, KeyFile string
	// Limits (api.max_connections, api.read_timeout, api.write_timeout,
	// api.idle_timeout); zero values take the defaults below.
	Limits Limits

	mu    sync.Mutex
	bound net.Addr
	up    chan struct{}
	conns *connMetrics
	// wrapListener, set by tests, wraps the listener.
	wrapListener func(net.Listener) net.Listener

	auth    *authLimiter
	metrics *apiMetrics
}

// apiMetrics are the API's own limits at work.
type apiMetrics struct {
	authFailures  prometheus.Counter
	authThrottled prometheus.Counter
	editsWaiting  prometheus.Gauge
	editsRunning  prometheus.Gauge
	editsRejected prometheus.Counter
	editsLimited  prometheus.Counter
}

func newAPIMetrics() *apiMetrics {
	return &apiMetrics{
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "gtm", Name: "api_auth_failures_total",
			Help: "Requests refused for a bearer token that matches no token in api.token_file.",
		}),
		authThrottled: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "gtm", Name: "api_auth_throttled_total",
			Help: "Requests answered 429 because their client spent its budget of failed authentications.",
		}),
		editsWaiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "gtm", Name: "api_edits_waiting",
			Help: "Edits (PUT, DELETE, rollback, dry runs) waiting for one of api.max_concurrent_edits.",
		}),
		editsRunning: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "gtm", Name: "api_edits_in_progress",
			Help: "Edits being read, parsed and validated now (at most api.max_concurrent_edits).",
		}),
		editsRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "gtm", Name: "api_edits_rejected_total",
			Help: "Edits answered 503 because no slot of api.max_concurrent_edits freed up before their deadline.",
		}),
		editsLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "gtm", Name: "api_edit_limit_refusals_total",
			Help: "Zone edits refused for going over limits.zone_max_records or limits.generate_max_range.",
		}),
	}
}

// New returns a Server on addr; it starts nothing until Run.
func New(addr string, g prometheus.Gatherer, ready Readiness, log zerolog.Logger) *Server {
	s := &Server{Addr: addr, Gatherer: g, Ready: ready, Log: log, Mux: http.NewServeMux(), up: make(chan struct{}),
		auth: newAuthLimiter(log), metrics: newAPIMetrics()}
	reg, _ := g.(prometheus.Registerer)
	s.conns = newConnMetrics(reg)
	// The registry passed (a *prometheus.Registry) takes the API's own
	// metrics too.
	if reg != nil {
		m := s.metrics
		reg.MustRegister(m.authFailures, m.authThrottled, m.editsWaiting, m.editsRunning, m.editsRejected, m.editsLimited)
	}
	s.Mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: nil}))
	s.Mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	s.Mux.HandleFunc("GET /readyz", s.readyz)
	return s
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	ok, detail := true, map[string]any{}
	if s.Ready != nil {
		ok, detail = s.Ready()
	}
	detail["ready"] = ok
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(detail)
}

// Bound is the address listened on, after Started.
func (s *Server) Bound() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bound
}

// Started is closed once the listener is bound.
func (s *Server) Started() <-chan struct{} { return s.up }

// Run serves until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	l, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.bound = l.Addr()
	s.mu.Unlock()
	close(s.up)
	lim := s.Limits.withDefaults()
	tr := newConnTracker(lim.MaxConnections, s.conns)
	if s.wrapListener != nil {
		l = s.wrapListener(l)
	}
	l = netutil.LimitListener(l, lim.MaxConnections)
	hs := &http.Server{
		Handler:           s.Mux,
		ReadHeaderTimeout: min(5*time.Second, lim.ReadTimeout),
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ConnState:         tr.hook,
		ErrorLog:          stdlog.New(&rareWriter{log: s.Log}, "", 0),
	}
	errc := make(chan error, 1)
	go func() {
		if s.CertFile != "" {
			errc <- hs.ServeTLS(l, s.CertFile, s.KeyFile)
			return
		}
		errc <- hs.Serve(l)
	}()
	s.Log.Info().Str("addr", l.Addr().String()).Msg("http listening")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = hs.Shutdown(sctx)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}
