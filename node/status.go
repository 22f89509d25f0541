package node

import (
	"time"

	"github.com/gtm-project/gtm/health"
	"github.com/gtm-project/gtm/zones"
)

// StatusDoc is the body of /api/v1/status: node is this node's identity,
// mon the monitor sync feeds.
func StatusDoc(node zones.Node, eng *Engine, mon *health.Monitor, sync *Syncer) any {
	st := eng.Status()
	snap := eng.Snapshot()
	var snapVer uint64
	if snap != nil {
		snapVer = snap.Version
	}
	return map[string]any{
		"node":             node,
		"time":             time.Now().UTC(),
		"snapshot_version": snapVer,
		"state":            sync.State(),
		"health_at":        st.At(),
		"regions":          st.Regions(),
		"zones":            st.Zones(),
		"services":         st.Services(),
		"probers":          st.Probers(),
		"transitions":      mon.Recent(),
	}
}
