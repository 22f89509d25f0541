package store

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/gtm-project/gtm/internal/redistest"
)

func sample(prefix, addr, node string, count uint64) ResolverSample {
	return ResolverSample{
		Prefix: netip.MustParsePrefix(prefix), Addr: netip.MustParseAddr(addr), Count: count, Node: node,
		At: time.Date(2026, 1, 2, 3, 4, 5, 700, time.UTC), TTL: time.Minute,
	}
}

func rtt(prefix, addr, source, prober string, d time.Duration) LatencyResult {
	return LatencyResult{
		Prefix: netip.MustParsePrefix(prefix), Addr: netip.MustParseAddr(addr), Source: source, Prober: prober,
		Method: "icmp", RTT: d, At: time.Date(2026, 1, 2, 3, 4, 5, 800, time.UTC), TTL: time.Minute,
	}
}

func sameSamples(t *testing.T, got, want []ResolverSample) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d samples, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.At.Equal(w.At) {
			t.Errorf("sample %d At = %v, want %v", i, g.At, w.At)
		}
		g.At, w.At = time.Time{}, time.Time{}
		if g != w {
			t.Errorf("sample %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func sameLatency(t *testing.T, got, want []LatencyResult) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d results, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.At.Equal(w.At) {
			t.Errorf("result %d At = %v, want %v", i, g.At, w.At)
		}
		g.At, w.At = time.Time{}, time.Time{}
		if g != w {
			t.Errorf("result %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

// runLatencyConformance is the latency-map contract every Store meets, in
// the style of runConformance.
func runLatencyConformance(t *testing.T, b backend) {
	t.Run("SamplesLatestPerNodeAndPrefix", func(t *testing.T) {
		a, o := b.open(t)
		ctx := ctxT(t)
		if ss, err := a.ResolverSamples(ctx); err != nil || len(ss) != 0 {
			t.Fatalf("empty store: ResolverSamples = %v, %v", ss, err)
		}
		s1 := sample("198.51.100.0/24", "198.51.100.7", "dns-1", 10)
		s2 := sample("198.51.100.0/24", "198.51.100.9", "dns-2", 4)
		s3 := sample("2001:db8:1:100::/56", "2001:db8:1:100::53", "dns-1", 7)
		s4 := sample("192.0.2.0/24", "192.0.2.1", "dns-1", 1)
		if err := a.PutResolverSamples(ctx, []ResolverSample{s1, s2, s3, s4}); err != nil {
			t.Fatal(err)
		}
		// A later sample of the same (node, prefix) replaces the first,
		// whoever writes it.
		s1b := s1
		s1b.Count, s1b.Addr = 25, netip.MustParseAddr("198.51.100.8")
		if err := o.PutResolverSamples(ctx, []ResolverSample{s1b}); err != nil {
			t.Fatal(err)
		}
		got, err := o.ResolverSamples(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sameSamples(t, got, []ResolverSample{s4, s1b, s2, s3})
		if err := a.PutResolverSamples(ctx, nil); err != nil {
			t.Fatalf("empty PutResolverSamples: %v", err)
		}
	})

	t.Run("LatencyLatestPerProberAndPrefix", func(t *testing.T) {
		a, o := b.open(t)
		ctx := ctxT(t)
		if rs, err := a.Latency(ctx); err != nil || len(rs) != 0 {
			t.Fatalf("empty store: Latency = %v, %v", rs, err)
		}
		r1 := rtt("198.51.100.0/24", "198.51.100.7", "us-east", "p-us", 12*time.Millisecond)
		r2 := rtt("198.51.100.0/24", "198.51.100.7", "eu-west", "p-eu", 80*time.Millisecond)
		r3 := rtt("2001:db8:1:100::/56", "2001:db8:1:100::53", "eu-west", "p-eu", 9*time.Millisecond)
		if err := a.PutLatency(ctx, []LatencyResult{r3, r2, r1}); err != nil {
			t.Fatal(err)
		}
		r1b := r1
		r1b.RTT, r1b.Method = 14*time.Millisecond, "tcp"
		if err := o.PutLatency(ctx, []LatencyResult{r1b}); err != nil {
			t.Fatal(err)
		}
		got, err := a.Latency(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sameLatency(t, got, []LatencyResult{r2, r1b, r3})
	})

	t.Run("LatencyExpires", func(t *testing.T) {
		a, o := b.open(t)
		ctx := ctxT(t)
		short := rtt("198.51.100.0/24", "198.51.100.7", "us-east", "p-us", time.Millisecond)
		short.TTL = suiteMinTTL
		long := rtt("203.0.113.0/24", "203.0.113.7", "us-east", "p-us", time.Millisecond)
		long.TTL = time.Hour
		dead := rtt("203.0.113.0/24", "203.0.113.7", "eu-west", "p-dead", time.Millisecond)
		dead.TTL = suiteMinTTL
		ss := sample("198.51.100.0/24", "198.51.100.7", "dns-1", 3)
		ss.TTL = suiteMinTTL
		sl := sample("203.0.113.0/24", "203.0.113.7", "dns-1", 3)
		sl.TTL = time.Hour
		if err := a.PutLatency(ctx, []LatencyResult{short, long, dead}); err != nil {
			t.Fatal(err)
		}
		if err := a.PutResolverSamples(ctx, []ResolverSample{ss, sl}); err != nil {
			t.Fatal(err)
		}
		if rs, err := o.Latency(ctx); err != nil || len(rs) != 3 {
			t.Fatalf("before expiry: %d results, %v; want 3", len(rs), err)
		}
		b.advance(suiteMinTTL + time.Millisecond)
		eventually(t, 3*time.Second, "short-lived latency data expires", func() error {
			rs, err := o.Latency(ctx)
			if err != nil {
				return err
			}
			if len(rs) != 1 || rs[0].Prober != "p-us" || rs[0].Prefix != long.Prefix {
				return fmt.Errorf("results %+v, want only 203.0.113.0/24 by p-us", rs)
			}
			ss, err := o.ResolverSamples(ctx)
			if err != nil {
				return err
			}
			if len(ss) != 1 || ss[0].Prefix != sl.Prefix {
				return fmt.Errorf("samples %+v, want only 203.0.113.0/24", ss)
			}
			return nil
		})
		// A later write by the same prober drops what expired and keeps
		// the rest.
		fresh := rtt("192.0.2.0/24", "192.0.2.7", "us-east", "p-us", time.Millisecond)
		if err := a.PutLatency(ctx, []LatencyResult{fresh}); err != nil {
			t.Fatal(err)
		}
		got, err := o.Latency(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Prefix != fresh.Prefix || got[1].Prefix != long.Prefix {
			t.Fatalf("after a new write: %+v, want 192.0.2.0/24 and 203.0.113.0/24", got)
		}
	})

	t.Run("LatencyManyInChunks", func(t *testing.T) {
		a, o := b.open(t)
		ctx := ctxT(t)
		// More than one script chunk per prober, two probers.
		var rs []LatencyResult
		for i := range 2*latencyChunk + 5 {
			p := fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)
			rs = append(rs, rtt(p, fmt.Sprintf("10.%d.%d.1", i/256, i%256), "us-east", "p-us", time.Duration(i+1)*time.Microsecond))
			if i%10 == 0 {
				rs = append(rs, rtt(p, fmt.Sprintf("10.%d.%d.1", i/256, i%256), "eu-west", "p-eu", time.Millisecond))
			}
		}
		if err := a.PutLatency(ctx, rs); err != nil {
			t.Fatal(err)
		}
		got, err := o.Latency(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(rs) {
			t.Fatalf("read %d results back, wrote %d", len(got), len(rs))
		}
		for i := 1; i < len(got); i++ {
			if comparePrefix(got[i-1].Prefix, got[i].Prefix) > 0 {
				t.Fatalf("results not sorted by prefix at %d: %v after %v", i, got[i].Prefix, got[i-1].Prefix)
			}
		}
	})
}

func TestMemoryLatencyConformance(t *testing.T) {
	clock := newFakeClock()
	runLatencyConformance(t, backend{
		open: func(t *testing.T) (Store, Store) {
			m := NewMemory(clock.Now, WithMinResultTTL(suiteMinTTL))
			t.Cleanup(func() { _ = m.Close() })
			return m, m
		},
		advance: clock.Advance,
	})
}

func TestRedisLatencyConformance(t *testing.T) {
	srv := redistest.Start(t)
	runLatencyConformance(t, redisBackend(RedisOptions{Addrs: []string{srv.Addr}}))
}

func TestRedisClusterLatencyConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	c := redistest.StartCluster(t)
	runLatencyConformance(t, redisBackend(RedisOptions{Addrs: c.Addrs}))
}
