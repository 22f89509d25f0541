package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gtm-project/gtm/internal/gtmtest"
	"github.com/gtm-project/gtm/internal/redistest"
	"github.com/gtm-project/gtm/store"
	"github.com/rs/zerolog"
)

// TestPropagationDelay measures, over 100 changes, how long a drain written
// through one node takes to change the other node's answer.
func TestPropagationDelay(t *testing.T) {
	r := redistest.Start(t)
	w := newWorld(t, fmt.Sprintf("{addrs: [%q]}", r.Addr), "eu", "us")
	eu, us := w.nodes["eu"], w.nodes["us"]
	until(t, us, "api.example.com", all3, 10*time.Second)
	var delays []time.Duration
	for i := 0; i < 100; i++ {
		method, want := "PUT", no1
		if i%2 == 1 {
			method, want = "DELETE", all3
		}
		start := time.Now()
		w.api(eu, method, "/api/v1/drains/endpoint/gw-1")
		until(t, us, "api.example.com", want, time.Second)
		delays = append(delays, time.Since(start))
	}
	slices.Sort(delays)
	t.Logf("propagation from a write on eu to the new answer on us, 100 changes: median %s, p90 %s, max %s",
		delays[50].Round(100*time.Microsecond), delays[90].Round(100*time.Microsecond), delays[99].Round(100*time.Microsecond))
	if delays[99] > time.Second {
		t.Errorf("max propagation %s exceeds 1s", delays[99])
	}
}

// TestRedisLoad reports Redis commands per second in steady state for 3
// nodes, 100 endpoints and 3 probers. Set GTM_MEASURE=1 to run it (30 s).
func TestRedisLoad(t *testing.T) {
	if os.Getenv("GTM_MEASURE") != "1" {
		t.Skip("set GTM_MEASURE=1 to measure Redis load (30 s)")
	}
	r := redistest.Start(t)
	port := freePort(t, "127.0.2.1")
	var eps []string
	for i := 1; i <= 100; i++ {
		ip := fmt.Sprintf("127.0.2.%d", i)
		l, err := net.Listen("tcp", ip+":"+port)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		eps = append(eps, fmt.Sprintf("      - {name: gw-%d, region: %s, zone: \"1\", address: %s}", i, []string{"eu", "us", "ap"}[i%3], ip))
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"example.com.zone": serveZone})
	var nodes []*gtmtest.Proc
	for _, region := range []string{"eu", "us", "ap"} {
		cfg := fmt.Sprintf(`
node: {region: %s, id: node-%s}
dns: {listen: ["127.0.0.1:0"]}
api: {listen: "127.0.0.1:0"}
state: {backend: redis, redis: {addrs: [%q]}}
regions: {eu: {lat: 50, lon: 8}, us: {lat: 40, lon: -74}, ap: {lat: 1.3, lon: 103.8}}
zones: [{origin: example.com., file: example.com.zone}]
services:
  - name: api.example.com.
    check: {type: tcp, port: %s}
    endpoints:
%s
`, region, region, r.Addr, port, strings.Join(eps, "\n"))
		writeFiles(t, dir, map[string]string{region + ".yaml": cfg})
		nodes = append(nodes, gtmtest.Start(t, filepath.Join(dir, region+".yaml"), "--log-level", "info"))
	}
	st, err := store.NewRedis(store.RedisOptions{Addrs: []string{r.Addr}}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	time.Sleep(10 * time.Second) // every endpoint probed and up
	ctx := context.Background()
	a, err := st.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Second)
	b, _ := st.Stats(ctx)
	rate := float64(b.TotalCommands-a.TotalCommands) / 20
	t.Logf("steady state, 3 nodes (each with a prober), 100 endpoints at a 5s interval: %.0f Redis commands/s", rate)
	_ = nodes
}
