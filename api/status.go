package api

import "net/http"

// HandleStatus serves GET /api/v1/status: a JSON document made by status
// for each request (regions, endpoints with per-prober health, versions).
func (s *Server) HandleStatus(status func() any) {
	s.Mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, status())
	})
}
