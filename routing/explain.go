package routing

import (
	"math"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Explanation says how a query is answered and why: the client used, its
// location, each candidate group with its distance, measured RTT and
// health, the choice, the ECS scope. Snapshot.Explain produces it by the
// same code path as Lookup, so the two cannot disagree.
type Explanation struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Client is the address routed for ("" when unknown); ECS and
	// SourcePrefix say whether it came from an ECS option and how many of
	// its bits were used.
	Client       string `json:"client,omitempty"`
	ECS          bool   `json:"ecs"`
	SourcePrefix int    `json:"source_prefix"`
	// Location is what the location database says about the client (nil
	// when it was not consulted).
	Location *ExplainLocation `json:"location,omitempty"`
	// LatencyNetwork is the latency map's network covering the client's,
	// when the map was consulted and has one.
	LatencyNetwork string `json:"latency_network,omitempty"`
	Rcode          string `json:"rcode"`
	// Answer is the answer section, one record per line (the rotation of
	// Rand 0 of the query given).
	Answer []string `json:"answer"`
	// Services explains each traffic-managed name answered (a CNAME chain
	// may pass through more than one).
	Services []ServiceExplanation `json:"services,omitempty"`
	// Scope is the ECS scope prefix length of the answer.
	Scope           int    `json:"scope"`
	SnapshotVersion uint64 `json:"snapshot_version"`
}

// ExplainLocation is a client's location as the database has it.
type ExplainLocation struct {
	Found     bool     `json:"found"`
	Country   string   `json:"country,omitempty"`
	Continent string   `json:"continent,omitempty"`
	Lat       *float64 `json:"lat,omitempty"`
	Lon       *float64 `json:"lon,omitempty"`
	// Network is the database network holding the address.
	Network string `json:"network"`
}

// ServiceExplanation is the decision for one service.
type ServiceExplanation struct {
	Name   string `json:"name"`
	Policy string `json:"policy"`
	Family string `json:"family"` // A or AAAA
	// Groups are every region (latency, geo), priority (failover) or the
	// single group (weighted) with endpoints of the family, best first;
	// those without a usable endpoint last.
	Groups     []GroupExplanation `json:"groups"`
	Chosen     string             `json:"chosen"`
	Reason     string             `json:"reason"`
	Scope      int                `json:"scope"`
	FailedOpen bool               `json:"failed_open,omitempty"`
}

// GroupExplanation is one candidate group.
type GroupExplanation struct {
	Group string `json:"group"`
	// Rank is the place in the order, 1 first; 0 for a group that was no
	// candidate (no usable endpoint).
	Rank      int `json:"rank"`
	Endpoints int `json:"endpoints"`
	Usable    int `json:"usable"`
	// DistanceKM and RTTMS are the great-circle distance to the client
	// and the measured round trip from the region to the client's
	// network, when known.
	DistanceKM *float64 `json:"distance_km,omitempty"`
	RTTMS      *float64 `json:"rtt_ms,omitempty"`
	// Rule says a geo rule names this region for the client.
	Rule bool `json:"rule,omitempty"`
	// By is what ranked it: rule, latency, distance, order, priority,
	// weighted; or down for a group that was no candidate.
	By string `json:"by"`
}

// Explain answers q as Lookup does and says why. It allocates freely; it
// is for operators, not the answer path.
func (s *Snapshot) Explain(q *Query) Explanation {
	ex := &Explanation{
		Name: q.Name, Type: dns.TypeToString[q.Type], ECS: q.ECS, Answer: []string{},
		SnapshotVersion: s.Version,
	}
	r := &Result{}
	r.Reset()
	w := walk{q: q, r: r, ex: ex}
	s.lookup(&w)
	c := &w.cs
	c.init(q)
	if c.addr.IsValid() {
		ex.Client = c.addr.String()
		ex.SourcePrefix = c.cap
	}
	ex.Rcode = dns.RcodeToString[r.Rcode]
	for _, rr := range r.Answer {
		ex.Answer = append(ex.Answer, strings.Join(strings.Fields(rr.String()), " "))
	}
	ex.Scope = int(r.Scope)
	if c.loc != nil {
		l := &ExplainLocation{Found: c.loc.found, Country: c.loc.loc.Country, Continent: c.loc.loc.Continent}
		if c.loc.loc.HasCoords {
			lat, lon := c.loc.loc.Lat, c.loc.loc.Lon
			l.Lat, l.Lon = &lat, &lon
		}
		if n, err := c.addr.Prefix(c.loc.bits); err == nil {
			l.Network = n.String()
		}
		ex.Location = l
	}
	if c.latUsed && c.row >= 0 {
		ex.LatencyNetwork = s.latency.nets[c.row].String()
	}
	return *ex
}

// explainService records the decision answerService made: chosen is the
// index of the group it chose, ranked by the same functions steer uses.
func (s *Snapshot) explainService(svc *service, f *family, t uint16, chosen int, reason Reason, scope int, w *walk) {
	se := ServiceExplanation{
		Name: svc.cfg.Name, Policy: svc.cfg.Policy, Family: dns.TypeToString[t],
		Chosen: f.groups[chosen].key, Reason: reason.String(), Scope: scope, FailedOpen: f.failedOpen,
	}
	counts := map[string]groupCount{}
	for _, gc := range f.all {
		counts[gc.key] = gc
	}
	type ranked struct {
		g    GroupExplanation
		tier int
		val  float64
		idx  int
	}
	var list []ranked
	steered := (svc.policy == policyLatency || svc.policy == policyGeo) && !f.failedOpen
	var rk ranking
	if steered && len(f.groups) > 1 {
		rk = s.prepare(svc, f, w)
	} else {
		rk = ranking{rule: -1}
	}
	for i := range f.groups {
		g := &f.groups[i]
		gc := counts[g.key]
		ge := GroupExplanation{Group: g.key, Endpoints: gc.total, Usable: gc.usable}
		tier, val := tierOrder, 0.0
		switch {
		case f.failedOpen:
			ge.By = ReasonFailOpen.String()
		case steered && len(f.groups) > 1:
			tier, val = s.rank(g.region, rk, &w.cs)
			ge.By = tierReason[tier].String()
		default:
			ge.By = reason.String()
		}
		if g.region >= 0 {
			s.describeRegion(&ge, g.region, rk, &w.cs)
		}
		list = append(list, ranked{ge, tier, val, i})
	}
	// The chosen group first, then the others as steer would rank them;
	// for the other policies groups are already in preference order.
	slices.SortStableFunc(list, func(a, b ranked) int {
		switch {
		case a.idx == chosen:
			return -1
		case b.idx == chosen:
			return 1
		case better(a.tier, a.val, b.tier, b.val):
			return -1
		case better(b.tier, b.val, a.tier, a.val):
			return 1
		}
		return a.idx - b.idx
	})
	for i := range list {
		list[i].g.Rank = i + 1
		se.Groups = append(se.Groups, list[i].g)
	}
	for _, gc := range f.all {
		if gc.usable == 0 && !f.failedOpen {
			ge := GroupExplanation{Group: gc.key, Endpoints: gc.total, By: "down"}
			if gc.region >= 0 {
				s.describeRegion(&ge, gc.region, rk, &w.cs)
			}
			se.Groups = append(se.Groups, ge)
		}
	}
	w.ex.Services = append(w.ex.Services, se)
}

// describeRegion adds what is known of region r for the client.
func (s *Snapshot) describeRegion(ge *GroupExplanation, r int, rk ranking, c *clientState) {
	if c.loc != nil && c.loc.dist != nil {
		d := math.Round(c.loc.dist[r])
		ge.DistanceKM = &d
	}
	if c.latDone {
		if us := s.rtt(c, r); us > 0 {
			ms := float64(us) / 1000
			ge.RTTMS = &ms
		}
	}
	ge.Rule = r == rk.rule
}
