package routing

import (
	"math"
	"net/netip"
	"time"

	"github.com/gaissmai/bart"

	"github.com/gtm-project/gtm/store"
)

// LatencyTable is the measured latency map: resolver network → round trip
// from each region, built from the probers' results. It is immutable and
// safe for concurrent use; a Snapshot holds one.
//
// Each network is a row of RTTs, one column per region, in microseconds
// (0: no figure). A bart trie maps networks to rows: a lookup is a
// longest-prefix match of a few tens of nanoseconds at 100,000 networks
// (BenchmarkLatencyLookup), with no allocation.
type LatencyTable struct {
	regions []string
	col     map[string]int
	trie    *bart.Table[uint32]
	nets    []netip.Prefix // by row
	rtt     []uint32       // row*len(regions)+col
	has     [2]bool        // [0] IPv4 rows exist, [1] IPv6
}

// LatencyOptions tune NewLatencyTable.
type LatencyOptions struct {
	// Now and MaxAge leave out results measured more than MaxAge before
	// Now; with MaxAge 0 every result given is used (the store expires
	// results by their TTL already).
	Now    time.Time
	MaxAge time.Duration
}

// NewLatencyTable builds the table from the store's results. A region's
// figure for a network is the lowest RTT any of its probers measured: the
// minimum is the least disturbed by a busy prober or a queueing burst.
func NewLatencyTable(results []store.LatencyResult, opts LatencyOptions) *LatencyTable {
	t := &LatencyTable{col: map[string]int{}, trie: new(bart.Table[uint32])}
	rows := map[netip.Prefix]int{}
	type cell struct{ row, col int }
	best := map[cell]uint32{}
	for _, r := range results {
		if !r.Prefix.IsValid() || r.Source == "" || r.RTT <= 0 {
			continue
		}
		if opts.MaxAge > 0 && !opts.Now.IsZero() && opts.Now.Sub(r.At) > opts.MaxAge {
			continue
		}
		p := r.Prefix.Masked()
		if p.Addr().Is4In6() {
			continue // written as IPv4 by every sane writer; refuse ambiguity
		}
		row, ok := rows[p]
		if !ok {
			row = len(t.nets)
			rows[p] = row
			t.nets = append(t.nets, p)
		}
		c, ok := t.col[r.Source]
		if !ok {
			c = len(t.regions)
			t.col[r.Source] = c
			t.regions = append(t.regions, r.Source)
		}
		us := uint32(min(max(r.RTT.Microseconds(), 1), math.MaxUint32))
		k := cell{row, c}
		if old, ok := best[k]; !ok || us < old {
			best[k] = us
		}
	}
	t.rtt = make([]uint32, len(t.nets)*len(t.regions))
	for k, us := range best {
		t.rtt[k.row*len(t.regions)+k.col] = us
	}
	for i, p := range t.nets {
		t.trie.Insert(p, uint32(i))
		t.has[famOf(p.Addr())] = true
	}
	return t
}

func famOf(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}

// Len is the number of networks in the table.
func (t *LatencyTable) Len() int {
	if t == nil {
		return 0
	}
	return len(t.nets)
}

// Regions lists the regions with figures, in the order first seen.
func (t *LatencyTable) Regions() []string {
	if t == nil {
		return nil
	}
	return append([]string(nil), t.regions...)
}

// find returns the row of the most specific network covering p (every
// address of p), or -1.
func (t *LatencyTable) find(p netip.Prefix) int {
	v, ok := t.trie.LookupPrefix(p)
	if !ok {
		return -1
	}
	return int(v)
}

// Lookup returns the most specific network covering p and its figures by
// region (for explanations and tests; the answer path does not allocate).
func (t *LatencyTable) Lookup(p netip.Prefix) (netip.Prefix, map[string]time.Duration, bool) {
	if t == nil {
		return netip.Prefix{}, nil, false
	}
	row := t.find(p)
	if row < 0 {
		return netip.Prefix{}, nil, false
	}
	out := map[string]time.Duration{}
	for c, name := range t.regions {
		if us := t.rtt[row*len(t.regions)+c]; us > 0 {
			out[name] = time.Duration(us) * time.Microsecond
		}
	}
	return t.nets[row], out, true
}

// columns maps the snapshot's regions to the table's columns (-1: none).
func (t *LatencyTable) columns(regions []regionInfo) []int {
	cols := make([]int, len(regions))
	for i, r := range regions {
		c, ok := t.col[r.name]
		if !ok {
			c = -1
		}
		cols[i] = c
	}
	return cols
}
