package store

import (
	"context"
	"net/netip"
	"time"
)

// memLatency is Memory's share of the latency map; guarded by Memory.mu.
// Its maps are made on first write.
type memLatency struct {
	samples map[sampleKey]memSample
	rtts    map[latencyKey]memLatencyResult
}

type sampleKey struct {
	node   string
	prefix netip.Prefix
}

type memSample struct {
	s       ResolverSample
	expires time.Time
}

type latencyKey struct {
	prober string
	prefix netip.Prefix
}

type memLatencyResult struct {
	r       LatencyResult
	expires time.Time
}

// PutResolverSamples implements Store: each sample replaces the previous
// one of the same (node, prefix).
func (m *Memory) PutResolverSamples(ctx context.Context, ss []ResolverSample) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(ss) == 0 {
		return nil
	}
	now := m.clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lat.samples == nil {
		m.lat.samples = make(map[sampleKey]memSample, len(ss))
	}
	for _, s := range ss {
		m.lat.samples[sampleKey{s.Node, s.Prefix}] = memSample{s: s, expires: now.Add(sampleTTL(s.TTL))}
	}
	return nil
}

// ResolverSamples implements Store.
func (m *Memory) ResolverSamples(ctx context.Context) ([]ResolverSample, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := m.clock()
	m.mu.Lock()
	out := make([]ResolverSample, 0, len(m.lat.samples))
	for k, ms := range m.lat.samples {
		if !now.Before(ms.expires) {
			delete(m.lat.samples, k)
			continue
		}
		out = append(out, ms.s)
	}
	m.mu.Unlock()
	sortSamples(out)
	return out, nil
}

// PutLatency implements Store: each result replaces the previous one of
// the same (prober, prefix).
func (m *Memory) PutLatency(ctx context.Context, rs []LatencyResult) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(rs) == 0 {
		return nil
	}
	now := m.clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lat.rtts == nil {
		m.lat.rtts = make(map[latencyKey]memLatencyResult, len(rs))
	}
	for _, r := range rs {
		m.lat.rtts[latencyKey{r.Prober, r.Prefix}] = memLatencyResult{r: r, expires: now.Add(latencyTTL(r.TTL))}
	}
	return nil
}

// Latency implements Store.
func (m *Memory) Latency(ctx context.Context) ([]LatencyResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := m.clock()
	m.mu.Lock()
	out := make([]LatencyResult, 0, len(m.lat.rtts))
	for k, mr := range m.lat.rtts {
		if !now.Before(mr.expires) {
			delete(m.lat.rtts, k)
			continue
		}
		out = append(out, mr.r)
	}
	m.mu.Unlock()
	sortLatency(out)
	return out, nil
}
