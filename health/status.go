package health

import (
	"cmp"
	"slices"
	"time"
)

// Status is the health of everything configured at one instant. It is
// immutable once returned, so DNS and API goroutines may read it without
// locks. Every method is nil-safe: a nil *Status means "nothing known yet",
// where every endpoint is Unknown and therefore usable, so a node that has
// not read the store yet still answers.
//
// Slices reachable from a Status (Votes, Endpoints) are shared and must not
// be modified by callers.
type Status struct {
	at       time.Time
	services []ServiceStatus
	svcIndex map[string]int // service name -> index in services
	// epIndex maps service -> endpoint -> index in its Endpoints, for
	// services of more than smallService endpoints; the others are
	// scanned (see endpointIndex).
	epIndex map[string]map[string]int
	regions map[string]RegionStatus
	zones   map[zoneKey]ZoneStatus
	probers []ProberStatus // sorted by ID
	// next is when the first fresh result goes stale (zero: none is
	// fresh): until then, the same inputs evaluate to the same Status.
	next time.Time
}

// Until is how long the same inputs (results, drains, configuration)
// keep evaluating to this Status: the first time a fresh result goes
// stale. Zero means never (no fresh result). A node need not evaluate
// again before then unless an input changed.
func (s *Status) Until() time.Time {
	if s == nil {
		return time.Time{}
	}
	return s.next
}

// ServiceStatus is the health of one service.
type ServiceStatus struct {
	Name string
	// Static services have no check: their endpoints are always Up.
	Static bool
	// FailOpen is the service's fail_open setting, copied for the status
	// page; routing applies it.
	FailOpen bool
	// AllDown is true when no endpoint is usable.
	AllDown bool
	// Usable counts endpoints routing may answer.
	Usable    int
	Endpoints []EndpointStatus // in config order
}

// EndpointStatus is the health of one endpoint of one service.
type EndpointStatus struct {
	Service  string
	Endpoint string
	Region   string
	Zone     string
	// State is the verdict across probers (Up for a static service).
	State State
	// Drained is true when an endpoint, zone or region drain applies; State
	// still shows the health underneath.
	Drained bool
	// DrainReason names the drain that applies, with who and why.
	DrainReason string
	// Reason explains State in words, for logs and the status page.
	Reason string
	// Since is when State began. Evaluate alone cannot know and uses Now;
	// Monitor carries the time over while State stays the same.
	Since time.Time
	// Votes are the latest result of every prober that reported on this
	// endpoint, sorted by prober, including stale and impaired ones (marked).
	Votes []Vote
}

// Usable reports whether routing may answer the endpoint: it is not drained
// and not Down. Unknown is usable so that a restart, with no fresh results
// yet, never empties DNS answers.
func (e EndpointStatus) Usable() bool { return !e.Drained && e.State != Down }

// Vote is one prober's latest word on one endpoint.
type Vote struct {
	Prober string
	// Source is the prober's region.
	Source string
	// Verdict is the prober's rise/fall state after its latest result.
	Verdict State
	// OK is the raw outcome of the latest probe.
	OK bool
	// Fresh is true when the result is recent enough to vote (within
	// three intervals of Now).
	Fresh bool
	// Impaired is true when the prober's votes are set aside.
	Impaired bool
	RTT      time.Duration
	At       time.Time
	// Err is the latest probe's error, if any.
	Err string
}

// Counts tallies endpoints by state.
type Counts struct {
	Endpoints int
	Usable    int
	Up        int
	Down      int
	Unknown   int
	Drained   int
}

// RegionStatus is the health of one region across services. The zero value
// (an unknown region) is not out.
type RegionStatus struct {
	Name string
	// Out is true when none of the region's endpoints is usable.
	Out bool
	// Drained is true when the region itself is drained.
	Drained bool
	Reason  string
	Since   time.Time
	Counts
}

// ZoneStatus is the health of one availability zone of a region. The zero
// value (an unknown zone) is not out.
type ZoneStatus struct {
	Region string
	Zone   string
	// Out is true when none of the zone's endpoints is usable.
	Out bool
	// Drained is true when the zone itself is drained.
	Drained bool
	Reason  string
	Since   time.Time
	Counts
}

// Key returns "region/zone", the form drains and logs use.
func (z ZoneStatus) Key() string { return z.Region + "/" + z.Zone }

// ProberStatus is what the results say about one prober.
type ProberStatus struct {
	ID     string
	Region string
	// Impaired probers' votes are set aside.
	Impaired bool
	Reason   string
	// LastSeen is the time of the prober's newest result.
	LastSeen time.Time
	Since    time.Time
	// Fresh and Stale count its endpoint results.
	Fresh int
	Stale int
	// ControlFailed of ControlTotal fresh control-target results failed.
	ControlFailed int
	ControlTotal  int
}

// At returns the Now the Status was computed for.
func (s *Status) At() time.Time {
	if s == nil {
		return time.Time{}
	}
	return s.at
}

// Endpoint returns the status of one endpoint of one service. An unknown
// service or endpoint (or a nil Status) gives a zero EndpointStatus with the
// names filled in: Unknown and usable.
func (s *Status) Endpoint(service, endpoint string) EndpointStatus {
	if s != nil {
		if si, ei, ok := s.endpointIndex(service, endpoint); ok {
			return s.services[si].Endpoints[ei]
		}
	}
	return EndpointStatus{Service: service, Endpoint: endpoint}
}

// Usable reports whether routing may answer the endpoint (see
// EndpointStatus.Usable). It does not allocate: routing calls it per query.
func (s *Status) Usable(service, endpoint string) bool {
	if s == nil {
		return true
	}
	si, ei, ok := s.endpointIndex(service, endpoint)
	if !ok {
		return true
	}
	return s.services[si].Endpoints[ei].Usable()
}

// AllDown reports whether a configured service has no usable endpoint.
// Routing then applies the service's fail_open setting.
func (s *Status) AllDown(service string) bool {
	if s == nil {
		return false
	}
	i, ok := s.svcIndex[service]
	return ok && s.services[i].AllDown
}

// Service returns the status of one service; ok is false when it is not
// configured.
func (s *Status) Service(name string) (ServiceStatus, bool) {
	if s == nil {
		return ServiceStatus{Name: name}, false
	}
	i, ok := s.svcIndex[name]
	if !ok {
		return ServiceStatus{Name: name}, false
	}
	return s.services[i], true
}

// Services returns every service in config order. The slice is a copy; the
// Endpoints inside are shared and read-only.
func (s *Status) Services() []ServiceStatus {
	if s == nil {
		return nil
	}
	return slices.Clone(s.services)
}

// Region returns the status of a region; an unknown region is not out.
func (s *Status) Region(name string) RegionStatus {
	if s != nil {
		if r, ok := s.regions[name]; ok {
			return r
		}
	}
	return RegionStatus{Name: name}
}

// Regions returns every region with endpoints, sorted by name.
func (s *Status) Regions() []RegionStatus {
	if s == nil {
		return nil
	}
	out := make([]RegionStatus, 0, len(s.regions))
	for _, r := range s.regions {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b RegionStatus) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Zone returns the status of an availability zone of a region; an unknown
// zone is not out.
func (s *Status) Zone(region, zone string) ZoneStatus {
	if s != nil {
		if z, ok := s.zones[zoneKey{region, zone}]; ok {
			return z
		}
	}
	return ZoneStatus{Region: region, Zone: zone}
}

// Zones returns every availability zone with endpoints, sorted by key.
func (s *Status) Zones() []ZoneStatus {
	if s == nil {
		return nil
	}
	out := make([]ZoneStatus, 0, len(s.zones))
	for _, z := range s.zones {
		out = append(out, z)
	}
	slices.SortFunc(out, func(a, b ZoneStatus) int {
		return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.Zone, b.Zone))
	})
	return out
}

// Probers returns every prober that has results in the store, sorted by ID.
// The slice is a copy.
func (s *Status) Probers() []ProberStatus {
	if s == nil {
		return nil
	}
	return slices.Clone(s.probers)
}

// smallService is the number of endpoints up to which a service's
// endpoints are found by scanning them rather than through a map: as
// fast, and a map per service is about 200 bytes (2 MB for 10,000
// services, in each Status kept).
const smallService = 8

// endpointIndex finds an endpoint: its service's index in services and
// its index in that service's Endpoints. The first of duplicates wins, as
// in layout.
func (s *Status) endpointIndex(service, endpoint string) (si, ei int, ok bool) {
	si, ok = s.svcIndex[service]
	if !ok {
		return 0, 0, false
	}
	if m := s.epIndex[service]; m != nil {
		ei, ok = m[endpoint]
		return si, ei, ok
	}
	for i := range s.services[si].Endpoints {
		if s.services[si].Endpoints[i].Endpoint == endpoint {
			return si, i, true
		}
	}
	return 0, 0, false
}

// zoneKey identifies an availability zone; a struct key keeps Zone lookups
// free of allocations.
type zoneKey struct{ region, zone string }

// configured reports whether the endpoint is in the config this Status was
// computed from.
func (s *Status) configured(service, endpoint string) bool {
	_, _, ok := s.endpointIndex(service, endpoint)
	return ok
}

// prober finds a prober by ID.
func (s *Status) prober(id string) (ProberStatus, bool) {
	if s == nil {
		return ProberStatus{}, false
	}
	i, ok := slices.BinarySearchFunc(s.probers, id, func(p ProberStatus, id string) int { return cmp.Compare(p.ID, id) })
	if !ok {
		return ProberStatus{}, false
	}
	return s.probers[i], true
}

// isConfigured is configured for a possibly nil Status.
func (s *Status) isConfigured(service, endpoint string) bool {
	return s != nil && s.configured(service, endpoint)
}

func (s *Status) region(name string) (outState, bool) {
	if s == nil {
		return outState{}, false
	}
	r, ok := s.regions[name]
	return outState{r.Out, r.Since}, ok
}

func (s *Status) zone(k zoneKey) (outState, bool) {
	if s == nil {
		return outState{}, false
	}
	z, ok := s.zones[k]
	return outState{z.Out, z.Since}, ok
}
