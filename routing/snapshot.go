// Package routing is gtm's pure decision: given an immutable Snapshot (zones,
// services and their health) and a question, it produces the answer. It does
// no I/O, takes no locks and, on the common paths, allocates nothing: the
// caller passes a Result whose slices are reused across queries.
package routing

import (
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/gtm-project/gtm/geo"
	"github.com/gtm-project/gtm/zones"
	"github.com/miekg/dns"
)

// Health tells which endpoints may be answered. *health.Status satisfies it;
// a nil Health means every endpoint is usable.
type Health interface {
	Usable(service, endpoint string) bool
}

// Snapshot is everything needed to answer, built once and then only read,
// by any number of goroutines at once.
type Snapshot struct {
	// Version identifies the configuration and health this was built from.
	Version uint64
	// Set is the configuration it was built from.
	Set *zones.Set

	zones map[string]*zone // by canonical origin
	// regions are the configured regions in config order; everything
	// per region (groups, distances, latency columns) is indexed by
	// position in this list.
	regions   []regionInfo
	regionIdx map[string]int
	// geo locates clients through cache (nil without a database).
	geo   *geo.DB
	cache *locCache
	// latency is the measured latency map and latCol its column of each
	// region (-1: none); nil without a map.
	latency *LatencyTable
	latCol  []int
	// services are the traffic-managed names in config order; a zone
	// node that is one holds its index + 1 (node.svc). They are rebuilt
	// at every health, drain or latency change, while the zones, which
	// only a configuration change alters, are taken over from the
	// previous snapshot: a health change costs the services, not the
	// records.
	services []*service
}

// regionInfo is one configured region.
type regionInfo struct {
	name     string
	lat, lon float64
}

type zone struct {
	origin string
	// neg is the SOA for negative answers, with the TTL RFC 2308 §5 asks
	// for: min(SOA TTL, SOA MINIMUM).
	neg     []dns.RR
	soa     []dns.RR
	nodes   map[string]*node
	hasCuts bool
}

// node is one owner name. A node with no rrsets and no service is an empty
// non-terminal: it exists (NODATA, not NXDOMAIN) and blocks wildcards
// beneath it (RFC 4592 §2.2.2).
//
// A zone holds one node per name and one rrset per name and type, so
// their sizes count per record: node is 56 bytes (a 64-byte allocation),
// rrset 32, and a lone record's rrset points into the zone's record slice
// instead of a slice of its own (see buildZone).
type node struct {
	name   string
	rrsets []*rrset
	wild   *node // the "*" child, if any
	// svc is the index + 1 in Snapshot.services of the service this
	// name is (0: none).
	svc int32
	// cname says the node has a CNAME rrset, cut an NS rrset below the
	// apex (a delegation): see cnameSet and cutSet.
	cname, cut bool
}

type rrset struct {
	typ uint16
	// n is the number of records: all[:n] (records). all[n:] is
	// additional-section data (RFC 1035 §3.3, extra): addresses of the
	// NS, MX and SRV targets we hold, or glue for a referral.
	n   int32
	all []dns.RR
}

// records is the rrset's records.
func (s *rrset) records() []dns.RR { return s.all[:s.n] }

// extra is the rrset's additional-section data.
func (s *rrset) extra() []dns.RR { return s.all[s.n:] }

// cnameSet is the node's CNAME rrset, or nil.
func (n *node) cnameSet() *rrset {
	if !n.cname {
		return nil
	}
	return n.get(dns.TypeCNAME)
}

// cutSet is the NS rrset of a delegation at the node, or nil.
func (n *node) cutSet() *rrset {
	if !n.cut {
		return nil
	}
	return n.get(dns.TypeNS)
}

func (n *node) get(t uint16) *rrset {
	for _, s := range n.rrsets {
		if s.typ == t {
			return s
		}
	}
	return nil
}

// Build makes a Snapshot from a validated configuration and its inputs:
// health, location database, latency map (see Inputs).
func Build(set *zones.Set, in Inputs) *Snapshot {
	s := &Snapshot{
		Version:   in.Version,
		Set:       set,
		zones:     make(map[string]*zone, len(set.Zones)),
		regionIdx: map[string]int{},
		geo:       in.Geo,
	}
	for _, name := range set.Config.RegionOrder() {
		r := set.Config.Regions[name]
		s.regionIdx[name] = len(s.regions)
		s.regions = append(s.regions, regionInfo{name: name, lat: r.Lat, lon: r.Lon})
	}
	if in.Geo != nil {
		if prev := in.Previous; prev != nil && prev.cache.reusable(in.Geo, s.regions) {
			s.cache = prev.cache
		} else {
			s.cache = newLocCache(in.Geo, s.regions)
		}
	}
	if in.Latency.Len() > 0 {
		s.latency = in.Latency
		s.latCol = in.Latency.columns(s.regions)
	}
	var prevServices []*service
	if prev := in.Previous; prev != nil && prev.Set == set {
		// The same configuration: only health, drains, locations or
		// latency changed. The zone trees (and their service nodes) are
		// immutable and shared, and so is every service whose usable
		// endpoints and rules are unchanged.
		s.zones = prev.zones
		prevServices = prev.services
	} else if prev != nil && sameTrees(prev.Set, set) {
		// A new configuration with the same zones (the very same
		// records) and the same service names in the same order: an
		// edit of a service, or the configuration in force rebuilt from
		// unchanged files. The zone trees would come out identical; a
		// million-record zone is 150 MB and seconds of work, so they are
		// shared. The services are built anew.
		s.zones = prev.zones
	} else {
		for _, zz := range set.Zones {
			s.zones[zz.Origin] = buildZone(zz)
		}
		for i, svc := range set.Config.Services {
			if z := s.findZone(svc.Name); z != nil { // NewSet refuses a service outside our zones
				z.ensure(svc.Name).svc = int32(i + 1)
			}
		}
		for _, z := range s.zones {
			z.link(s)
		}
	}
	s.services = make([]*service, len(set.Config.Services))
	var buf []uint64
	for i, svc := range set.Config.Services {
		buf = usableSet(buf, svc, in.Health)
		rules := in.GeoRules[svc.Name]
		if prevServices != nil {
			if p := prevServices[i]; slices.Equal(p.usable, buf) && slices.Equal(p.geoRules, rules) {
				s.services[i] = p
				continue
			}
		}
		s.services[i] = s.buildService(svc, in.Health, rules, buf)
	}
	return s
}

// sameTrees reports whether a and b give the same zone trees: the same
// *zones.Zone values (immutable, so the same records) in the same order,
// and the same service names in the same order (a service node holds its
// index). Nothing else goes into a tree.
func sameTrees(a, b *zones.Set) bool {
	if a == nil || b == nil || len(a.Zones) != len(b.Zones) || len(a.Config.Services) != len(b.Config.Services) {
		return false
	}
	for i, z := range a.Zones {
		if b.Zones[i] != z {
			return false
		}
	}
	for i, svc := range a.Config.Services {
		if b.Config.Services[i].Name != svc.Name {
			return false
		}
	}
	return true
}

// service returns the service n is, or nil.
func (s *Snapshot) service(n *node) *service {
	if n.svc == 0 {
		return nil
	}
	return s.services[n.svc-1]
}

func buildZone(zz *zones.Zone) *zone {
	z := &zone{origin: zz.Origin, nodes: make(map[string]*node, ownerRuns(zz.Records)+1)}
	// Duplicate records collapse, as RFC 2181 §5 asks. Most RRsets hold a
	// few records, compared pairwise; a large one gets a set of keys.
	var big map[*rrset]map[string]int
	for i, rr := range zz.Records {
		h := rr.Header()
		// A lone record (most of a large zone) is a view of the zone's
		// slice, capacity 1: a second record appended makes the rrset a
		// slice of its own, so the zone's slice, shared with every
		// snapshot of this configuration, is never written.
		set, fresh := z.ensureFor(zz.Records, i)
		if fresh {
			continue
		}
		if j := dup(set, rr, &big); j >= 0 {
			// The same record twice: keep one, with the lower TTL so
			// that the RRset's TTL (the lowest, below) is as before.
			if h.Ttl < set.all[j].Header().Ttl {
				if len(set.all) == 1 {
					set.all = []dns.RR{rr} // a view of zz.Records: never written
				} else {
					set.all[j] = rr
				}
			}
			continue
		}
		set.all = append(set.all, rr)
		set.n++
	}
	for _, n := range z.nodes {
		// RFC 2181 §5.2: all records of an RRset share one TTL; use the lowest.
		for _, set := range n.rrsets {
			if len(set.all) < 2 {
				continue // alone (and maybe a view of zz.Records)
			}
			minTTL := set.all[0].Header().Ttl
			for _, rr := range set.all {
				minTTL = min(minTTL, rr.Header().Ttl)
			}
			for i, rr := range set.all {
				if rr.Header().Ttl != minTTL {
					// Records are shared with earlier snapshots that may be
					// answering right now: change a copy, never the original.
					c := dns.Copy(rr)
					c.Header().Ttl = minTTL
					set.all[i] = c
				}
			}
		}
		sort.Slice(n.rrsets, func(i, j int) bool { return n.rrsets[i].typ < n.rrsets[j].typ })
		n.cname = n.get(dns.TypeCNAME) != nil
		if n.get(dns.TypeNS) != nil && n.name != z.origin {
			n.cut = true
			z.hasCuts = true
		}
	}
	soa := dns.Copy(zz.SOA).(*dns.SOA)
	z.soa = []dns.RR{soa}
	neg := dns.Copy(zz.SOA).(*dns.SOA)
	neg.Hdr.Ttl = min(neg.Hdr.Ttl, neg.Minttl)
	z.neg = []dns.RR{neg}
	return z
}

// ownerRuns counts the runs of records with one owner name: an upper
// bound of the names rrs hold (they are written grouped by name, so
// usually exact), to size the node map once. Empty non-terminals come on
// top; there are few.
func ownerRuns(rrs []dns.RR) int {
	n, last := 0, ""
	for _, rr := range rrs {
		if name := rr.Header().Name; n == 0 || name != last {
			n, last = n+1, name
		}
	}
	return n
}

// pairwise is the RRset size up to which duplicates are found by
// comparing records; beyond it, by their text.
const pairwise = 16

// dup returns the index in set of a record rr duplicates (all but the
// TTL), or -1.
func dup(set *rrset, rr dns.RR, big *map[*rrset]map[string]int) int {
	if len(set.all) < pairwise {
		for i, o := range set.all {
			if dns.IsDuplicate(o, rr) {
				return i
			}
		}
		return -1
	}
	if *big == nil {
		*big = map[*rrset]map[string]int{}
	}
	keys := (*big)[set]
	if keys == nil {
		keys = make(map[string]int, len(set.all)*2)
		for i, o := range set.all {
			keys[dupKey(o)] = i
		}
		(*big)[set] = keys
	}
	k := dupKey(rr)
	if i, ok := keys[k]; ok {
		return i
	}
	keys[k] = len(set.all) // rr is appended next
	return -1
}

// dupKey is a record's text without its TTL (as IsDuplicate compares).
func dupKey(rr dns.RR) string {
	h := *rr.Header()
	c := dns.Copy(rr)
	*c.Header() = dns.RR_Header{Name: strings.ToLower(h.Name), Rrtype: h.Rrtype, Class: h.Class}
	return c.String()
}

// ensure returns the node for name, creating it and every empty
// non-terminal between it and the apex.
func (z *zone) ensure(name string) *node {
	if n, ok := z.nodes[name]; ok {
		return n
	}
	return z.add(&node{name: name})
}

// recordNode is a node allocated with its first rrset and the one-element
// array its rrsets start in: 96 bytes in one allocation instead of 64, 32
// and 8 in three, for the name of each record of a large zone.
type recordNode struct {
	n    node
	set  rrset
	sets [1]*rrset
}

// ensureFor returns the node for rr's owner name and its rrset of rr's
// type, creating them (and empty non-terminals) as needed; fresh is true
// when the rrset was created with rr, at index i of the zone's records,
// as its only record (a view of records, see buildZone).
func (z *zone) ensureFor(records []dns.RR, i int) (set *rrset, fresh bool) {
	h := records[i].Header()
	n, ok := z.nodes[h.Name]
	if !ok {
		rn := &recordNode{n: node{name: h.Name}}
		rn.set = rrset{typ: h.Rrtype, n: 1, all: records[i : i+1 : i+1]}
		rn.sets[0] = &rn.set
		rn.n.rrsets = rn.sets[:1:1]
		z.add(&rn.n)
		return &rn.set, true
	}
	if set := n.get(h.Rrtype); set != nil {
		return set, false
	}
	set = &rrset{typ: h.Rrtype, n: 1, all: records[i : i+1 : i+1]}
	n.rrsets = append(n.rrsets, set)
	return set, true
}

// add enters n, and the empty non-terminals between it and the apex.
func (z *zone) add(n *node) *node {
	name := n.name
	z.nodes[name] = n
	for p := name; p != z.origin; {
		i := strings.IndexByte(p, '.')
		if i < 0 || i+1 >= len(p) {
			break
		}
		p = p[i+1:]
		if _, ok := z.nodes[p]; ok {
			break
		}
		z.nodes[p] = &node{name: p}
	}
	return n
}

// link fills wildcard pointers and additional-section data once all zones
// are built.
func (z *zone) link(s *Snapshot) {
	for name, n := range z.nodes {
		if strings.HasPrefix(name, "*.") {
			if parent, ok := z.nodes[name[2:]]; ok {
				parent.wild = n
			}
		}
		for _, set := range n.rrsets {
			switch set.typ {
			case dns.TypeNS, dns.TypeMX, dns.TypeSRV:
				// A new array (capacity clipped): all may be a view of
				// the zone's records.
				set.all = append(set.all[:set.n:set.n], s.addresses(set.records())...)
			}
		}
	}
}

// addresses returns the A and AAAA records we hold for the targets of NS,
// MX and SRV records, glue below a delegation included.
func (s *Snapshot) addresses(rrs []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		var target string
		switch rr := rr.(type) {
		case *dns.NS:
			target = rr.Ns
		case *dns.MX:
			target = rr.Mx
		case *dns.SRV:
			target = rr.Target
		}
		target = strings.ToLower(target)
		z := s.findZone(target)
		if z == nil {
			continue
		}
		n, ok := z.nodes[target]
		if !ok {
			continue
		}
		for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
			if set := n.get(t); set != nil {
				out = append(out, set.records()...)
			}
		}
	}
	return out
}

// findZone returns the most specific zone holding name (canonical).
func (s *Snapshot) findZone(name string) *zone {
	for i := 0; ; {
		if z, ok := s.zones[name[i:]]; ok {
			return z
		}
		j := strings.IndexByte(name[i:], '.')
		if j < 0 || i+j+1 >= len(name) {
			return nil
		}
		i += j + 1
	}
}

// Zones lists the origins served.
func (s *Snapshot) Zones() []string {
	out := make([]string, 0, len(s.zones))
	for o := range s.zones {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}

// Holder publishes the current Snapshot to readers through an atomic
// pointer: readers never wait, writers swap whole snapshots.
type Holder struct {
	p atomic.Pointer[Snapshot]
}

// Snapshot returns the current snapshot (nil before the first Store).
func (h *Holder) Snapshot() *Snapshot { return h.p.Load() }

// Store publishes s.
func (h *Holder) Store(s *Snapshot) { h.p.Store(s) }
