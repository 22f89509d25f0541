package routing

import (
	"net/netip"
	"sync/atomic"

	"github.com/gtm-project/gtm/geo"
)

// locCacheSize is the number of client networks whose location is cached:
// 131,072 slots of one pointer, 1 MiB, in pairs (two-way associative). A
// real City database decodes a record in about 1 µs (geo's
// BenchmarkLookup), as long as a whole DNS answer; the cache makes a
// repeat client network cost a hash and a load or two. Sized for the
// 10,000 busiest resolver networks plus ECS client networks: at 100,000
// networks in rotation most still hit (BenchmarkSteer).
const locCacheSize = 1 << 17

// Cache keys are client networks of these lengths: the ECS limits' usual
// values, and what one ISP site usually shares.
const (
	cacheBits4 = 24
	cacheBits6 = 56
)

// locEntry is what is known about one client network: its location, the
// database network it came from and the distance to each region.
type locEntry struct {
	key   netip.Prefix // the /24 or /56 cached; zero when not cacheable
	loc   geo.Location
	found bool
	// bits is the length of the database network holding the address:
	// every address in it gets the same answer from the database.
	bits int
	// dist is the great-circle distance in km to each region, in snapshot
	// order; nil when the location has no coordinates.
	dist []float64
}

// locCache is a two-way set-associative, lock-free cache of locEntry by
// client network: a network may sit in either slot of its pair, so two
// busy networks whose hashes collide do not evict each other. Entries
// are immutable; a slot is replaced whole by an atomic store, so readers
// never see half an entry.
type locCache struct {
	db      *geo.DB
	regions []regionInfo
	slots   []atomic.Pointer[locEntry]
}

func newLocCache(db *geo.DB, regions []regionInfo) *locCache {
	return &locCache{db: db, regions: regions, slots: make([]atomic.Pointer[locEntry], locCacheSize)}
}

// reusable says whether c answers for db and regions exactly.
func (c *locCache) reusable(db *geo.DB, regions []regionInfo) bool {
	if c == nil || c.db != db || len(c.regions) != len(regions) {
		return false
	}
	for i := range regions {
		if c.regions[i] != regions[i] {
			return false
		}
	}
	return true
}

// get returns the entry for a (valid, unmapped) address. A miss looks the
// database up and caches the result when the database network is at
// least as wide as the cache key, so that the key's every address shares
// it; narrower networks (rare) are looked up every time.
func (c *locCache) get(a netip.Addr) *locEntry {
	kb := cacheBits4
	if a.Is6() {
		kb = cacheBits6
	}
	key, _ := a.Prefix(kb)
	h := hashPrefix(key)
	i := int(h & (locCacheSize - 2)) // the pair's first slot
	e0, e1 := c.slots[i].Load(), c.slots[i+1].Load()
	if e0 != nil && e0.key == key {
		return e0
	}
	if e1 != nil && e1.key == key {
		return e1
	}
	loc, network, found := c.db.LookupNetwork(a)
	e := &locEntry{loc: loc, found: found, bits: network.Bits()}
	if !network.IsValid() {
		e.bits = a.BitLen()
	}
	if loc.HasCoords {
		e.dist = make([]float64, len(c.regions))
		for i, r := range c.regions {
			e.dist[i] = geo.Distance(loc.Lat, loc.Lon, r.lat, r.lon)
		}
	}
	if network.IsValid() && network.Bits() <= kb {
		e.key = key
		// An empty slot if there is one, else one of the pair by a hash
		// bit the slot index does not use (random replacement).
		switch {
		case e0 == nil:
		case e1 == nil, h>>63 == 1:
			i++
		}
		c.slots[i].Store(e)
	}
	return e
}

// hashPrefix mixes a network's address and length into 64 well-spread
// bits (splitmix64's finaliser): the cache slot, and the weighted policy's
// stable choice per client network.
func hashPrefix(p netip.Prefix) uint64 {
	a := p.Addr().As16()
	hi := uint64(a[0])<<56 | uint64(a[1])<<48 | uint64(a[2])<<40 | uint64(a[3])<<32 |
		uint64(a[4])<<24 | uint64(a[5])<<16 | uint64(a[6])<<8 | uint64(a[7])
	lo := uint64(a[8])<<56 | uint64(a[9])<<48 | uint64(a[10])<<40 | uint64(a[11])<<32 |
		uint64(a[12])<<24 | uint64(a[13])<<16 | uint64(a[14])<<8 | uint64(a[15])
	x := hi ^ mix(lo^uint64(p.Bits()))
	return mix(x)
}

func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
