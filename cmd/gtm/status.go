package main

import (
	"time"

	"github.com/gtm-project/gtm/health"
	"github.com/gtm-project/gtm/zones"
)

// statusDoc is the body of /api/v1/status.
func statusDoc(node zones.Node, eng *engine, mon *health.Monitor, sync *syncer) any {
	st := eng.status()
	snap := eng.holder.Snapshot()
	var snapVer uint64
	if snap != nil {
		snapVer = snap.Version
	}
	return map[string]any{
		"node":             node,
		"time":             time.Now().UTC(),
		"snapshot_version": snapVer,
		"state":            sync.state(),
		"health_at":        st.At(),
		"regions":          st.Regions(),
		"zones":            st.Zones(),
		"services":         st.Services(),
		"probers":          st.Probers(),
		"transitions":      mon.Recent(),
	}
}
