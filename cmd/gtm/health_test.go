package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gtm-project/gtm/internal/gtmtest"
	"github.com/miekg/dns"
)

// gateway is a loopback HTTP server standing in for an API gateway.
type gateway struct {
	addr string
	srv  *http.Server
}

func startGateway(t *testing.T, addr string) *gateway {
	t.Helper()
	var l net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port may be briefly held after a stop
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{addr: addr, srv: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})}}
	go func() { _ = g.srv.Serve(l) }()
	t.Cleanup(func() { g.stop() })
	return g
}

func (g *gateway) stop() { _ = g.srv.Close() }

func freePort(t *testing.T, host string) string {
	t.Helper()
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

const healthConfig = `
node: {region: eu, id: health-node}
dns: {listen: ["127.0.0.1:0"]}
api: {listen: "127.0.0.1:0", token_file: tokens}
regions:
  eu: {lat: 50, lon: 8}
zones:
  - {origin: example.com., file: example.com.zone}
services:
  - name: api.example.com.
    ttl: 5
    policy: weighted
    answers: 3
    check: {type: http, port: PORT, path: /status, interval: 1s, timeout: 500ms, rise: 2, fall: 2}
    endpoints:
      - {name: gw-1, region: eu, zone: "1", address: 127.0.0.11}
      - {name: gw-2, region: eu, zone: "2", address: 127.0.0.12}
      - {name: gw-3, region: eu, zone: "3", address: 127.0.0.13}
`

func answers(t *testing.T, p *gtmtest.Proc) []string {
	t.Helper()
	r, err := p.Query("api.example.com", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, rr := range r.Answer {
		out = append(out, rr.(*dns.A).A.String())
	}
	sort.Strings(out)
	return out
}

// waitAnswer polls until the answer set equals want and returns how long
// it took, failing after limit.
func waitAnswer(t *testing.T, p *gtmtest.Proc, want []string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got := answers(t, p)
		if slices.Equal(got, want) {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("after %s the answer is %v, want %v\n%s", limit, got, want, p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeFailsOverAndBack: a gateway that stops is no longer answered
// within interval × fall + 1s, and returns after rise once it is back; a
// drain takes an endpoint out at once and undrain brings it back.
func TestServeFailsOverAndBack(t *testing.T) {
	port := freePort(t, "127.0.0.11")
	gws := map[string]*gateway{}
	for _, ip := range []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"} {
		gws[ip] = startGateway(t, ip+":"+port)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"gtm.yaml":         strings.Replace(healthConfig, "PORT", port, 1),
		"example.com.zone": serveZone,
		"tokens":           "0123456789abcdef0123 rw ops\nreadonly-token-0123456 ro viewer\n",
	})
	p := gtmtest.Start(t, filepath.Join(dir, "gtm.yaml"))
	all := []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"}
	waitAnswer(t, p, all, 5*time.Second)
	// Let every endpoint come up (rise 2 at 1s) before failing one.
	p.WaitLog(10*time.Second, "endpoint up")

	gws["127.0.0.12"].stop()
	took := waitAnswer(t, p, []string{"127.0.0.11", "127.0.0.13"}, 3*time.Second+500*time.Millisecond)
	t.Logf("gateway stopped: out of answers after %s (bound: interval 1s × fall 2 + 1s = 3s)", took.Round(10*time.Millisecond))

	gws["127.0.0.12"] = startGateway(t, "127.0.0.12:"+port)
	took = waitAnswer(t, p, all, 4*time.Second)
	t.Logf("gateway restarted: back in answers after %s (rise 2 at 1s)", took.Round(10*time.Millisecond))

	code, body, err := p.Get("/api/v1/status")
	if err != nil || code != 200 || !strings.Contains(body, `"Endpoint": "gw-2"`) {
		t.Errorf("/api/v1/status = %d %v:\n%s", code, err, body)
	}

	// Drains through the CLI against the node's API.
	run := func(args ...string) (int, string) {
		var out, errb strings.Builder
		code := runArgs(append(args, "--api", "http://"+p.API), &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, out := run("drain", "endpoint", "gw-1"); code != 1 || !strings.Contains(out, "401") {
		t.Errorf("drain without a token: exit %d, %s", code, out)
	}
	os.Setenv("GTM_TOKEN", "readonly-token-0123456")
	if code, out := run("drain", "endpoint", "gw-1"); code != 1 || !strings.Contains(out, "403") {
		t.Errorf("drain with a read-only token: exit %d, %s", code, out)
	}
	os.Setenv("GTM_TOKEN", "0123456789abcdef0123")
	defer os.Unsetenv("GTM_TOKEN")
	if code, out := run("drain", "endpoint", "gw-1", "--reason", "maintenance"); code != 0 {
		t.Fatalf("drain: exit %d, %s", code, out)
	}
	took = waitAnswer(t, p, []string{"127.0.0.12", "127.0.0.13"}, time.Second)
	t.Logf("drain: out of answers after %s", took.Round(10*time.Millisecond))
	if code, out := run("undrain", "endpoint", "gw-1"); code != 0 {
		t.Fatalf("undrain: exit %d, %s", code, out)
	}
	waitAnswer(t, p, all, time.Second)

	// Every endpoint down: fail open, all answered.
	for _, g := range gws {
		g.stop()
	}
	deadline := time.Now().Add(6 * time.Second)
	for {
		_, body, _ := p.Get("/api/v1/status")
		if strings.Contains(body, `"AllDown": true`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never showed every endpoint down:\n%s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := answers(t, p); !slices.Equal(got, all) {
		t.Errorf("all endpoints down: answer %v, want all (fail open)", got)
	}
}

// runArgs runs the CLI in-process.
func runArgs(args []string, stdout, stderr *strings.Builder) int {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return run(ctx, args, stdout, stderr)
}

// TestDrainSurvivesRestartWithMemoryStore: with the memory backend a drain
// lives in the snapshot file, so a restarted node still applies it.
func TestDrainSurvivesRestartWithMemoryStore(t *testing.T) {
	dir := t.TempDir()
	cfg := strings.Replace(serveConfig, "api: {listen: \"127.0.0.1:0\"}",
		"api: {listen: \"127.0.0.1:0\", token_file: tokens}\nstate: {backend: memory, snapshot_path: state.json}", 1)
	cfg += "      - {name: gw-2, region: eu, zone: \"2\", address: 192.0.2.11}\n"
	writeFiles(t, dir, map[string]string{"gtm.yaml": cfg, "example.com.zone": serveZone, "tokens": testToken + " rw ops\n"})
	p := gtmtest.Start(t, filepath.Join(dir, "gtm.yaml"))
	w := &cluster{t: t}
	w.api(p, "PUT", "/api/v1/drains/endpoint/gw-1")
	until(t, p, "api.example.com", []string{"192.0.2.11"}, time.Second)
	time.Sleep(1500 * time.Millisecond) // the snapshot file is written on the next sync
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	p = gtmtest.Start(t, filepath.Join(dir, "gtm.yaml"))
	until(t, p, "api.example.com", []string{"192.0.2.11"}, time.Second)
	time.Sleep(1500 * time.Millisecond) // and it stays drained once the store is read
	if got, _ := answerOf(p, "api.example.com"); !slices.Equal(got, []string{"192.0.2.11"}) {
		t.Errorf("after restart and a sync: %v, want gw-1 still drained", got)
	}
}
