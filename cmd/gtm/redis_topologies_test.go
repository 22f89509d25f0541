package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gtm-project/gtm/internal/gtmtest"
	"github.com/gtm-project/gtm/internal/redistest"
)

func quoteAll(addrs []string) string {
	q := make([]string, len(addrs))
	for i, a := range addrs {
		q[i] = fmt.Sprintf("%q", a)
	}
	return strings.Join(q, ", ")
}

// apiRetry writes through a node's API until it succeeds (the store may be
// failing over) and returns how long that took.
func (c *cluster) apiRetry(p *gtmtest.Proc, method, path string, limit time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	for {
		req, _ := http.NewRequest(method, "http://"+p.API+path, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return time.Since(start)
			}
		}
		if time.Since(start) > limit {
			c.t.Fatalf("%s %s did not succeed within %s (last: %v %v)", method, path, limit, err, resp)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// background queries nodes until stopped and counts failures.
type background struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	queries atomic.Int64
	fails   atomic.Int64
}

func hammerInBackground(nodes []*gtmtest.Proc, name string, want []string) *background {
	b := &background{stop: make(chan struct{})}
	for _, p := range nodes {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			for {
				select {
				case <-b.stop:
					return
				default:
				}
				b.queries.Add(1)
				b.fails.Add(int64(hammer([]*gtmtest.Proc{p}, name, want, 1)))
			}
		}()
	}
	return b
}

func (b *background) done() (queries, fails int64) {
	close(b.stop)
	b.wg.Wait()
	return b.queries.Load(), b.fails.Load()
}

// TestSentinelFailover: the Redis master dies while a node serves; no DNS
// query fails, and writes resume on the promoted replica.
func TestSentinelFailover(t *testing.T) {
	s := redistest.StartSentinel(t)
	w := newWorld(t, fmt.Sprintf("{addrs: [%s], master_name: %s}", quoteAll(s.Addrs), s.MasterName), "eu")
	eu := w.nodes["eu"]
	until(t, eu, "api.example.com", all3, 10*time.Second)
	w.api(eu, "PUT", "/api/v1/drains/endpoint/gw-3")
	until(t, eu, "api.example.com", []string{"127.0.0.11", "127.0.0.12"}, time.Second)

	bg := hammerInBackground([]*gtmtest.Proc{eu}, "api.example.com", []string{"127.0.0.11", "127.0.0.12"})
	old := s.KillMaster(t)
	killed := time.Now()
	took := w.apiRetry(eu, "DELETE", "/api/v1/drains/endpoint/gw-3", 60*time.Second)
	t.Logf("master %s killed: a write through the node succeeded again after %s", old, time.Since(killed).Round(time.Millisecond))
	_ = took
	queries, fails := bg.done()
	if fails != 0 {
		t.Errorf("during the failover %d of %d DNS queries failed or changed answer", fails, queries)
	}
	t.Logf("%d DNS queries during the failover, %d failed", queries, fails)
	until(t, eu, "api.example.com", all3, 2*time.Second)
}

// TestClusterTwoNodes: the two-node propagation test on a Redis Cluster of
// three masters.
func TestClusterTwoNodes(t *testing.T) {
	c := redistest.StartCluster(t)
	w := newWorld(t, fmt.Sprintf("{addrs: [%s]}", quoteAll(c.Addrs)), "eu", "us")
	eu, us := w.nodes["eu"], w.nodes["us"]
	until(t, eu, "api.example.com", all3, 10*time.Second)
	until(t, us, "api.example.com", all3, 10*time.Second)
	w.api(eu, "PUT", "/api/v1/drains/endpoint/gw-1")
	t.Logf("cluster: drain on eu -> us answers after %s", until(t, us, "api.example.com", no1, time.Second))
	w.api(us, "DELETE", "/api/v1/drains/endpoint/gw-1")
	until(t, eu, "api.example.com", all3, time.Second)
	w.gws["127.0.0.13"].stop()
	took := until(t, eu, "api.example.com", []string{"127.0.0.11", "127.0.0.12"}, 3500*time.Millisecond)
	t.Logf("cluster: gateway stopped -> eu answers without it after %s", took)
	until(t, us, "api.example.com", []string{"127.0.0.11", "127.0.0.12"}, time.Second)
}
