package store

import (
	"cmp"
	"net/netip"
	"slices"
	"time"
)

// The latency map's raw material: DNS nodes record the resolver networks
// they serve (ResolverSample), the prober of each region measures the
// round trip to one resolver address of each (LatencyResult), and the
// snapshot builder turns the results into a prefix → per-region RTT table.
//
// Redis keys (P is RedisOptions.Prefix), one hash tag so that each write
// script touches one Cluster slot:
//
//	{P:latency}:samples   HASH  "<node> <prefix>"   -> "<expiry ms> <ResolverSample JSON>"
//	{P:latency}:rtt       HASH  "<prober> <prefix>" -> "<expiry ms> <LatencyResult JSON>"
//
// Expiry runs on the Redis server's clock, as for probe results; each hash
// lives as long as its longest-lived field, and writes drop expired fields
// now and then. There is no change feed for latency: it moves slowly, and
// readers poll it (every minute is plenty).

// Default lifetimes of latency data in the store when the writer sets no
// TTL. A resolver network not seen for an hour is no longer worth
// measuring; an RTT older than an hour no longer says much about today's
// routing.
const (
	DefaultSampleTTL  = time.Hour
	DefaultLatencyTTL = time.Hour
)

// ResolverSample is one resolver network a DNS node served: the source
// addresses of queries (never an ECS address), grouped per /24 or /56.
type ResolverSample struct {
	// Prefix is the resolver's network (/24 for IPv4, /56 for IPv6).
	Prefix netip.Prefix `json:"prefix"`
	// Addr is a query source address seen in Prefix: what probers measure.
	Addr netip.Addr `json:"addr"`
	// Count is how many queries came from Prefix (an estimate when the
	// node samples).
	Count uint64 `json:"count"`
	// Node is the DNS node that saw them.
	Node string    `json:"node"`
	At   time.Time `json:"at"`
	// TTL is how long the store keeps the sample; 0 means DefaultSampleTTL.
	TTL time.Duration `json:"ttl,omitempty"`
}

// LatencyResult is one measured round trip from a prober's region to a
// resolver network.
type LatencyResult struct {
	// Prefix is the resolver network measured, Addr the address in it
	// that answered.
	Prefix netip.Prefix `json:"prefix"`
	Addr   netip.Addr   `json:"addr"`
	// Source is the prober's region, Prober its id.
	Source string `json:"source"`
	Prober string `json:"prober"`
	// Method is how: "icmp" or "tcp" (a connect to port 53).
	Method string        `json:"method"`
	RTT    time.Duration `json:"rtt"`
	At     time.Time     `json:"at"`
	// TTL is how long the store keeps the result; 0 means
	// DefaultLatencyTTL.
	TTL time.Duration `json:"ttl,omitempty"`
}

func sampleTTL(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultSampleTTL
	}
	return d
}

func latencyTTL(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultLatencyTTL
	}
	return d
}

func comparePrefix(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}

// sortSamples orders samples by (prefix, node) so every backend returns
// the same order.
func sortSamples(s []ResolverSample) {
	slices.SortFunc(s, func(a, b ResolverSample) int {
		return cmp.Or(comparePrefix(a.Prefix, b.Prefix), cmp.Compare(a.Node, b.Node))
	})
}

// sortLatency orders results by (prefix, source, prober).
func sortLatency(rs []LatencyResult) {
	slices.SortFunc(rs, func(a, b LatencyResult) int {
		return cmp.Or(comparePrefix(a.Prefix, b.Prefix), cmp.Compare(a.Source, b.Source), cmp.Compare(a.Prober, b.Prober))
	})
}
