package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// pruneEvery is how often (in PutResults calls of one Store) the script
// also drops expired fields from the prober's hash: results of endpoints
// no longer probed would otherwise stay until the prober stops. Readers
// ignore them anyway, so this only bounds memory.
const pruneEvery = 64

// PutResults implements Store: one script call per prober in the batch,
// all pipelined, so 10k results of one prober are one round trip.
func (r *Redis) PutResults(ctx context.Context, rs []ProbeResult) error {
	if len(rs) == 0 {
		return nil
	}
	ctx, cancel := r.call(ctx)
	defer cancel()

	prune := "0"
	if r.puts.Add(1)%pruneEvery == 0 {
		prune = "1"
	}
	byProber := make(map[string][]any)
	var order []string
	for _, res := range rs {
		b, err := json.Marshal(res)
		if err != nil {
			return fmt.Errorf("store: encode result %s: %w", res.Key(), err)
		}
		args, ok := byProber[res.Prober]
		if !ok {
			order = append(order, res.Prober)
			args = []any{res.Prober, prune, r.keys.channel, "0"}
		}
		if res.Changed {
			args[3] = "1"
		}
		ttl := ResultTTL(res.Interval, r.opts.MinResultTTL).Milliseconds()
		byProber[res.Prober] = append(args, res.Key(), ttl, b)
	}
	run := func(p redis.Pipeliner, eval func(context.Context, redis.Scripter, []string, ...any) *redis.Cmd) []*redis.Cmd {
		cmds := make([]*redis.Cmd, 0, len(order))
		for _, prober := range order {
			k := []string{r.keys.prober(prober), r.keys.probers, r.keys.resultsVersion}
			cmds = append(cmds, eval(ctx, p, k, byProber[prober]...))
		}
		return cmds
	}
	if err := r.runScripts(ctx, putResultsScript, run); err != nil {
		return fmt.Errorf("store: put %d results: %w", len(rs), err)
	}
	return nil
}

// runScripts pipelines EVALSHA calls of one script and, when the server
// does not know the script yet (first use, or after a restart emptied its
// cache), loads it and tries once more.
func (r *Redis) runScripts(ctx context.Context, s *redis.Script,
	run func(redis.Pipeliner, func(context.Context, redis.Scripter, []string, ...any) *redis.Cmd) []*redis.Cmd,
) error {
	p := r.client.Pipeline()
	cmds := run(p, s.EvalSha)
	_, err := p.Exec(ctx)
	if err == nil {
		return nil
	}
	if !isNoScript(cmds) {
		return err
	}
	p = r.client.Pipeline()
	run(p, s.Eval)
	_, err = p.Exec(ctx)
	return err
}

func isNoScript(cmds []*redis.Cmd) bool {
	for _, c := range cmds {
		if c.Err() != nil && strings.HasPrefix(c.Err().Error(), "NOSCRIPT") {
			return true
		}
	}
	return false
}

// Results implements Store: two round trips (the index with the server
// time, then every live prober hash in one pipeline; see readWriterSet).
func (r *Redis) Results(ctx context.Context) ([]ProbeResult, error) {
	ctx, cancel := r.call(ctx)
	defer cancel()
	raw, err := r.readWriterSet(ctx, writerSet{index: r.keys.probers, prefix: r.keys.proberPrefix})
	if err != nil {
		return nil, fmt.Errorf("store: results: %w", err)
	}
	out := make([]ProbeResult, 0, len(raw))
	r.decodedMu.Lock()
	prev := r.decoded
	next := make(map[string]ProbeResult, len(raw))
	for _, e := range raw {
		res, ok := prev[e.js]
		if !ok {
			if err := json.Unmarshal([]byte(e.js), &res); err != nil {
				r.garbage.bad(garbageResult, e.key, e.js, err)
				continue
			}
		}
		next[e.js] = res
		out = append(out, res)
	}
	r.decoded = next // only what is live now: the cache never outgrows one read
	r.decodedMu.Unlock()
	sortResults(out)
	return out, nil
}
