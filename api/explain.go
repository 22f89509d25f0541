package api

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ErrBadRequest marks an explain error that is the caller's (an unknown
// query type, say): the handler answers 400 instead of 503.
var ErrBadRequest = errors.New("bad request")

// ExplainRequest is a parsed GET /api/v1/explain.
type ExplainRequest struct {
	// Name is the queried name; Type its type name ("A" when not given).
	Name string
	Type string
	// Client is the resolver address the query comes from: the client
	// parameter, else the caller's own address.
	Client netip.Addr
	// ECS is the client subnet the query carries; the zero Prefix for
	// none. A bare address is a full-length prefix.
	ECS netip.Prefix
}

// HandleExplain serves GET /api/v1/explain?name=&type=&client=&ecs=: the
// document explain returns for the question (a routing.Explanation in
// `gtm serve`), as JSON. Reading needs no token, like status.
func (s *Server) HandleExplain(explain func(ExplainRequest) (any, error)) {
	s.Mux.HandleFunc("GET /api/v1/explain", func(w http.ResponseWriter, r *http.Request) {
		req, err := parseExplain(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		doc, err := explain(req)
		if err != nil {
			code := http.StatusServiceUnavailable
			if errors.Is(err, ErrBadRequest) {
				code = http.StatusBadRequest
			}
			writeError(w, code, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, doc)
	})
}

func parseExplain(r *http.Request) (ExplainRequest, error) {
	q := r.URL.Query()
	req := ExplainRequest{Name: q.Get("name"), Type: q.Get("type")}
	if req.Name == "" {
		return req, errors.New("name is required")
	}
	if req.Type == "" {
		req.Type = "A"
	}
	if c := q.Get("client"); c != "" {
		a, err := netip.ParseAddr(c)
		if err != nil {
			return req, errors.New("client: not an IP address: " + c)
		}
		req.Client = a.Unmap()
	} else if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		req.Client, _ = netip.ParseAddr(host)
		req.Client = req.Client.Unmap()
	}
	if e := q.Get("ecs"); e != "" {
		if !strings.Contains(e, "/") {
			a, err := netip.ParseAddr(e)
			if err != nil {
				return req, errors.New("ecs: not an address or prefix: " + e)
			}
			a = a.Unmap()
			req.ECS = netip.PrefixFrom(a, a.BitLen())
		} else {
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return req, errors.New("ecs: not an address or prefix: " + e)
			}
			req.ECS = netip.PrefixFrom(p.Addr().Unmap(), min(p.Bits(), p.Addr().Unmap().BitLen()))
		}
	}
	return req, nil
}
