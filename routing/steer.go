package routing

import (
	"sort"

	"github.com/miekg/dns"
)

// Reason says why a service answer's group was chosen.
type Reason uint8

// Reasons, in the order of the metric label values.
const (
	ReasonNone     Reason = iota // not a service answer
	ReasonSingle                 // the only group with a usable endpoint
	ReasonRule                   // a geo rule matched the client's country or continent
	ReasonLatency                // the lowest measured RTT to the client's network
	ReasonDistance               // the nearest region to the client's location
	ReasonOrder                  // first in configured order: the client has no location
	ReasonPriority               // failover: the lowest priority group is up
	ReasonFailover               // failover: a lower priority group is down
	ReasonWeighted               // weighted choice
	ReasonFailOpen               // nothing usable: answered as if everything were up
	nReasons
)

var reasonNames = [nReasons]string{"", "single", "rule", "latency", "distance", "order", "priority", "failover", "weighted", "fail_open"}

// String is the reason's metric label and explanation word.
func (r Reason) String() string {
	if r < nReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Ranking tiers of a region for the latency and geo policies, best first.
// Within a tier, the lower value wins; ties go to configured order.
const (
	tierRule     = iota // a geo rule names the region
	tierLatency         // measured RTT (value: µs)
	tierDistance        // great-circle distance (value: km)
	tierOrder           // configured order
)

var tierReason = [...]Reason{ReasonRule, ReasonLatency, ReasonDistance, ReasonOrder}

// answerService picks the answer of a traffic-managed name for one query
// and records the group, reason and scope in w.r. It returns nil when the
// family has no endpoint to answer (NODATA).
func (s *Snapshot) answerService(svc *service, t uint16, w *walk) []dns.RR {
	f := &svc.fam[famIndex(t)]
	if len(f.groups) == 0 {
		return nil
	}
	var (
		gi     int
		reason Reason
		scope  int
		rnd    = w.q.Rand
	)
	switch {
	case f.failedOpen:
		// The same for every client: all is answered as if up, in
		// configured order.
		reason = ReasonFailOpen
	case svc.policy == policyWeighted:
		reason = ReasonWeighted
		if len(f.groups[0].eps) > 1 {
			if key, bits, ok := s.weightedKey(w); ok {
				rnd, scope = key, bits
			}
		}
	case svc.policy == policyFailover:
		reason = ReasonPriority
		if f.groups[0].key != f.all[0].key {
			reason = ReasonFailover
		}
	case len(f.groups) == 1:
		reason = ReasonSingle
	default:
		gi, reason, scope = s.steer(svc, f, w)
	}
	g := &f.groups[gi]
	var rrs []dns.RR
	if svc.policy == policyWeighted {
		r := rnd % g.total
		i := sort.Search(len(g.cum), func(i int) bool { return g.cum[i] > r })
		rrs = g.rots[i]
	} else {
		rrs = g.rots[rnd%uint64(len(g.rots))]
	}
	if !w.q.ECS {
		scope = 0 // no ECS option, no scope to give: the resolver caches for all
	}
	r := w.r
	r.Service, r.Group, r.FailedOpen, r.Reason = svc.cfg.Name, g.key, f.failedOpen, reason
	r.Scope = max(r.Scope, uint8(scope))
	if w.ex != nil {
		s.explainService(svc, f, t, gi, reason, scope, w)
	}
	return rrs
}

// weightedKey is the weighted policy's stable choice for an ECS client:
// a hash of its network, cut to /24 or /56 so that a client's neighbours
// share its answer and the resolver caches one answer per network. ok is
// false without ECS: the client is then the resolver itself, and one
// answer per resolver would send a big resolver's whole population to one
// endpoint and defeat the weights; the resolver's cache already holds each
// answer for its TTL.
func (s *Snapshot) weightedKey(w *walk) (key uint64, bits int, ok bool) {
	if !w.q.ECS {
		return 0, 0, false
	}
	c := &w.cs
	c.init(w.q)
	if c.cap == 0 {
		return 0, 0, false
	}
	bits = cacheBits4
	if c.addr.Is6() {
		bits = cacheBits6
	}
	bits = min(bits, c.cap)
	p, _ := c.addr.Prefix(bits)
	return hashPrefix(p), bits, true
}

// ranking is what a latency or geo decision needs besides the regions.
type ranking struct {
	rule   int  // region a geo rule sends the client to; -1: none
	useRTT bool // at least two candidate regions have measured RTTs
}

// prepare looks the client up for a latency or geo decision among f's
// groups.
func (s *Snapshot) prepare(svc *service, f *family, w *walk) ranking {
	c := &w.cs
	loc := s.locate(w.q, c)
	rk := ranking{rule: -1}
	if svc.policy == policyGeo && len(svc.rules) > 0 && loc != nil && loc.found {
		rk.rule = matchRule(svc.rules, &loc.loc)
	}
	if svc.policy == policyLatency {
		s.measure(w.q, c)
		if c.row >= 0 {
			n := 0
			for i := range f.groups {
				if s.rtt(c, f.groups[i].region) > 0 {
					n++
				}
			}
			// One figure alone cannot rank anything against the rest.
			rk.useRTT = n >= 2
		}
	}
	return rk
}

// rank places region r for the client.
func (s *Snapshot) rank(r int, rk ranking, c *clientState) (tier int, val float64) {
	if r == rk.rule {
		return tierRule, 0
	}
	if rk.useRTT {
		if us := s.rtt(c, r); us > 0 {
			return tierLatency, float64(us)
		}
	}
	if c.loc != nil && c.loc.dist != nil {
		return tierDistance, c.loc.dist[r]
	}
	return tierOrder, 0
}

// better orders (tier, value) pairs; equal pairs keep configured order.
func better(t1 int, v1 float64, t2 int, v2 float64) bool {
	return t1 < t2 || (t1 == t2 && v1 < v2)
}

// steer chooses among the region groups of a latency or geo service: the
// best-ranked region with a usable endpoint (groups hold only those, so
// a down region falls through to the next). No sorting: one pass for the
// minimum.
func (s *Snapshot) steer(svc *service, f *family, w *walk) (gi int, reason Reason, scope int) {
	rk := s.prepare(svc, f, w)
	bestT, bestV := 0, 0.0
	for i := range f.groups {
		t, v := s.rank(f.groups[i].region, rk, &w.cs)
		if i == 0 || better(t, v, bestT, bestV) {
			gi, bestT, bestV = i, t, v
		}
	}
	return gi, tierReason[bestT], s.scopeOf(bestT, &w.cs)
}

// scopeOf is the ECS scope of a decision made in tier: the length of the
// network over which what decided it is the same, never longer than the
// client's source prefix. A rule or distance depends on the location
// database's network, a measured RTT on the latency map's; when the
// client had no figure or no location, the answer still depended on that
// absence. A latency map consulted without a covering network gives the
// full source prefix: a narrower network inside it may be measured.
func (s *Snapshot) scopeOf(tier int, c *clientState) int {
	geoBits := 0
	if c.loc != nil {
		geoBits = c.loc.bits
	}
	latBits := 0
	if c.latUsed {
		latBits = c.cap
		if c.row >= 0 {
			latBits = c.latBits
		}
	}
	var x int
	switch tier {
	case tierRule:
		x = geoBits
	case tierLatency:
		x = latBits
	default:
		x = max(geoBits, latBits)
	}
	return min(c.cap, x)
}
