package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
)

// Drainer is the part of the store drains need.
type Drainer interface {
	SetDrain(ctx context.Context, d store.Drain, on bool) error
	Drains(ctx context.Context) ([]store.Drain, error)
}

// maxDrainReason bounds a drain's reason: it is stored, replicated to
// every node and shown on the status page.
const maxDrainReason = 256

// maxDrainName bounds a drain's name whatever the configuration holds.
const maxDrainName = 512

// maxNamesListed bounds the valid names an unknown-name error lists.
const maxNamesListed = 50

// HandleDrains serves GET /api/v1/drains and PUT/DELETE
// /api/v1/drains/{kind}/{name} (name "region/zone" for kind zone). A name
// must be one the configuration in force (known) defines: a region, an
// availability zone "REGION/ZONE" of an endpoint, an endpoint's name;
// others are 404 with the valid names listed. An unknown name can still
// be undrained while a drain of it is stored (the configuration lost it
// since). known may be nil (no check).
func (s *Server) HandleDrains(d Drainer, known func() *zones.Config) {
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
			if name == "" || len(name) > maxDrainName {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("a name of 1 to %d bytes is required", maxDrainName))
				return
			}
			reason := r.URL.Query().Get("reason")
			if len(reason) > maxDrainReason {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("reason: %d bytes, at most %d", len(reason), maxDrainReason))
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
			defer cancel()
			if valid := drainNames(known, kind); valid != nil && !slices.Contains(valid, name) {
				stored := false
				if !on {
					ds, err := d.Drains(ctx)
					if err != nil {
						writeError(w, http.StatusServiceUnavailable, "store: "+err.Error())
						return
					}
					stored = slices.ContainsFunc(ds, func(x store.Drain) bool { return x.Kind == kind && x.Name == name })
				}
				if !stored {
					writeError(w, http.StatusNotFound, unknownDrain(kind, name, valid))
					return
				}
			}
			dr := store.Drain{Kind: kind, Name: name, By: who, Reason: reason, At: time.Now().UTC()}
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

// drainNames lists the names of kind the configuration defines, sorted;
// nil when there is no configuration to check against.
func drainNames(known func() *zones.Config, kind store.DrainKind) []string {
	if known == nil {
		return nil
	}
	cfg := known()
	if cfg == nil {
		return nil
	}
	seen := map[string]bool{}
	switch kind {
	case store.DrainRegion:
		for r := range cfg.Regions {
			seen[r] = true
		}
	default:
		for _, svc := range cfg.Services {
			for _, e := range svc.Endpoints {
				switch {
				case kind == store.DrainEndpoint && e.Name != "":
					seen[e.Name] = true
				case kind == store.DrainZone && e.Zone != "":
					seen[e.Region+"/"+e.Zone] = true
				}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// unknownDrain says name is no kind of this configuration, listing the
// valid ones (the first maxNamesListed, and how many more). The name
// quoted is cut short: it is the client's, of any length.
func unknownDrain(kind store.DrainKind, name string, valid []string) string {
	if len(name) > 100 {
		name = name[:100] + "..."
	}
	what := map[store.DrainKind]string{store.DrainRegion: "region", store.DrainZone: "availability zone (REGION/ZONE)", store.DrainEndpoint: "endpoint"}[kind]
	if len(valid) == 0 {
		return fmt.Sprintf("%q is not a known %s: the configuration defines none", name, what)
	}
	list := strings.Join(valid[:min(len(valid), maxNamesListed)], ", ")
	if len(valid) > maxNamesListed {
		list += fmt.Sprintf(" (and %d more)", len(valid)-maxNamesListed)
	}
	return fmt.Sprintf("%q is not a known %s; valid: %s", name, what, list)
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
