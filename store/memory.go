package store

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// Memory is the embedded Store of a single node: everything lives in this
// process and is lost with it (the snapshot file keeps the last state).
// It is safe for concurrent use.
type Memory struct {
	clock  func() time.Time
	minTTL time.Duration

	mu       sync.Mutex
	results  map[resultKey]memResult
	drains   map[string]Drain
	docs     map[docKey][]Doc // newest first; [0] is current
	versions map[string]uint64
	subs     map[*feed]struct{}
	lat      memLatency // resolver samples and RTTs (memory_latency.go)
	cookie   memCookie  // DNS cookie secrets (cookies.go)
}

// MemoryOption changes a default of NewMemory.
type MemoryOption func(*Memory)

// WithMinResultTTL sets the lower bound of a result's lifetime (default
// DefaultMinResultTTL); tests shorten it.
func WithMinResultTTL(d time.Duration) MemoryOption {
	return func(m *Memory) { m.minTTL = d }
}

type resultKey struct{ service, endpoint, prober string }

type memResult struct {
	r       ProbeResult
	expires time.Time
}

type docKey struct{ kind, name string }

// NewMemory returns an empty in-process Store reading time from clock
// (time.Now when nil); results expire by that clock.
func NewMemory(clock func() time.Time, opts ...MemoryOption) *Memory {
	if clock == nil {
		clock = time.Now
	}
	m := &Memory{
		clock:    clock,
		minTTL:   DefaultMinResultTTL,
		results:  make(map[resultKey]memResult),
		drains:   make(map[string]Drain),
		docs:     make(map[docKey][]Doc),
		versions: make(map[string]uint64),
		subs:     make(map[*feed]struct{}),
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

// bump raises the version of what and tells every subscriber; m.mu held.
func (m *Memory) bump(what string) uint64 { return m.bumpUrgent(what, false) }

func (m *Memory) bumpUrgent(what string, urgent bool) uint64 {
	m.versions[what]++
	v := m.versions[what]
	for f := range m.subs {
		f.push(Change{What: what, Version: v, Urgent: urgent})
	}
	return v
}

// PutResults implements Store.
func (m *Memory) PutResults(ctx context.Context, rs []ProbeResult) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(rs) == 0 {
		return nil
	}
	now := m.clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	urgent := false
	for _, r := range rs {
		m.results[resultKey{r.Service, r.Endpoint, r.Prober}] = memResult{
			r: r, expires: now.Add(ResultTTL(r.Interval, m.minTTL)),
		}
		urgent = urgent || r.Changed
	}
	m.bumpUrgent(WhatResults, urgent)
	return nil
}

// Results implements Store.
func (m *Memory) Results(ctx context.Context) ([]ProbeResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := m.clock()
	m.mu.Lock()
	out := make([]ProbeResult, 0, len(m.results))
	for k, mr := range m.results {
		if !now.Before(mr.expires) {
			delete(m.results, k) // expired: forget it for good
			continue
		}
		out = append(out, mr.r)
	}
	m.mu.Unlock()
	sortResults(out)
	return out, nil
}

// sortResults orders results by (service, endpoint, prober) so that every
// backend returns the same order. It sorts indexes, not the results:
// swapping ~250-byte structs with pointers cost 3/4 of Results' time.
func sortResults(rs []ProbeResult) {
	idx := make([]int, len(rs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(i, j int) int {
		a, b := &rs[i], &rs[j]
		if c := strings.Compare(a.Service, b.Service); c != 0 {
			return c
		}
		if c := strings.Compare(a.Endpoint, b.Endpoint); c != 0 {
			return c
		}
		return strings.Compare(a.Prober, b.Prober)
	})
	sorted := make([]ProbeResult, len(rs))
	for i, j := range idx {
		sorted[i] = rs[j]
	}
	copy(rs, sorted)
}

// drainID is the identity of a drain: one per (kind, name).
func drainID(d Drain) string { return string(d.Kind) + "/" + d.Name }

// SetDrain implements Store.
func (m *Memory) SetDrain(ctx context.Context, d Drain, on bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	id := drainID(d)
	if on {
		m.drains[id] = d
	} else {
		if _, ok := m.drains[id]; !ok {
			return nil // nothing changed: no version, no Change
		}
		delete(m.drains, id)
	}
	m.bump(WhatDrains)
	return nil
}

// Drains implements Store.
func (m *Memory) Drains(ctx context.Context) ([]Drain, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	out := make([]Drain, 0, len(m.drains))
	for _, d := range m.drains {
		out = append(out, d)
	}
	m.mu.Unlock()
	sortDrains(out)
	return out, nil
}

func sortDrains(ds []Drain) {
	slices.SortFunc(ds, func(a, b Drain) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
	})
}

// Subscribe implements Store. The feed's goroutine and its registration
// end with ctx.
func (m *Memory) Subscribe(ctx context.Context) <-chan Change {
	f := newFeed()
	m.mu.Lock()
	for _, what := range []string{WhatResults, WhatDrains, WhatConfig} {
		f.push(Change{What: what, Version: m.versions[what]})
	}
	m.subs[f] = struct{}{}
	m.mu.Unlock()
	go func() {
		f.run(ctx)
		m.mu.Lock()
		delete(m.subs, f)
		m.mu.Unlock()
	}()
	return f.out
}

// Ping implements Store: memory is always there.
func (m *Memory) Ping(ctx context.Context) error { return ctx.Err() }

// Close implements Store; there is nothing to release.
func (m *Memory) Close() error { return nil }

var _ Store = (*Memory)(nil)
