package store

import (
	"hash/fnv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Kinds of undecodable store entries (gtm_store_decode_errors_total{kind}).
const (
	garbageDoc     = "doc"
	garbageDrain   = "drain"
	garbageResult  = "result"
	garbageLatency = "latency"
	garbageSample  = "resolver_sample"
	garbageEntry   = "entry" // an expiring-hash entry without its expiry
	garbageChange  = "change_message"
)

// garbageKeys bounds the memory of entries already reported: a store
// filled with junk must not grow the node.
const garbageKeys = 4096

// garbage reports entries of the store that cannot be decoded (written by
// a bug, another version, or a hand with redis-cli). Each is skipped so the
// rest keeps syncing, counted and logged once until its value changes; junk
// on the change channel is logged at most once per redisRepeat.
type garbage struct {
	log   zerolog.Logger
	count *prometheus.CounterVec
	now   func() time.Time

	mu   sync.Mutex
	seen map[string]uint64 // key -> hash of the bad value last reported
	junk logSeen
}

func newGarbage(log zerolog.Logger, reg prometheus.Registerer) *garbage {
	g := &garbage{
		log: log, now: time.Now, seen: map[string]uint64{},
		count: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gtm", Name: "store_decode_errors_total",
			Help: "Store entries that could not be decoded and were skipped, by kind (each counted once until its value changes).",
		}, []string{"kind"}),
	}
	for _, k := range []string{garbageDoc, garbageDrain, garbageResult, garbageLatency, garbageSample, garbageEntry, garbageChange} {
		g.count.WithLabelValues(k)
	}
	if reg != nil {
		reg.MustRegister(g.count)
	}
	return g
}

// bad reports that key holds value, which does not decode.
func (g *garbage) bad(kind, key, value string, err error) {
	h := fnv.New64a()
	h.Write([]byte(value))
	sum := h.Sum64()
	g.mu.Lock()
	if prev, ok := g.seen[key]; ok && prev == sum {
		g.mu.Unlock()
		return
	}
	if len(g.seen) >= garbageKeys {
		clear(g.seen)
	}
	g.seen[key] = sum
	g.mu.Unlock()
	g.count.WithLabelValues(kind).Inc()
	e := g.log.Error().Str("kind", kind).Str("key", key).Int("bytes", len(value))
	if err != nil {
		e = e.Err(err)
	}
	e.Msg("undecodable entry in the store skipped; the rest keeps syncing (logged again only if it changes)")
}

// good forgets a key that decodes again, so that breaking later is told.
func (g *garbage) good(key string) {
	g.mu.Lock()
	if len(g.seen) > 0 {
		delete(g.seen, key)
	}
	g.mu.Unlock()
}

// badMessage reports junk on the change channel, at most once per
// redisRepeat with the number left out.
func (g *garbage) badMessage(payload string) {
	g.count.WithLabelValues(garbageChange).Inc()
	now := g.now()
	g.mu.Lock()
	if !g.junk.at.IsZero() && now.Sub(g.junk.at) < redisRepeat {
		g.junk.suppressed++
		g.mu.Unlock()
		return
	}
	suppressed := g.junk.suppressed
	g.junk = logSeen{at: now}
	g.mu.Unlock()
	if len(payload) > 128 {
		payload = payload[:128] + "…"
	}
	g.log.Warn().Str("payload", payload).Int("repeats_suppressed", suppressed).
		Msg("malformed change message ignored (logged at most every 10 s)")
}
