package main

import (
	"strconv"
	"time"

	"github.com/gtm-project/gtm/api"
	"github.com/gtm-project/gtm/health"
	gtmnode "github.com/gtm-project/gtm/node"
	"github.com/gtm-project/gtm/zones"
)

// uiData is what the status page at / shows: the newest health, with each
// service's policy and endpoint addresses from the config.
func uiData(node zones.Node, eng *gtmnode.Engine, mon *health.Monitor, backend string) api.UIData {
	st := eng.Status()
	d := api.UIData{Node: node.ID, Region: node.Region, Build: version, ConfigVersion: strconv.FormatUint(eng.Version(), 10),
		HealthAt: st.At(), Now: time.Now(), StoreBackend: backend}
	if snap := eng.Snapshot(); snap != nil {
		d.SnapshotVersion = snap.Version
	}
	policy, addr := map[string]string{}, map[[2]string]string{}
	if cfg := eng.Config(); cfg != nil {
		for _, s := range cfg.Services {
			policy[s.Name] = s.Policy
			for _, e := range s.Endpoints {
				addr[[2]string{s.Name, e.Name}] = e.Address
			}
		}
	}
	for _, r := range st.Regions() {
		d.Regions = append(d.Regions, api.UIRegion{Name: r.Name, Out: r.Out, Drained: r.Drained, Reason: r.Reason, Since: r.Since, Counts: api.UICounts(r.Counts)})
	}
	for _, z := range st.Zones() {
		d.Zones = append(d.Zones, api.UIZone{Region: z.Region, Zone: z.Zone, Out: z.Out, Drained: z.Drained, Reason: z.Reason, Since: z.Since, Counts: api.UICounts(z.Counts)})
	}
	for _, s := range st.Services() {
		us := api.UIService{Name: s.Name, Policy: policy[s.Name], Static: s.Static, FailOpen: s.FailOpen, AllDown: s.AllDown, Usable: s.Usable}
		for _, e := range s.Endpoints {
			ue := api.UIEndpoint{Name: e.Endpoint, Region: e.Region, Zone: e.Zone, Address: addr[[2]string{s.Name, e.Endpoint}],
				State: e.State.String(), Drained: e.Drained, DrainReason: e.DrainReason, Reason: e.Reason, Since: e.Since}
			for _, v := range e.Votes {
				ue.Votes = append(ue.Votes, api.UIVote{Prober: v.Prober, Source: v.Source, Verdict: v.Verdict.String(), OK: v.OK,
					Fresh: v.Fresh, Impaired: v.Impaired, RTT: v.RTT, At: v.At, Err: v.Err})
			}
			us.Endpoints = append(us.Endpoints, ue)
		}
		d.Services = append(d.Services, us)
	}
	for _, p := range st.Probers() {
		d.Probers = append(d.Probers, api.UIProber(p))
	}
	for _, t := range mon.Recent() {
		d.Transitions = append(d.Transitions, api.UITransition{At: t.At, Kind: string(t.Kind), Service: t.Service, Endpoint: t.Endpoint,
			Region: t.Region, Zone: t.Zone, Prober: t.Prober, Source: t.Source, From: t.From, To: t.To, Reason: t.Reason, Lasted: t.Lasted})
	}
	return d
}
