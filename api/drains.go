package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gtm-project/gtm/store"
)

// Drainer is the part of the store drains need.
type Drainer interface {
	SetDrain(ctx context.Context, d store.Drain, on bool) error
	Drains(ctx context.Context) ([]store.Drain, error)
}

// HandleDrains serves GET /api/v1/drains and PUT/DELETE
// /api/v1/drains/{kind}/{name} (name "region/zone" for kind zone).
func (s *Server) HandleDrains(d Drainer) {
	s.Mux.HandleFunc("GET /api/v1/drains", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		ds, err := d.Drains(ctx)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "store: "+err.Error())
			return
		}
		if ds == nil {
			ds = []store.Drain{}
		}
		writeJSON(w, http.StatusOK, ds)
	})
	set := func(on bool) http.HandlerFunc {
		return s.requireWrite(func(w http.ResponseWriter, r *http.Request, who string) {
			kind := store.DrainKind(r.PathValue("kind"))
			name := r.PathValue("name")
			switch kind {
			case store.DrainEndpoint, store.DrainRegion, store.DrainZone:
			default:
				writeError(w, http.StatusBadRequest, "kind must be endpoint, zone or region")
				return
			}
			if name == "" {
				writeError(w, http.StatusBadRequest, "a name is required")
				return
			}
			dr := store.Drain{Kind: kind, Name: name, By: who, Reason: r.URL.Query().Get("reason"), At: time.Now().UTC()}
			ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
			defer cancel()
			if err := d.SetDrain(ctx, dr, on); err != nil {
				writeError(w, http.StatusServiceUnavailable, "store: "+err.Error())
				return
			}
			s.Log.Info().Str("kind", string(kind)).Str("name", name).Str("by", who).Bool("drained", on).Msg("drain changed")
			writeJSON(w, http.StatusOK, map[string]any{"kind": kind, "name": name, "drained": on})
		})
	}
	s.Mux.HandleFunc("PUT /api/v1/drains/{kind}/{name...}", set(true))
	s.Mux.HandleFunc("DELETE /api/v1/drains/{kind}/{name...}", set(false))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
