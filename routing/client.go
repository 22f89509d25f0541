package routing

import "net/netip"

// clientState is what one query has learnt about its client, computed on
// first need and kept for the rest of the query (a CNAME chain may reach
// several services). It lives on the caller's stack.
type clientState struct {
	ready bool
	addr  netip.Addr // the client, unmapped; invalid when unknown
	// cap is the longest ECS scope the answer may claim: the ECS source
	// prefix, or the address length without ECS.
	cap int
	// lookup is the network the latency map is searched for: the ECS
	// network, or the address alone.
	lookup netip.Prefix

	geoDone bool
	loc     *locEntry // nil: no database or no address

	latDone bool
	// latUsed says the latency map was consulted: it holds networks of
	// the client's family. row is the covering network's row (-1: none),
	// latBits that network's length.
	latUsed bool
	row     int
	latBits int
}

// client fills the parts of c that need no lookup.
func (c *clientState) init(q *Query) {
	if c.ready {
		return
	}
	c.ready = true
	c.row = -1
	a := q.Client.Unmap()
	if !a.IsValid() {
		return
	}
	c.addr = a
	c.cap = a.BitLen()
	c.lookup = netip.PrefixFrom(a, a.BitLen())
	if q.ECS {
		c.cap = min(int(q.SourceBits), a.BitLen())
		if c.cap > 0 {
			c.lookup, _ = a.Prefix(c.cap)
		}
	}
}

// locate looks the client up in the location database (through the
// cache).
func (s *Snapshot) locate(q *Query, c *clientState) *locEntry {
	c.init(q)
	if !c.geoDone {
		c.geoDone = true
		if s.cache != nil && c.addr.IsValid() {
			c.loc = s.cache.get(c.addr)
		}
	}
	return c.loc
}

// measure finds the latency map's network covering the client's: for a
// query without ECS the resolver's address, for an ECS query a network
// covering the whole ECS network.
func (s *Snapshot) measure(q *Query, c *clientState) {
	c.init(q)
	if c.latDone {
		return
	}
	c.latDone = true
	if s.latency == nil || !c.addr.IsValid() || !s.latency.has[famOf(c.addr)] {
		return
	}
	c.latUsed = true
	if c.row = s.latency.find(c.lookup); c.row >= 0 {
		c.latBits = s.latency.nets[c.row].Bits()
	}
}

// rtt is the measured round trip in µs from region r to the client's
// network; 0 when there is no figure.
func (s *Snapshot) rtt(c *clientState, r int) uint32 {
	if c.row < 0 {
		return 0
	}
	col := s.latCol[r]
	if col < 0 {
		return 0
	}
	return s.latency.rtt[c.row*len(s.latency.regions)+col]
}
