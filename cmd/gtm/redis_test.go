package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gtm-project/gtm/internal/gtmtest"
	"github.com/gtm-project/gtm/internal/redistest"
	"github.com/gtm-project/gtm/store"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

const testToken = "0123456789abcdef0123"

// nodeConfig is a gtm node of region `region` sharing state through redis.
func nodeConfig(region, redisYAML, port, snapshot string) string {
	return fmt.Sprintf(`
node: {region: %[1]s, id: node-%[1]s}
dns: {listen: ["127.0.0.1:0"]}
api: {listen: "127.0.0.1:0", token_file: tokens}
state:
  backend: redis
  redis: %[2]s
  snapshot_path: %[4]s
regions:
  eu: {lat: 50, lon: 8}
  us: {lat: 40, lon: -74}
zones:
  - {origin: example.com., file: example.com.zone}
services:
  - name: api.example.com.
    ttl: 5
    policy: weighted
    answers: 3
    check: {type: http, port: %[3]s, path: /status, interval: 1s, timeout: 500ms, rise: 2, fall: 2}
    endpoints:
      - {name: gw-1, region: eu, zone: "1", address: 127.0.0.11}
      - {name: gw-2, region: eu, zone: "2", address: 127.0.0.12}
      - {name: gw-3, region: us, zone: "1", address: 127.0.0.13}
`, region, redisYAML, port, snapshot)
}

type cluster struct {
	t     *testing.T
	dir   string
	port  string
	gws   map[string]*gateway
	redis string
	nodes map[string]*gtmtest.Proc
}

func newWorld(t *testing.T, redisYAML string, regions ...string) *cluster {
	c := &cluster{t: t, dir: t.TempDir(), gws: map[string]*gateway{}, redis: redisYAML, nodes: map[string]*gtmtest.Proc{}}
	c.port = freePort(t, "127.0.0.11")
	for _, ip := range []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"} {
		c.gws[ip] = startGateway(t, ip+":"+c.port)
	}
	writeFiles(t, c.dir, map[string]string{"example.com.zone": serveZone, "tokens": testToken + " rw ops\n"})
	for _, r := range regions {
		c.start(r)
	}
	return c
}

func (c *cluster) start(region string) *gtmtest.Proc {
	cfg := filepath.Join(c.dir, "gtm-"+region+".yaml")
	writeFiles(c.t, c.dir, map[string]string{
		"gtm-" + region + ".yaml": nodeConfig(region, c.redis, c.port, filepath.Join(c.dir, "state-"+region+".json")),
	})
	p := gtmtest.Start(c.t, cfg)
	c.nodes[region] = p
	return p
}

func (c *cluster) api(p *gtmtest.Proc, method, path string) {
	c.t.Helper()
	req, _ := http.NewRequest(method, "http://"+p.API+path, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		c.t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
	}
}

// answerOf returns the sorted A answer of name, or an error.
func answerOf(p *gtmtest.Proc, name string) ([]string, error) {
	r, err := p.Query(name, dns.TypeA)
	if err != nil {
		return nil, err
	}
	if r.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("rcode %s", dns.RcodeToString[r.Rcode])
	}
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	sort.Strings(out)
	return out, nil
}

// until polls every 10ms until name answers want on p; it returns the time
// taken and fails the test after limit.
func until(t *testing.T, p *gtmtest.Proc, name string, want []string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got, err := answerOf(p, name)
		if err == nil && slices.Equal(got, want) {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: after %s %s answers %v (%v), want %v\n%s", p.DNS, limit, name, got, err, want, p.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hammer queries every node n times in a row and counts failures: errors
// or answers other than want.
func hammer(nodes []*gtmtest.Proc, name string, want []string, n int) (fails int) {
	for i := 0; i < n; i++ {
		for _, p := range nodes {
			got, err := answerOf(p, name)
			if err != nil || !slices.Equal(got, want) {
				fails++
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fails
}

var (
	all3 = []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"}
	no1  = []string{"127.0.0.12", "127.0.0.13"}
)

const extraService = "endpoints: [{name: extra-1, region: us, zone: \"1\", address: 198.51.100.7}]\n"

// TestTwoNodesShareRedis: two gtm processes in two regions share one Redis.
// A drain or an endpoint failure seen by one changes the other's answers
// within 1s; with Redis killed both keep answering with the last state; a
// node restarted meanwhile answers from its snapshot file; Redis restarted
// empty gets its configuration back and health resumes.
func TestTwoNodesShareRedis(t *testing.T) {
	r := redistest.Start(t)
	w := newWorld(t, fmt.Sprintf("{addrs: [%q]}", r.Addr), "eu", "us")
	eu, us := w.nodes["eu"], w.nodes["us"]
	until(t, eu, "api.example.com", all3, 10*time.Second)
	until(t, us, "api.example.com", all3, 10*time.Second)
	eu.WaitLog(10*time.Second, "endpoint up")

	// A drain written through eu's API reaches us within 1s.
	w.api(eu, "PUT", "/api/v1/drains/endpoint/gw-1")
	took := until(t, us, "api.example.com", no1, time.Second)
	t.Logf("drain on eu -> us answers: %s", took)
	w.api(eu, "DELETE", "/api/v1/drains/endpoint/gw-1")
	until(t, us, "api.example.com", all3, time.Second)

	// An endpoint going down is seen by both probers and both nodes.
	w.gws["127.0.0.12"].stop()
	took = until(t, us, "api.example.com", []string{"127.0.0.11", "127.0.0.13"}, 3500*time.Millisecond)
	t.Logf("gateway stopped -> us answers without it after %s", took)
	until(t, eu, "api.example.com", []string{"127.0.0.11", "127.0.0.13"}, time.Second)
	w.gws["127.0.0.12"] = startGateway(t, "127.0.0.12:"+w.port)
	until(t, us, "api.example.com", all3, 5*time.Second)

	// An edit (a new service) and a drain that must survive what follows.
	st, err := store.NewRedis(store.RedisOptions{Addrs: []string{r.Addr}}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if _, err := st.PutDoc(ctx, store.KindService, "extra.example.com.", []byte(extraService), store.DocMeta{By: "test"}, 0); err != nil {
		t.Fatal(err)
	}
	until(t, us, "extra.example.com", []string{"198.51.100.7"}, time.Second)
	w.api(eu, "PUT", "/api/v1/drains/region/us")
	until(t, us, "api.example.com", []string{"127.0.0.11", "127.0.0.12"}, time.Second)
	eu12 := []string{"127.0.0.11", "127.0.0.12"}
	time.Sleep(1500 * time.Millisecond) // let both nodes write their snapshot files

	// Redis killed: every query keeps its answer.
	r.Kill()
	if fails := hammer([]*gtmtest.Proc{eu, us}, "api.example.com", eu12, 300); fails != 0 {
		t.Errorf("with Redis killed: %d of 600 queries failed or changed answer", fails)
	}
	if fails := hammer([]*gtmtest.Proc{eu, us}, "extra.example.com", []string{"198.51.100.7"}, 50); fails != 0 {
		t.Errorf("with Redis killed: the API-edited service failed %d of 100 queries", fails)
	}
	if _, body, _ := us.Get("/readyz"); !strings.Contains(body, `"store_up":false`) {
		t.Errorf("/readyz does not show the store down: %s", body)
	}

	// A node restarted while Redis is down answers from its snapshot.
	if err := us.Stop(); err != nil {
		t.Fatalf("us stop: %v", err)
	}
	spawn := time.Now()
	us = w.start("us")
	until(t, us, "api.example.com", eu12, 2*time.Second)
	until(t, us, "extra.example.com", []string{"198.51.100.7"}, time.Second)
	t.Logf("node restarted with Redis down: answers from its snapshot %s after spawn", time.Since(spawn))

	// Redis back, empty: the nodes restore the edit and the drain.
	r.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := st.Doc(ctx, store.KindService, "extra.example.com.")
		ds, _ := st.Drains(ctx)
		if err == nil && string(d.Body) == extraService && len(ds) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis restarted empty: edit and drain not restored (doc %v, drains %v)\n%s", err, ds, eu.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// go-redis holds back new dials for about a second after failed ones:
	// wait until each node has read the store again before writing through it.
	for _, p := range []*gtmtest.Proc{eu, us} {
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, body, _ := p.Get("/readyz"); strings.Contains(body, `"store_up":true`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never saw the store again", p.DNS)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// Health resumes: undrain, then a gateway failure shows again.
	w.api(eu, "DELETE", "/api/v1/drains/region/us")
	until(t, us, "api.example.com", all3, 5*time.Second)
	w.gws["127.0.0.11"].stop()
	until(t, us, "api.example.com", []string{"127.0.0.12", "127.0.0.13"}, 4*time.Second)
}

// TestStaleBudgetFailsOpen: with state.stale_after and stale_action
// fail_open, health known from a store that went away is trusted only so
// long; then every endpoint is answered, and /readyz says so.
func TestStaleBudgetFailsOpen(t *testing.T) {
	r := redistest.Start(t)
	w := newWorld(t, fmt.Sprintf("{addrs: [%q]}", r.Addr))
	cfg := nodeConfig("eu", fmt.Sprintf("{addrs: [%q]}", r.Addr), w.port, filepath.Join(w.dir, "state-eu.json"))
	cfg = strings.Replace(cfg, "  snapshot_path:", "  stale_after: 2s\n  stale_action: fail_open\n  snapshot_path:", 1)
	writeFiles(t, w.dir, map[string]string{"stale.yaml": cfg})
	p := gtmtest.Start(t, filepath.Join(w.dir, "stale.yaml"))
	until(t, p, "api.example.com", all3, 10*time.Second)
	w.api(p, "PUT", "/api/v1/drains/endpoint/gw-1")
	until(t, p, "api.example.com", no1, time.Second)
	r.Kill()
	killed := time.Now()
	// Within the budget the drain holds...
	if fails := hammer([]*gtmtest.Proc{p}, "api.example.com", no1, 50); fails != 0 {
		t.Errorf("within stale_after: %d of 50 answers changed", fails)
	}
	// ...after it, every endpoint is answered.
	took := until(t, p, "api.example.com", all3, 5*time.Second)
	t.Logf("stale_after 2s: failed open %s after Redis died", (time.Since(killed)).Round(10*time.Millisecond))
	_ = took
	if _, body, _ := p.Get("/readyz"); !strings.Contains(body, `"stale":true`) {
		t.Errorf("/readyz does not show the stale state: %s", body)
	}
}

// A store outage is logged once, also when the node has never reached the
// store since it started, and again for the next outage.
func TestStoreOutageLoggedOnce(t *testing.T) {
	r := redistest.Start(t)
	r.Kill()
	w := newWorld(t, fmt.Sprintf("{addrs: [%q]}", r.Addr), "eu")
	p := w.nodes["eu"]
	const down, up = "state store unreachable; serving the last known state", "state store reachable"
	p.WaitLog(10*time.Second, down)
	time.Sleep(3500 * time.Millisecond) // three more failed syncs at least
	if n := strings.Count(p.Log(), down); n != 1 {
		t.Fatalf("outage logged %d times, want once:\n%s", n, p.Log())
	}
	r.Restart()
	p.WaitLog(15*time.Second, up)
	from := p.LogCount()
	r.Kill()
	p.WaitLogAfter(15*time.Second, down, from)
	if n := strings.Count(p.Log(), down); n != 2 {
		t.Fatalf("two outages logged %d times:\n%s", n, p.Log())
	}
}
