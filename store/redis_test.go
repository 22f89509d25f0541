package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/gtm-project/gtm/internal/redistest"
)

// newTestRedis opens a Redis Store on opts with test-friendly timings.
func newTestRedis(t testing.TB, opts RedisOptions) *Redis {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = "gtmtest"
	}
	if opts.MinResultTTL == 0 {
		opts.MinResultTTL = suiteMinTTL
	}
	if opts.SafetyInterval == 0 {
		opts.SafetyInterval = time.Second
	}
	r, err := NewRedis(opts, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// redisBackend runs the conformance suite on one deployment: every
// subtest gets its own key prefix, so state never leaks between them and
// nothing needs flushing.
func redisBackend(opts RedisOptions) backend {
	opened := 0
	return backend{
		open: func(t *testing.T) (Store, Store) {
			opened++
			o := opts
			o.Prefix = fmt.Sprintf("t%d:%s", opened, t.Name())
			return newTestRedis(t, o), newTestRedis(t, o)
		},
		advance: func(time.Duration) {},
	}
}

func TestRedisConformance(t *testing.T) {
	srv := redistest.Start(t)
	runConformance(t, redisBackend(RedisOptions{Addrs: []string{srv.Addr}}))
}

func TestRedisSentinelConformanceAndFailover(t *testing.T) {
	s := redistest.StartSentinel(t)
	opts := RedisOptions{Addrs: s.Addrs, MasterName: s.MasterName}
	runConformance(t, redisBackend(opts))

	opts.Prefix = "failover"
	w := newTestRedis(t, opts)
	rd := newTestRedis(t, opts)
	ctx := context.Background()
	sub := rd.Subscribe(ctx)
	waitChange(t, sub, WhatConfig, 0, 5*time.Second)
	if _, err := w.PutDoc(ctx, KindZone, "z.", []byte("before"), DocMeta{}, 0); err != nil {
		t.Fatal(err)
	}
	waitChange(t, sub, WhatConfig, 1, time.Second)
	// Give the replica the write before its master dies.
	eventually(t, 5*time.Second, "replica has the write", func() error {
		c := redis.NewClient(&redis.Options{Addr: s.Nodes[1].Addr, Protocol: 2})
		defer c.Close()
		n, err := c.Exists(ctx, w.keys.configVersion).Result()
		if err != nil || n != 1 {
			return fmt.Errorf("exists=%d err=%v", n, err)
		}
		return nil
	})

	old := s.KillMaster(t)
	start := time.Now()
	var d Doc
	eventually(t, 30*time.Second, "writes resume on the new master", func() error {
		var err error
		d, err = w.PutDoc(ctx, KindZone, "z.", []byte("after"), DocMeta{}, 0)
		if err != nil {
			m, _ := s.MasterAddr(ctx)
			err = fmt.Errorf("%w (sentinels name master %s%s)", err, m, s.Tilt(ctx))
		}
		return err
	})
	t.Logf("writes resumed %v after killing master %s", time.Since(start).Round(time.Millisecond), old)
	if d.Version != 2 {
		t.Fatalf("version after failover %d, want 2 (the replica had version 1)", d.Version)
	}
	// The reader's subscription followed the master too.
	waitChange(t, sub, WhatConfig, d.ConfigVersion, 10*time.Second)
	got, err := rd.Doc(ctx, KindZone, "z.")
	if err != nil || string(got.Body) != "after" {
		t.Fatalf("read after failover: %+v, %v", got, err)
	}
}

func TestRedisClusterConformance(t *testing.T) {
	c := redistest.StartCluster(t)
	runConformance(t, redisBackend(RedisOptions{Addrs: c.Addrs}))

	r := newTestRedis(t, RedisOptions{Addrs: c.Addrs})
	ctx := context.Background()
	if err := r.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := r.Stats(ctx)
	if err != nil || st.Nodes != 3 || st.TotalCommands == 0 {
		t.Fatalf("cluster stats %+v, %v: want 3 masters", st, err)
	}
}

func TestRedisSubscribeAfterRestart(t *testing.T) {
	srv := redistest.Start(t)
	w := newTestRedis(t, RedisOptions{Addrs: []string{srv.Addr}})
	rd := newTestRedis(t, RedisOptions{Addrs: []string{srv.Addr}})
	ctx := context.Background()
	sub := rd.Subscribe(ctx)
	waitChange(t, sub, WhatConfig, 0, 5*time.Second)
	d, err := w.PutDoc(ctx, KindZone, "example.com.", []byte("zone"), DocMeta{By: "alice"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitChange(t, sub, WhatConfig, 1, time.Second)

	srv.Restart() // comes back empty
	// The reconnect re-emits every version; config went back to 0, which
	// tells the reader the store lost state.
	c := waitChange(t, sub, WhatConfig, 0, 10*time.Second)
	if c.Version != 0 {
		t.Fatalf("config change after restart: %+v, want version 0", c)
	}
	// The node restores what it holds, and everyone sees it.
	if err := w.RestoreDocs(ctx, []Doc{d}); err != nil {
		t.Fatal(err)
	}
	c = waitChange(t, sub, WhatConfig, 2, 2*time.Second)
	got, err := rd.Doc(ctx, KindZone, "example.com.")
	if err != nil || got.Version != 1 || string(got.Body) != "zone" || got.By != "alice" {
		t.Fatalf("restored doc %+v, %v", got, err)
	}
	t.Logf("config version after restore: %d", c.Version)
}

func TestRedisSafetyNetCatchesMissedChange(t *testing.T) {
	srv := redistest.Start(t)
	r := newTestRedis(t, RedisOptions{Addrs: []string{srv.Addr}, SafetyInterval: 200 * time.Millisecond})
	ctx := context.Background()
	sub := r.Subscribe(ctx)
	waitChange(t, sub, WhatDrains, 0, 5*time.Second)
	// A write whose message nobody published (as if it was lost).
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr, Protocol: 2})
	defer raw.Close()
	if err := raw.Set(ctx, r.keys.drainsVersion, 7, 0).Err(); err != nil {
		t.Fatal(err)
	}
	waitChange(t, sub, WhatDrains, 7, 2*time.Second)
}

func TestRedisDownFailsFastAndRecovers(t *testing.T) {
	srv := redistest.Start(t)
	r := newTestRedis(t, RedisOptions{Addrs: []string{srv.Addr}, CallTimeout: time.Second})
	ctx := context.Background()
	if err := r.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	calls := map[string]func() error{
		"Ping":       func() error { return r.Ping(ctx) },
		"PutResults": func() error { return r.PutResults(ctx, []ProbeResult{result("s.", "e", "p", true, 1)}) },
		"Results":    func() error { _, err := r.Results(ctx); return err },
		"Drains":     func() error { _, err := r.Drains(ctx); return err },
		"PutDoc":     func() error { _, err := r.PutDoc(ctx, KindZone, "z.", nil, DocMeta{}, 0); return err },
		"Config":     func() error { _, err := r.ConfigVersion(ctx); return err },
	}
	for name, call := range calls {
		start := time.Now()
		err := call()
		took := time.Since(start)
		t.Logf("%s with Redis down: %v after %v", name, err, took.Round(time.Millisecond))
		if err == nil {
			t.Errorf("%s succeeded with Redis down", name)
		}
		// Refused connections fail in ~250 ms; the bound is CallTimeout
		// plus slack for a loaded machine: never a hang.
		if took > r.opts.CallTimeout+2*time.Second {
			t.Errorf("%s took %v with Redis down", name, took)
		}
	}
	srv.Restart()
	eventually(t, 5*time.Second, "calls work again after restart", func() error {
		return r.PutResults(ctx, []ProbeResult{result("s.", "e", "p", true, 1)})
	})
	if rs, err := r.Results(ctx); err != nil || len(rs) != 1 {
		t.Fatalf("after recovery: %d results, %v", len(rs), err)
	}
}

func TestRedisKeySchemaAndExpiry(t *testing.T) {
	srv := redistest.Start(t)
	r := newTestRedis(t, RedisOptions{Addrs: []string{srv.Addr}, Prefix: "gtm"})
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr, Protocol: 2})
	defer raw.Close()
	ctx := context.Background()

	res := result("api.example.com.", "gw-eu-1", "p1", true, time.Millisecond)
	res.Interval = 10 * time.Millisecond // TTL = suiteMinTTL
	if err := r.PutResults(ctx, []ProbeResult{res}); err != nil {
		t.Fatal(err)
	}
	if err := r.SetDrain(ctx, Drain{Kind: DrainRegion, Name: "r"}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := r.PutDoc(ctx, KindZone, "example.com.", []byte("z"), DocMeta{}, 0); err != nil {
		t.Fatal(err)
	}
	keys, err := raw.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"{gtm:results}:p:p1", "{gtm:results}:probers", "{gtm:results}:version",
		"{gtm:config}:drains", "{gtm:config}:drains:version", "{gtm:config}:version",
		"{gtm:config}:docs:zone", "{gtm:config}:docv:zone", "{gtm:config}:hist:zone:example.com.",
	}
	have := map[string]bool{}
	for _, k := range keys {
		have[k] = true
	}
	for _, k := range want {
		if !have[k] {
			t.Errorf("key %q missing; have %v", k, keys)
		}
	}
	if len(keys) != len(want) {
		t.Errorf("keys %v, want exactly %v", keys, want)
	}
	pttl, err := raw.PTTL(ctx, "{gtm:results}:p:p1").Result()
	if err != nil || pttl <= 0 || pttl > suiteMinTTL {
		t.Fatalf("prober hash PTTL %v (%v), want (0, %v]", pttl, err, suiteMinTTL)
	}
	if pttl, _ := raw.PTTL(ctx, "{gtm:config}:docs:zone").Result(); pttl != -1 {
		t.Errorf("documents must not expire; PTTL %v", pttl)
	}
	// A dead prober's hash disappears from Redis itself.
	eventually(t, 3*time.Second, "prober hash expires", func() error {
		if n, _ := raw.Exists(ctx, "{gtm:results}:p:p1").Result(); n != 0 {
			return errors.New("still there")
		}
		return nil
	})
}

func TestRedisPruneDropsExpiredFields(t *testing.T) {
	srv := redistest.Start(t)
	r := newTestRedis(t, RedisOptions{Addrs: []string{srv.Addr}})
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr, Protocol: 2})
	defer raw.Close()
	ctx := context.Background()
	short := result("s.", "old", "p", true, 1)
	short.Interval = time.Millisecond
	if err := r.PutResults(ctx, []ProbeResult{short}); err != nil {
		t.Fatal(err)
	}
	key := r.keys.prober("p")
	// The prober keeps writing another endpoint, so its hash lives on;
	// within pruneEvery writes the expired field goes.
	live := result("s.", "live", "p", true, 1)
	eventually(t, 5*time.Second, "expired field pruned", func() error {
		for range pruneEvery {
			if err := r.PutResults(ctx, []ProbeResult{live}); err != nil {
				return err
			}
		}
		if ok, _ := raw.HExists(ctx, key, short.Key()).Result(); ok {
			return errors.New("expired field still stored")
		}
		return nil
	})
	if ok, _ := raw.HExists(ctx, key, live.Key()).Result(); !ok {
		t.Fatal("prune dropped a live field")
	}
}

// countHook counts round trips (single commands and pipelines) after
// connection setup.
type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() != "hello" { // connection setup, once per connection
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

func TestRedisPutResultsIsFewRoundTrips(t *testing.T) {
	srv := redistest.Start(t)
	// A generous CallTimeout: encoding 10k results under -race on a busy
	// machine is slow, and this test counts round trips, not time.
	r := newTestRedis(t, RedisOptions{Addrs: []string{srv.Addr}, CallTimeout: 20 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second})
	ctx := context.Background()
	rs := make([]ProbeResult, 10000)
	for i := range rs {
		rs[i] = result("svc.", fmt.Sprintf("ep-%05d", i), "p1", true, time.Millisecond)
	}
	h := &countHook{}
	r.client.AddHook(h)
	// First call: EVALSHA fails (NOSCRIPT), EVAL loads it: two round trips.
	if err := r.PutResults(ctx, rs); err != nil {
		t.Fatal(err)
	}
	if n := h.n.Load(); n > 2 {
		t.Fatalf("first PutResults(10k) took %d round trips, want <= 2", n)
	}
	h.n.Store(0)
	if err := r.PutResults(ctx, rs); err != nil {
		t.Fatal(err)
	}
	if n := h.n.Load(); n != 1 {
		t.Fatalf("PutResults(10k) took %d round trips, want 1", n)
	}
	h.n.Store(0)
	got, err := r.Results(ctx)
	if err != nil || len(got) != len(rs) {
		t.Fatalf("Results: %d, %v", len(got), err)
	}
	if n := h.n.Load(); n > 3 {
		t.Fatalf("Results took %d round trips, want <= 3", n)
	}
}

func TestRedisPasswordFile(t *testing.T) {
	srv := redistest.Start(t, "--requirepass", "s3cret")
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(good, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := newTestRedis(t, RedisOptions{Addrs: []string{srv.Addr}, PasswordFile: good}).Ping(ctx); err != nil {
		t.Fatalf("with the right password (newline trimmed): %v", err)
	}
	err := newTestRedis(t, RedisOptions{Addrs: []string{srv.Addr}, PasswordFile: bad}).Ping(ctx)
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "pass") {
		t.Fatalf("with a wrong password: %v, want an auth error", err)
	}
	if _, err := NewRedis(RedisOptions{Addrs: []string{srv.Addr}, PasswordFile: filepath.Join(dir, "none")}, zerolog.Nop()); err == nil {
		t.Fatal("a missing password file was accepted")
	}
}

func TestRedisStats(t *testing.T) {
	srv := redistest.Start(t)
	r := newTestRedis(t, RedisOptions{Addrs: []string{srv.Addr}})
	ctx := context.Background()
	before, err := r.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if err := r.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	}
	after, err := r.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Nodes != 1 || after.TotalCommands < before.TotalCommands+10 {
		t.Fatalf("stats before %+v after %+v: want 10 more commands", before, after)
	}
}
