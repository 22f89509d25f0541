package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/rs/zerolog"
)

// controlHandler is the control API:
//
//	GET  /healthz                      200 once every device is up
//	GET  /stats                        counters per link (JSON)
//	POST /cut?a=X&b=Y                  drop all traffic between X and Y
//	POST /restore?a=X&b=Y              pass it again; without a and b: every link
//	POST /delay?a=X&b=Y&ms=N           one-way delay, both directions
//	POST /gateway/stop?addr=IP:PORT    take a gateway down
//	POST /gateway/start?addr=IP:PORT   bring it back
//
// X and Y are comma-separated site or place names; Y may be "*" for every
// site not in X. Answers are JSON: {"links": N} or {"error": "..."}.
func controlHandler(w *WAN, gws *Gateways, log zerolog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		reply(rw, http.StatusOK, map[string]any{"ok": true})
	})
	mux.HandleFunc("GET /stats", func(rw http.ResponseWriter, _ *http.Request) {
		reply(rw, http.StatusOK, w.Stats())
	})
	// pairs resolves a and b and applies f to the links between them.
	pairs := func(action string, f func(as, bs []*site, r *http.Request) (int, error)) http.HandlerFunc {
		return func(rw http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			as, err := w.Resolve(q.Get("a"), nil)
			if err != nil {
				reply(rw, http.StatusBadRequest, map[string]string{"error": "a: " + err.Error()})
				return
			}
			bs, err := w.Resolve(q.Get("b"), as)
			if err != nil {
				reply(rw, http.StatusBadRequest, map[string]string{"error": "b: " + err.Error()})
				return
			}
			n, err := f(as, bs, r)
			if err != nil {
				reply(rw, http.StatusBadRequest, map[string]string{"error": err.Error()})
				return
			}
			log.Info().Str("action", action).Str("a", q.Get("a")).Str("b", q.Get("b")).Str("ms", q.Get("ms")).Int("links", n).Msg("control")
			reply(rw, http.StatusOK, map[string]int{"links": n})
		}
	}
	mux.HandleFunc("POST /cut", pairs("cut", func(as, bs []*site, _ *http.Request) (int, error) {
		return w.Cut(as, bs, true), nil
	}))
	restore := pairs("restore", func(as, bs []*site, _ *http.Request) (int, error) {
		return w.Cut(as, bs, false), nil
	})
	mux.HandleFunc("POST /restore", func(rw http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if !q.Has("a") && !q.Has("b") {
			w.RestoreAll()
			log.Info().Str("action", "restore").Msg("control: every link restored")
			reply(rw, http.StatusOK, map[string]int{"links": -1})
			return
		}
		restore(rw, r)
	})
	mux.HandleFunc("POST /delay", pairs("delay", func(as, bs []*site, r *http.Request) (int, error) {
		ms, err := strconv.ParseFloat(r.URL.Query().Get("ms"), 64)
		if err != nil || ms < 0 || ms > maxDelayMS {
			return 0, errors.New("ms: want a number of milliseconds in 0..10000")
		}
		return w.SetDelay(as, bs, msToDur(ms)), nil
	}))
	gateway := func(f func(netip.AddrPort) error) http.HandlerFunc {
		return func(rw http.ResponseWriter, r *http.Request) {
			a, err := netip.ParseAddrPort(r.URL.Query().Get("addr"))
			if err == nil {
				err = f(a)
			}
			if err != nil {
				code := http.StatusBadRequest
				if !errors.Is(err, ErrUnknownGateway) && a.IsValid() {
					code = http.StatusInternalServerError
				}
				reply(rw, code, map[string]string{"error": err.Error()})
				return
			}
			reply(rw, http.StatusOK, map[string]any{"ok": true})
		}
	}
	mux.HandleFunc("POST /gateway/stop", gateway(gws.Stop))
	mux.HandleFunc("POST /gateway/start", gateway(gws.Start))
	return mux
}

func reply(rw http.ResponseWriter, code int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(code)
	_ = json.NewEncoder(rw).Encode(v)
}
