package dnsserver

import (
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// RRLConfig configures response rate limiting (dns.rrl), the Knot/BIND
// model, for UDP only: responses are classed (a positive answer per query
// name and type, NXDOMAIN and NODATA per zone, a referral per delegation,
// errors per client network alone) and each class, client network and
// name gets Rate responses a second. Over the rate, every Slip-th
// response is sent truncated (TC=1, no records) so a real resolver
// retries over TCP, and the rest are dropped: a spoofed flood reflects
// almost nothing, a real client loses nothing but a round trip.
type RRLConfig struct {
	// Rate is responses per second per bucket; 0 turns RRL off.
	Rate int
	// Slip: every Slip-th limited response is sent truncated, the others
	// are dropped. 0 drops all, 1 truncates all. Default 2.
	Slip int
	// Window is how long a client over the rate stays in debt: the debt a
	// bucket can run up is Rate×Window responses, paid back at Rate a
	// second. Default 15s.
	Window time.Duration
	// IPv4Prefix and IPv6Prefix are the client network lengths buckets
	// are kept per. Defaults 24 and 56.
	IPv4Prefix, IPv6Prefix int
	// Exempt networks are never limited.
	Exempt []netip.Prefix
	// TableSize is the number of buckets, a fixed array allocated once:
	// keys that hash to the same bucket share (and overwrite) it. Default
	// 65536 (2 MiB).
	TableSize int
	// LogOnly counts and logs what would be limited but answers normally.
	LogOnly bool
}

// Response classes (the key's first component), as in Knot's rrl.c.
const (
	rrlPositive byte = iota + 1
	rrlNXDomain
	rrlNoData
	rrlReferral
	rrlError
)

var rrlClassNames = [...]string{"", "positive", "nxdomain", "nodata", "referral", "error"}

// What the limiter says to do with a response.
const (
	rrlPass = iota
	rrlSlip
	rrlDrop
	rrlLogOnly
	nRRLActions
)

var rrlActionNames = [nRRLActions]string{"pass", "slip", "drop", "log_only"}

// rrlBucket is one token account. Its mutex is held for a few
// arithmetic operations; UDP workers contend on it only when their
// queries hash to the same bucket.
type rrlBucket struct {
	mu    sync.Mutex
	key   uint64
	bal   int64  // responses left this second; negative: debt
	sec   uint32 // the second bal was last credited
	slips uint32 // limited responses, for every Slip-th
}

// rrl is the limiter: a fixed table, so a flood from random sources
// cannot grow memory, only evict buckets.
type rrl struct {
	rate, debt int64
	slip       uint32
	v4mask     uint32
	v6mask     [2]uint64
	exempt     []netip.Prefix
	logOnly    bool
	seed       uint64
	buckets    []rrlBucket

	// evictions counts buckets taken over by another key while still in
	// use (credited within the window): the table is too small for the
	// traffic, or a random-source flood is cycling it.
	evictions prometheus.Counter

	log     zerolog.Logger
	lastLog atomic.Int64  // unix second of the last log line
	limited atomic.Uint64 // limited responses since that line
}

// rrlLogEvery spaces the "rate limiting" log lines: one per period, with
// the count of responses limited since the previous one.
const rrlLogEvery = 10

func newRRL(c RRLConfig, log zerolog.Logger, evictions prometheus.Counter) *rrl {
	if c.Rate <= 0 {
		return nil
	}
	if c.Window <= 0 {
		c.Window = 15 * time.Second
	}
	if c.IPv4Prefix <= 0 || c.IPv4Prefix > 32 {
		c.IPv4Prefix = 24
	}
	if c.IPv6Prefix <= 0 || c.IPv6Prefix > 128 {
		c.IPv6Prefix = 56
	}
	if c.TableSize <= 0 {
		c.TableSize = 65536
	}
	win := max(int64(c.Window/time.Second), 1)
	r := &rrl{
		rate: int64(c.Rate), debt: int64(c.Rate) * win, slip: uint32(max(c.Slip, 0)),
		v4mask: ^uint32(0) << (32 - c.IPv4Prefix), exempt: c.Exempt, logOnly: c.LogOnly,
		buckets: make([]rrlBucket, c.TableSize), log: log, evictions: evictions,
	}
	if r.evictions == nil {
		r.evictions = prometheus.NewCounter(prometheus.CounterOpts{Name: "unregistered"})
	}
	if c.IPv4Prefix == 0 {
		r.v4mask = 0
	}
	for i, bits := 0, c.IPv6Prefix; i < 2; i, bits = i+1, bits-64 {
		switch {
		case bits >= 64:
			r.v6mask[i] = ^uint64(0)
		case bits > 0:
			r.v6mask[i] = ^uint64(0) << (64 - bits)
		}
	}
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	r.seed = binary.LittleEndian.Uint64(seed[:])
	return r
}

// rrlClass classes a response: the class and the name its bucket is kept
// per (the query name for positive answers, the zone for NXDOMAIN and
// NODATA, the delegation for referrals, none for errors).
func rrlClass(rcode int, w *worker, qname string) (byte, string) {
	switch {
	case rcode == dns.RcodeSuccess && len(w.res.Answer) > 0:
		return rrlPositive, qname
	case rcode == dns.RcodeNameError:
		return rrlNXDomain, w.res.Zone
	case rcode == dns.RcodeSuccess && !w.res.Authoritative && len(w.res.Ns) > 0:
		return rrlReferral, w.res.Ns[0].Header().Name
	case rcode == dns.RcodeSuccess && w.res.Zone != "":
		return rrlNoData, w.res.Zone
	}
	return rrlError, ""
}

// key hashes class, query type (positive answers only), client network
// and name (case-folded), seeded per process so that collisions cannot be
// chosen from outside.
func (r *rrl) key(cls byte, qtype uint16, src netip.Addr, name string) uint64 {
	const prime = 1099511628211
	h := r.seed ^ 14695981039346656037
	mix := func(v uint64) { h = (h ^ v) * prime }
	mix(uint64(cls))
	if cls == rrlPositive {
		mix(uint64(qtype))
	}
	if src.Is4() {
		a := src.As4()
		mix(uint64(binary.BigEndian.Uint32(a[:])&r.v4mask) | 4<<32)
	} else {
		a := src.As16()
		mix(binary.BigEndian.Uint64(a[:8]) & r.v6mask[0])
		mix(binary.BigEndian.Uint64(a[8:]) & r.v6mask[1])
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		mix(uint64(c))
	}
	// murmur3's finaliser spreads the bits the table index uses.
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// check accounts one response and says what to do with it.
func (r *rrl) check(cls byte, qtype uint16, src netip.Addr, name string, now time.Time) int {
	for _, p := range r.exempt {
		if p.Contains(src) {
			return rrlPass
		}
	}
	k := r.key(cls, qtype, src, name)
	b := &r.buckets[(k>>32)*uint64(len(r.buckets))>>32]
	sec := uint32(now.Unix())
	evicted := false
	b.mu.Lock()
	switch {
	case b.key != k:
		// A new key, or a collision: the bucket is this key's now. It
		// was still in use if credited within the window.
		evicted = b.key != 0 && int64(sec)-int64(b.sec) < r.debt/r.rate
		b.key, b.sec, b.bal, b.slips = k, sec, r.rate, 0
	case sec != b.sec:
		if el := int64(int32(sec - b.sec)); el > 0 {
			// Credit Rate a second, at most Rate held (the burst).
			b.bal = min(b.bal+r.rate*min(el, 1<<20), r.rate)
		}
		b.sec = sec
	}
	b.bal--
	limited := b.bal < 0
	slip := false
	if limited {
		b.bal = max(b.bal, -r.debt)
		b.slips++
		slip = r.slip > 0 && b.slips%r.slip == 0
	}
	b.mu.Unlock()
	if evicted {
		r.evictions.Inc()
	}
	if !limited {
		return rrlPass
	}
	r.noteLimited(cls, src, name, now)
	switch {
	case r.logOnly:
		return rrlLogOnly
	case slip:
		return rrlSlip
	}
	return rrlDrop
}

// noteLimited logs that responses are being limited, once per
// rrlLogEvery seconds at most whatever the flood, with the count since
// the last line and the response that triggered this one.
func (r *rrl) noteLimited(cls byte, src netip.Addr, name string, now time.Time) {
	n := r.limited.Add(1)
	last := r.lastLog.Load()
	if now.Unix()-last < rrlLogEvery || !r.lastLog.CompareAndSwap(last, now.Unix()) {
		return
	}
	r.limited.Add(^(n - 1)) // minus n
	bits := 0
	if src.Is4() {
		for m := r.v4mask; m != 0; m <<= 1 {
			bits++
		}
	} else {
		for _, m := range r.v6mask {
			for ; m != 0; m <<= 1 {
				bits++
			}
		}
	}
	p, _ := src.Prefix(bits)
	r.log.Warn().Stringer("client", p).Str("class", rrlClassNames[cls]).Str("name", name).
		Uint64("limited", n).Bool("log_only", r.logOnly).
		Msgf("response rate limiting: %d responses over the rate since the last such line (at most one per %ds)", n, rrlLogEvery)
}
