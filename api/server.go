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

	mu      sync.Mutex
	bound   net.Addr
	up      chan struct{}
	metrics *connMetrics
	// wrapListener, set by tests, wraps the listener.
	wrapListener func(net.Listener) net.Listener
}

// New returns a Server on addr; it starts nothing until Run.
func New(addr string, g prometheus.Gatherer, ready Readiness, log zerolog.Logger) *Server {
	s := &Server{Addr: addr, Gatherer: g, Ready: ready, Log: log, Mux: http.NewServeMux(), up: make(chan struct{})}
	reg, _ := g.(prometheus.Registerer)
	s.metrics = newConnMetrics(reg)
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
	tr := newConnTracker(lim.MaxConnections, s.metrics)
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
