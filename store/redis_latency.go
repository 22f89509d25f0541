package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// latencyChunk is how many entries one script call writes. A node or
// prober writes up to top-K (10,000) entries per round; chunks keep each
// script, which blocks Redis while it runs, short.
const latencyChunk = 1000

// writerSet is a family of per-writer hashes with an index of writers by
// expiry: resolver samples (one hash per DNS node) or RTTs (one per
// prober). A writer's hash lives as long as its longest-lived field, so a
// node or prober that stops takes its data with it.
type writerSet struct {
	index  string // ZSET writer -> expiry (server ms)
	prefix string // + writer: HASH field -> "<expiry ms> <JSON>"
}

func (r *Redis) latencySets() (samples, rtts writerSet) {
	base := "{" + r.opts.Prefix + ":latency}:"
	return writerSet{index: base + "samples:idx", prefix: base + "samples:n:"},
		writerSet{index: base + "rtt:idx", prefix: base + "rtt:p:"}
}

// putWriterSetScript stores one writer's entries.
//
// KEYS: 1 writer hash, 2 writer index.
// ARGV: 1 writer id, 2 prune ("1": drop expired fields), then triples
// (field, ttl ms, JSON).
var putWriterSetScript = redis.NewScript(luaNow + "local first = 3\n" + luaPutEntries + "return 1\n")

// writerIndexScript returns the server time and the writers whose hash
// may hold live entries.
//
// KEYS: 1 writer index.
var writerIndexScript = redis.NewScript(luaNow + `
return {string.format('%d', now), redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. string.format('%d', now), '+inf')}
`)

// setEntry is one field to write.
type setEntry struct {
	writer, field string
	ttlMS         int64
	value         any // encoded as JSON
}

// putWriterSet writes entries grouped by writer: a pipeline of script
// calls of at most latencyChunk entries, the last of each writer pruning
// its expired fields.
func (r *Redis) putWriterSet(ctx context.Context, set writerSet, es []setEntry) error {
	type call struct {
		writer string
		args   []any
	}
	byWriter := map[string][]setEntry{}
	var order []string
	for _, e := range es {
		if _, ok := byWriter[e.writer]; !ok {
			order = append(order, e.writer)
		}
		byWriter[e.writer] = append(byWriter[e.writer], e)
	}
	var calls []call
	for _, w := range order {
		list := byWriter[w]
		for start := 0; start < len(list); start += latencyChunk {
			end := min(start+latencyChunk, len(list))
			prune := "0"
			if end == len(list) {
				prune = "1"
			}
			args := make([]any, 0, 2+3*(end-start))
			args = append(args, w, prune)
			for _, e := range list[start:end] {
				b, err := json.Marshal(e.value)
				if err != nil {
					return fmt.Errorf("encode %s: %w", e.field, err)
				}
				args = append(args, e.field, e.ttlMS, b)
			}
			calls = append(calls, call{w, args})
		}
	}
	run := func(p redis.Pipeliner, eval func(context.Context, redis.Scripter, []string, ...any) *redis.Cmd) []*redis.Cmd {
		cmds := make([]*redis.Cmd, 0, len(calls))
		for _, c := range calls {
			cmds = append(cmds, eval(ctx, p, []string{set.prefix + c.writer, set.index}, c.args...))
		}
		return cmds
	}
	return r.runScripts(ctx, putWriterSetScript, run)
}

// rawEntry is one live entry of a writer set: its JSON, and where it is
// (for reports of entries that do not decode).
type rawEntry struct{ key, js string }

// readWriterSet returns the JSON of every live entry of every live writer.
func (r *Redis) readWriterSet(ctx context.Context, set writerSet) ([]rawEntry, error) {
	idx, err := writerIndexScript.Run(ctx, r.client, []string{set.index}).Slice()
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	if len(idx) != 2 {
		return nil, fmt.Errorf("index: %d values, want 2", len(idx))
	}
	nowStr, _ := idx[0].(string)
	now, err := strconv.ParseInt(nowStr, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("index time %q: %w", nowStr, err)
	}
	writers, _ := idx[1].([]any)
	if len(writers) == 0 {
		return nil, nil
	}
	p := r.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(writers))
	for i, w := range writers {
		id, _ := w.(string)
		cmds[i] = p.HGetAll(ctx, set.prefix+id)
	}
	if _, err := p.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	var out []rawEntry
	for i, c := range cmds {
		id, _ := writers[i].(string)
		for field, val := range c.Val() {
			key := set.prefix + id + "/" + field
			expStr, js, ok := strings.Cut(val, " ")
			exp, err := strconv.ParseInt(expStr, 10, 64)
			if !ok || err != nil {
				r.garbage.bad(garbageEntry, key, val, err)
				continue
			}
			if exp > now {
				out = append(out, rawEntry{key, js})
			}
		}
	}
	return out, nil
}

// PutResolverSamples implements Store.
func (r *Redis) PutResolverSamples(ctx context.Context, ss []ResolverSample) error {
	if len(ss) == 0 {
		return nil
	}
	ctx, cancel := r.call(ctx)
	defer cancel()
	samples, _ := r.latencySets()
	es := make([]setEntry, len(ss))
	for i, s := range ss {
		es[i] = setEntry{writer: s.Node, field: s.Prefix.String(), ttlMS: sampleTTL(s.TTL).Milliseconds(), value: s}
	}
	if err := r.putWriterSet(ctx, samples, es); err != nil {
		return fmt.Errorf("store: put %d resolver samples: %w", len(ss), err)
	}
	return nil
}

// ResolverSamples implements Store.
func (r *Redis) ResolverSamples(ctx context.Context) ([]ResolverSample, error) {
	ctx, cancel := r.call(ctx)
	defer cancel()
	samples, _ := r.latencySets()
	raw, err := r.readWriterSet(ctx, samples)
	if err != nil {
		return nil, fmt.Errorf("store: resolver samples: %w", err)
	}
	out := make([]ResolverSample, 0, len(raw))
	for _, e := range raw {
		var s ResolverSample
		if err := json.Unmarshal([]byte(e.js), &s); err != nil {
			r.garbage.bad(garbageSample, e.key, e.js, err)
			continue
		}
		out = append(out, s)
	}
	sortSamples(out)
	return out, nil
}

// PutLatency implements Store.
func (r *Redis) PutLatency(ctx context.Context, rs []LatencyResult) error {
	if len(rs) == 0 {
		return nil
	}
	ctx, cancel := r.call(ctx)
	defer cancel()
	_, rtts := r.latencySets()
	es := make([]setEntry, len(rs))
	for i, res := range rs {
		es[i] = setEntry{writer: res.Prober, field: res.Prefix.String(), ttlMS: latencyTTL(res.TTL).Milliseconds(), value: res}
	}
	if err := r.putWriterSet(ctx, rtts, es); err != nil {
		return fmt.Errorf("store: put %d latency results: %w", len(rs), err)
	}
	return nil
}

// Latency implements Store.
func (r *Redis) Latency(ctx context.Context) ([]LatencyResult, error) {
	ctx, cancel := r.call(ctx)
	defer cancel()
	_, rtts := r.latencySets()
	raw, err := r.readWriterSet(ctx, rtts)
	if err != nil {
		return nil, fmt.Errorf("store: latency: %w", err)
	}
	out := make([]LatencyResult, 0, len(raw))
	for _, e := range raw {
		var res LatencyResult
		if err := json.Unmarshal([]byte(e.js), &res); err != nil {
			r.garbage.bad(garbageLatency, e.key, e.js, err)
			continue
		}
		out = append(out, res)
	}
	sortLatency(out)
	return out, nil
}
