package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gtm-project/gtm/internal/redistest"
)

// benchResults is one prober's round over n endpoints.
func benchResults(prober string, n int) []ProbeResult {
	rs := make([]ProbeResult, n)
	for i := range rs {
		rs[i] = result("api.example.com.", fmt.Sprintf("gw-%03d", i), prober, true, 20*time.Millisecond)
	}
	return rs
}

func benchPut(b *testing.B, s Store) {
	ctx := context.Background()
	rs := benchResults("p1", 100)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.PutResults(ctx, rs); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRead reads 300 results: 3 probers × 100 endpoints, the steady state
// the issue measures.
func benchRead(b *testing.B, s Store) {
	ctx := context.Background()
	for _, p := range []string{"p1", "p2", "p3"} {
		if err := s.PutResults(ctx, benchResults(p, 100)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		rs, err := s.Results(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(rs) != 300 {
			b.Fatalf("%d results", len(rs))
		}
	}
}

func BenchmarkRedisPutResults100(b *testing.B) {
	srv := redistest.Start(b)
	benchPut(b, newTestRedis(b, RedisOptions{Addrs: []string{srv.Addr}, MinResultTTL: time.Minute}))
}

func BenchmarkRedisResults300(b *testing.B) {
	srv := redistest.Start(b)
	benchRead(b, newTestRedis(b, RedisOptions{Addrs: []string{srv.Addr}, MinResultTTL: time.Minute}))
}

func BenchmarkMemoryPutResults100(b *testing.B) {
	benchPut(b, NewMemory(nil))
}

func BenchmarkMemoryResults300(b *testing.B) {
	benchRead(b, NewMemory(nil))
}

// BenchmarkRedisResults300Churn is benchRead with a fifth of the results
// rewritten (new At) before each read: a node syncing every 200 ms with
// checks every second.
func BenchmarkRedisResults300Churn(b *testing.B) {
	srv := redistest.Start(b)
	s := newTestRedis(b, RedisOptions{Addrs: []string{srv.Addr}, MinResultTTL: time.Minute})
	ctx := context.Background()
	for _, p := range []string{"p1", "p2", "p3"} {
		if err := s.PutResults(ctx, benchResults(p, 100)); err != nil {
			b.Fatal(err)
		}
	}
	churn := benchResults("p1", 60)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		now := time.Now()
		for i := range churn {
			churn[i].At = now
		}
		if err := s.PutResults(ctx, churn); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := s.Results(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
