package node

import (
	"github.com/gtm-project/gtm/health"
	"github.com/gtm-project/gtm/store"
)

// savedHealth answers routing (routing.Health) from a last-known-good
// file's health.
type savedHealth store.SavedHealth

// Usable implements routing.Health: unknown endpoints are usable, as with
// live health, so a restart never blanks an answer.
func (h savedHealth) Usable(service, endpoint string) bool {
	s, ok := h[service+"/"+endpoint]
	return !ok || (!s.Drained && s.State != "down")
}

// healthOf is the health a last-known-good file keeps of st.
func healthOf(st *health.Status) store.SavedHealth {
	out := store.SavedHealth{}
	for _, svc := range st.Services() {
		for _, ep := range svc.Endpoints {
			out[ep.Service+"/"+ep.Endpoint] = store.SavedState{State: ep.State.String(), Drained: ep.Drained}
		}
	}
	return out
}
