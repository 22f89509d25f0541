package routing

import (
	"slices"
	"sort"
	"strconv"

	"github.com/gtm-project/gtm/zones"
	"github.com/miekg/dns"
)

// service is a traffic-managed name with its answers precomputed for the
// health this snapshot was built with, so that answering is a pick among
// ready-made slices.
type service struct {
	cfg *zones.Service
	fam [2]family // [0] A, [1] AAAA
	// policy is cfg.Policy decoded once.
	policy policy
	// rules are the geo policy's country/continent rules.
	rules []rule
	// usable is the bitset (cfg.Endpoints order) of the endpoints the
	// health it was built with allowed, and geoRules its GeoRules: a
	// snapshot with the same configuration, usable set and rules reuses
	// the service as it is.
	usable   []uint64
	geoRules []GeoRule
}

// usableSet fills buf with the bitset of cfg's endpoints h allows.
func usableSet(buf []uint64, cfg *zones.Service, h Health) []uint64 {
	buf = buf[:0]
	for i, e := range cfg.Endpoints {
		if i%64 == 0 {
			buf = append(buf, 0)
		}
		if h == nil || h.Usable(cfg.Name, e.Name) {
			buf[i/64] |= 1 << (i % 64)
		}
	}
	return buf
}

// policy is a service's answering policy.
type policy uint8

const (
	policyLatency policy = iota
	policyGeo
	policyFailover
	policyWeighted
)

func policyOf(name string) policy {
	switch name {
	case "geo":
		return policyGeo
	case "failover":
		return policyFailover
	case "weighted":
		return policyWeighted
	}
	return policyLatency
}

// family holds the answers of one address family.
type family struct {
	// groups are the candidate sets: regions (in config order) for the
	// latency and geo policies, priorities (lowest first) for failover,
	// one group for weighted. Groups without a usable endpoint are left
	// out, so any group may answer.
	groups []group
	// failedOpen says no endpoint was usable and every one is answered.
	failedOpen bool
	// all lists every group of the family with its endpoint counts,
	// usable or not, for explanations.
	all []groupCount
}

// groupCount is one group's endpoints: how many, and how many usable.
type groupCount struct {
	key           string
	region        int
	total, usable int
}

type group struct {
	key    string // region name, or priority
	region int    // index into Snapshot.regions; -1 for priority and weighted groups
	eps    []*zones.Endpoint
	// rots[i] is the answer starting at endpoint i: up to `answers`
	// records, spread over availability zones, so rotating i rotates the
	// answer without allocating.
	rots [][]dns.RR
	// cum holds cumulative weights for the weighted policy.
	cum   []uint64
	total uint64
}

func (s *Snapshot) buildService(cfg *zones.Service, h Health, rules []GeoRule, usable []uint64) *service {
	svc := &service{cfg: cfg, policy: policyOf(cfg.Policy), usable: slices.Clone(usable), geoRules: rules}
	if svc.policy == policyGeo {
		svc.rules = buildRules(rules, s.regionIdx)
	}
	for f := range svc.fam {
		var eps []*zones.Endpoint
		for _, e := range cfg.Endpoints {
			if e.Addr.Is4() == (f == 0) && e.Addr.IsValid() {
				eps = append(eps, e)
			}
		}
		usable := eps[:0:0]
		for _, e := range eps {
			if i := slices.Index(cfg.Endpoints, e); svc.usable[i/64]&(1<<(i%64)) != 0 {
				usable = append(usable, e)
			}
		}
		fam := &svc.fam[f]
		sets := s.groupEndpoints(cfg, eps)
		fam.all = make([]groupCount, 0, len(sets))
		for _, g := range sets {
			n := 0
			for _, e := range g.eps {
				if slices.Contains(usable, e) {
					n++
				}
			}
			fam.all = append(fam.all, groupCount{key: g.key, region: g.region, total: len(g.eps), usable: n})
		}
		if len(usable) == 0 && len(eps) > 0 && cfg.FailsOpen() {
			// Fail open: answering every endpoint beats answering none when
			// our view of health may be what is broken.
			usable, fam.failedOpen = eps, true
		}
		sets = s.groupEndpoints(cfg, usable)
		if len(sets) > 0 {
			fam.groups = make([]group, 0, len(sets))
		}
		for _, g := range sets {
			fam.groups = append(fam.groups, newGroup(cfg, g.key, g.region, g.eps))
		}
	}
	return svc
}

// endpointSet is a group's key, region and endpoints before its answers
// are made.
type endpointSet struct {
	key    string
	region int
	eps    []*zones.Endpoint
}

func (s *Snapshot) groupEndpoints(cfg *zones.Service, eps []*zones.Endpoint) []endpointSet {
	var groups []endpointSet
	switch policyOf(cfg.Policy) {
	case policyWeighted:
		if len(eps) > 0 {
			groups = append(groups, endpointSet{"all", -1, eps})
		}
	case policyFailover:
		byPrio := map[int][]*zones.Endpoint{}
		var prios []int
		for _, e := range eps {
			if _, ok := byPrio[e.Priority]; !ok {
				prios = append(prios, e.Priority)
			}
			byPrio[e.Priority] = append(byPrio[e.Priority], e)
		}
		sort.Ints(prios)
		for _, p := range prios {
			groups = append(groups, endpointSet{strconv.Itoa(p), -1, byPrio[p]})
		}
	default: // latency, geo: by region, in config order
		byRegion := map[string][]*zones.Endpoint{}
		for _, e := range eps {
			byRegion[e.Region] = append(byRegion[e.Region], e)
		}
		for i, r := range s.regions {
			if len(byRegion[r.name]) > 0 {
				groups = append(groups, endpointSet{r.name, i, byRegion[r.name]})
			}
		}
	}
	return groups
}

func newGroup(cfg *zones.Service, key string, region int, eps []*zones.Endpoint) group {
	eps = spreadZones(eps)
	g := group{key: key, region: region, eps: eps}
	rrs := make([]dns.RR, len(eps))
	for i, e := range eps {
		rrs[i] = addrRR(cfg.Name, cfg.TTL, e)
	}
	n := min(cfg.Answers, len(eps))
	g.rots = make([][]dns.RR, len(eps))
	if n == 1 {
		// Each answer is one endpoint's record: views of rrs (capacity
		// 1), no array per rotation.
		for i := range rrs {
			g.rots[i] = rrs[i : i+1 : i+1]
		}
	} else {
		// All rotations in one array, each capped so none can grow
		// into the next.
		buf := make([]dns.RR, 0, len(eps)*n)
		for i := range eps {
			start := len(buf)
			buf = append(buf, rotation(rrs, eps, i, n)...)
			g.rots[i] = buf[start:len(buf):len(buf)]
		}
	}
	g.cum = make([]uint64, len(eps))
	for i, e := range eps {
		g.total += uint64(e.EffectiveWeight())
		g.cum[i] = g.total
	}
	if g.total == 0 {
		// Only weight-0 endpoints are left: share the load evenly rather
		// than answer nothing.
		for i := range g.cum {
			g.cum[i] = uint64(i + 1)
		}
		g.total = uint64(len(eps))
	}
	return g
}

// rotation is the answer of n records starting at endpoint i. Each next
// record is the next endpoint in ring order whose availability zone the
// answer does not hold yet, and only when every zone is in, the next one
// left: plain ring order would put two of one zone together where the ring
// wraps (a1 b1 a2 → a2 a1).
func rotation(rrs []dns.RR, eps []*zones.Endpoint, i, n int) []dns.RR {
	rot := make([]dns.RR, 0, n)
	used := make([]bool, len(eps))
	inAnswer := map[string]bool{}
	for pass := 0; pass < 2 && len(rot) < n; pass++ {
		for j := 0; j < len(eps) && len(rot) < n; j++ {
			k := (i + j) % len(eps)
			if used[k] || (pass == 0 && inAnswer[eps[k].Zone]) {
				continue
			}
			used[k] = true
			inAnswer[eps[k].Zone] = true
			rot = append(rot, rrs[k])
		}
	}
	return rot
}

// spreadZones orders endpoints so consecutive ones sit in different
// availability zones: a multi-record answer then spans zones.
func spreadZones(eps []*zones.Endpoint) []*zones.Endpoint {
	byZone := map[string][]*zones.Endpoint{}
	var order []string
	for _, e := range eps {
		if _, ok := byZone[e.Zone]; !ok {
			order = append(order, e.Zone)
		}
		byZone[e.Zone] = append(byZone[e.Zone], e)
	}
	sort.Strings(order)
	out := make([]*zones.Endpoint, 0, len(eps))
	for i := 0; len(out) < len(eps); i++ {
		for _, z := range order {
			if i < len(byZone[z]) {
				out = append(out, byZone[z][i])
			}
		}
	}
	return out
}

func addrRR(name string, ttl uint32, e *zones.Endpoint) dns.RR {
	if e.Addr.Is4() {
		a := e.Addr.As4()
		return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: a[:]}
	}
	a := e.Addr.As16()
	return &dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: ttl}, AAAA: a[:]}
}
