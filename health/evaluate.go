package health

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
)

// ControlService is the Service name probers give results for their control
// targets (zones.Prober.ControlTargets): addresses outside every service
// that a healthy vantage point can always reach.
const ControlService = "_control"

// StaleIntervals is how many check intervals a result stays fresh. Three
// tolerates a late or lost write or two, and a dead prober stops voting
// within seconds of its last result instead of at the store's TTL.
const StaleIntervals = 3

// Input is everything Evaluate looks at.
type Input struct {
	Config *zones.Config
	// Results are the latest result per (service, endpoint, prober), as
	// store.Store.Results returns them; order does not matter.
	Results []store.ProbeResult
	Drains  []store.Drain
	// Now decides which results are fresh; it is passed in so that the
	// answer depends on the store contents and nothing else.
	Now time.Time
}

// endpointRef is an endpoint being evaluated: where its status lives in the
// Status under construction, and what the config says about it.
type endpointRef struct {
	st       *EndpointStatus
	checked  bool
	interval time.Duration
	results  []*store.ProbeResult
}

// Evaluate computes the health of every configured endpoint, region, zone
// and service from probe results and drains. It is pure and deterministic:
// the same Input gives the same Status on every node, whatever the order of
// Results and Drains.
//
// Per endpoint, only fresh results of non-impaired probers vote, and a
// prober still between rise and fall (Unknown) abstains. The endpoint is
// Down when a strict majority of the votes say Down, Up when any vote says
// Up without such a majority (a split keeps the endpoint in answers), and
// Unknown, which is usable, when nobody votes.
func Evaluate(in Input) *Status {
	st := &Status{
		at:       in.Now,
		svcIndex: map[string]int{},
		epIndex:  map[string]map[string]int{},
		regions:  map[string]RegionStatus{},
		zones:    map[zoneKey]ZoneStatus{},
	}
	refs, base := layout(st, in)
	probers := collect(st, in, refs, base)
	markImpaired(probers, refs, in.Now, &st.next)
	for i := range refs {
		vote(&refs[i], probers, in.Now, &st.next)
	}
	drained := applyDrains(refs, in.Drains)
	aggregate(st, drained, in.Now)
	st.probers = make([]ProberStatus, 0, len(probers))
	for _, p := range probers {
		st.probers = append(st.probers, p.ProberStatus)
	}
	slices.SortFunc(st.probers, func(a, b ProberStatus) int { return cmp.Compare(a.ID, b.ID) })
	return st
}

// layout creates a ServiceStatus per configured service and an
// EndpointStatus per endpoint, and returns the endpoints to evaluate in
// config order, with base[i] the index in refs of service i's first one.
func layout(st *Status, in Input) (refs []endpointRef, base []int) {
	if in.Config == nil {
		return nil, nil
	}
	n := 0
	for _, svc := range in.Config.Services {
		if svc != nil {
			n += len(svc.Endpoints)
		}
	}
	refs = make([]endpointRef, 0, n)
	for _, svc := range in.Config.Services {
		if svc == nil {
			continue
		}
		// Validation rejects duplicates; if one slips through, the first
		// definition wins, as it would in routing's lookups.
		if _, dup := st.svcIndex[svc.Name]; dup {
			continue
		}
		ss := ServiceStatus{
			Name:      svc.Name,
			Static:    svc.Check == nil,
			FailOpen:  svc.FailsOpen(),
			Endpoints: make([]EndpointStatus, 0, len(svc.Endpoints)),
		}
		var idx map[string]int // only for large services: see endpointIndex
		if len(svc.Endpoints) > smallService {
			idx = make(map[string]int, len(svc.Endpoints))
		}
		for _, ep := range svc.Endpoints {
			if ep == nil {
				continue
			}
			if dupEndpoint(idx, ss.Endpoints, ep.Name) {
				continue
			}
			if idx != nil {
				idx[ep.Name] = len(ss.Endpoints)
			}
			ss.Endpoints = append(ss.Endpoints, EndpointStatus{
				Service:  svc.Name,
				Endpoint: ep.Name,
				Region:   ep.Region,
				Zone:     ep.Zone,
				Since:    in.Now,
			})
		}
		interval := zones.DefaultInterval
		if svc.Check != nil && svc.Check.Interval > 0 {
			interval = svc.Check.Interval.D()
		}
		base = append(base, len(refs))
		// The pointers stay valid: ss.Endpoints is not appended to again,
		// and copying ss into st.services copies only the slice header.
		for ei := range ss.Endpoints {
			refs = append(refs, endpointRef{st: &ss.Endpoints[ei], checked: svc.Check != nil, interval: interval})
		}
		st.svcIndex[svc.Name] = len(st.services)
		if idx != nil {
			st.epIndex[svc.Name] = idx
		}
		st.services = append(st.services, ss)
	}
	return refs, base
}

// dupEndpoint reports whether name is among the endpoints laid out so
// far: in idx when there is one, else in eps.
func dupEndpoint(idx map[string]int, eps []EndpointStatus, name string) bool {
	if idx != nil {
		_, dup := idx[name]
		return dup
	}
	for i := range eps {
		if eps[i].Endpoint == name {
			return true
		}
	}
	return false
}

// proberAcc gathers what the results say about one prober.
type proberAcc struct {
	ProberStatus
	control []*store.ProbeResult
	// down counts, per region, the checked endpoints this prober freshly
	// sees Down.
	down map[string]int
}

// proberID names the prober of a result; results without an id fall back
// to the region, one prober per region being the usual deployment.
func proberID(r *store.ProbeResult) string {
	if r.Prober != "" {
		return r.Prober
	}
	return r.Source
}

// verdictOf is the prober's rise/fall verdict carried by a result. A result
// without one (a prober that runs no Tracker) votes its raw outcome.
func verdictOf(r *store.ProbeResult) State {
	if r.Verdict == "" {
		if r.OK {
			return Up
		}
		return Down
	}
	return ParseState(r.Verdict)
}

// isFresh reports whether a result taken at at still votes at now. A result
// from the future (clock skew between nodes) is fresh. A fresh result
// lowers *next to when it goes stale, when next is not nil.
func isFresh(now, at time.Time, r, fallback time.Duration, next *time.Time) bool {
	if r <= 0 {
		r = fallback
	}
	if now.Sub(at) > StaleIntervals*r {
		return false
	}
	if stale := at.Add(StaleIntervals*r + time.Nanosecond); next != nil && (next.IsZero() || stale.Before(*next)) {
		*next = stale
	}
	return true
}

// collect sorts results into endpoints and probers, keeping the newest
// result per (endpoint, prober) and per (control target, prober).
func collect(st *Status, in Input, refs []endpointRef, base []int) map[string]*proberAcc {
	probers := map[string]*proberAcc{}
	// Two passes so that all endpoints share one backing array instead of
	// growing a slice each (a third of Evaluate's allocations otherwise).
	target := make([]int32, len(in.Results)) // index into refs, or -1
	counts := make([]int32, len(refs))
	for i := range in.Results {
		r := &in.Results[i]
		target[i] = -1
		id := proberID(r)
		p := probers[id]
		if p == nil {
			p = &proberAcc{ProberStatus: ProberStatus{ID: id, Region: r.Source, LastSeen: r.At, Since: in.Now}, down: map[string]int{}}
			probers[id] = p
		} else if r.At.After(p.LastSeen) || (r.At.Equal(p.LastSeen) && r.Source < p.Region) {
			p.LastSeen, p.Region = r.At, r.Source
		}
		if r.Service == ControlService {
			p.control = append(p.control, r)
			continue
		}
		si, ei, ok := st.endpointIndex(r.Service, r.Endpoint)
		if !ok {
			continue // an endpoint no longer configured
		}
		ri := base[si] + ei
		target[i] = int32(ri)
		counts[ri]++
	}
	backing := make([]*store.ProbeResult, 0, len(in.Results))
	for i := range refs {
		refs[i].results = backing[len(backing) : len(backing) : len(backing)+int(counts[i])]
		backing = backing[:len(backing)+int(counts[i])]
	}
	for i, ri := range target {
		if ri >= 0 {
			refs[ri].results = append(refs[ri].results, &in.Results[i])
		}
	}
	for i := range refs {
		refs[i].results = newestPerProber(refs[i].results, func(r *store.ProbeResult) string { return proberID(r) })
	}
	for _, p := range probers {
		p.control = newestPerProber(p.control, func(r *store.ProbeResult) string { return r.Endpoint + "\x00" + r.Target })
	}
	return probers
}

// newestPerProber sorts rs by key and keeps the newest result of each key.
// Ties on time are broken on content so that the outcome never depends on
// input order.
func newestPerProber(rs []*store.ProbeResult, key func(*store.ProbeResult) string) []*store.ProbeResult {
	if len(rs) < 2 {
		return rs
	}
	slices.SortFunc(rs, func(a, b *store.ProbeResult) int {
		return cmp.Or(
			cmp.Compare(key(a), key(b)),
			b.At.Compare(a.At),
			cmp.Compare(a.Verdict, b.Verdict),
			cmp.Compare(a.Err, b.Err),
			boolCompare(a.OK, b.OK),
		)
	})
	out := rs[:1]
	for _, r := range rs[1:] {
		if key(r) != key(out[len(out)-1]) {
			out = append(out, r)
		}
	}
	return out
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// vote decides one endpoint's State from its probers' fresh verdicts.
func vote(ref *endpointRef, probers map[string]*proberAcc, now time.Time, next *time.Time) {
	e := ref.st
	e.Votes = make([]Vote, 0, len(ref.results))
	var ups, downs, fresh, impaired int
	for _, r := range ref.results {
		p := probers[proberID(r)]
		v := Vote{
			Prober:   p.ID,
			Source:   r.Source,
			Verdict:  verdictOf(r),
			OK:       r.OK,
			Fresh:    isFresh(now, r.At, r.Interval, ref.interval, next),
			Impaired: p.Impaired,
			RTT:      r.RTT,
			At:       r.At,
			Err:      r.Err,
		}
		e.Votes = append(e.Votes, v)
		if !v.Fresh {
			continue
		}
		fresh++
		if v.Impaired {
			impaired++
			continue
		}
		switch v.Verdict {
		case Up:
			ups++
		case Down:
			downs++
		}
	}
	if !ref.checked {
		e.State, e.Reason = Up, "static service (no check)"
		return
	}
	voters := ups + downs
	switch {
	case voters == 0:
		e.State = Unknown
		switch {
		case len(ref.results) == 0:
			e.Reason = "no results"
		case fresh == 0:
			e.Reason = "no fresh results"
		case fresh == impaired:
			e.Reason = "only impaired probers report"
		default:
			e.Reason = "probers have not reached rise or fall yet"
		}
	case downs*2 > voters:
		e.State = Down
		e.Reason = fmt.Sprintf("%d of %d voting probers see it down (%s)", downs, voters, votersSaying(e.Votes, Down))
	default:
		// downs*2 <= voters and voters > 0, so ups >= 1.
		e.State = Up
		if downs > 0 {
			e.Reason = fmt.Sprintf("no down quorum: %d of %d voting probers see it down (%s)", downs, voters, votersSaying(e.Votes, Down))
		} else {
			e.Reason = fmt.Sprintf("%d of %d voting probers see it up (%s)", ups, voters, votersSaying(e.Votes, Up))
		}
	}
	if impaired > 0 {
		e.Reason += fmt.Sprintf("; %d impaired prober(s) set aside", impaired)
	}
}

// votersSaying lists the fresh, non-impaired probers whose verdict is v,
// for reasons.
func votersSaying(votes []Vote, v State) string {
	var b strings.Builder
	b.Grow(16 * len(votes))
	for _, vote := range votes {
		if vote.Fresh && !vote.Impaired && vote.Verdict == v {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString(vote.Prober)
		}
	}
	return b.String()
}

// aggregate fills service, region and zone counts once endpoint states and
// drains are known.
func aggregate(st *Status, d drainSet, now time.Time) {
	for si := range st.services {
		ss := &st.services[si]
		for _, e := range ss.Endpoints {
			if e.Usable() {
				ss.Usable++
			}
			r := st.regions[e.Region]
			r.Name, r.Since = e.Region, now
			_, r.Drained = d.region[e.Region]
			r.Counts.add(e)
			st.regions[e.Region] = r
			if e.Zone == "" {
				continue
			}
			k := zoneKey{e.Region, e.Zone}
			z := st.zones[k]
			z.Region, z.Zone, z.Since = e.Region, e.Zone, now
			_, z.Drained = d.zone[e.Region+"/"+e.Zone]
			z.Counts.add(e)
			st.zones[k] = z
		}
		ss.AllDown = ss.Usable == 0
	}
	for name, r := range st.regions {
		r.Out = r.Usable == 0
		r.Reason = outReason(r.Out, d.region[name], r.Counts)
		st.regions[name] = r
	}
	for k, z := range st.zones {
		z.Out = z.Usable == 0
		z.Reason = outReason(z.Out, d.zone[k.region+"/"+k.zone], z.Counts)
		st.zones[k] = z
	}
}

func (c *Counts) add(e EndpointStatus) {
	c.Endpoints++
	if e.Usable() {
		c.Usable++
	}
	if e.Drained {
		c.Drained++
	}
	switch e.State {
	case Up:
		c.Up++
	case Down:
		c.Down++
	default:
		c.Unknown++
	}
}

// outReason explains a region's or zone's state; drain is the sentence of
// a drain on the region or zone itself, if any.
func outReason(out bool, drain string, c Counts) string {
	switch {
	case drain != "":
		return drain
	case out:
		return fmt.Sprintf("no usable endpoint: %d down, %d drained of %d", c.Down, c.Drained, c.Endpoints)
	default:
		return fmt.Sprintf("%d of %d endpoints usable", c.Usable, c.Endpoints)
	}
}
