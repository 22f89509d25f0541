package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gtm-project/gtm/geo/geotest"
)

// demoGateway is a stand-in API gateway: an HTTP server on a loopback
// address that answers its health check after an injected delay, and can
// be failed and recovered by hand.
type demoGateway struct {
	region, addr string
	delay        time.Duration
	failed       atomic.Bool
	srv          *http.Server
}

func (g *demoGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/fail":
		g.failed.Store(true)
		fmt.Fprintf(w, "%s gateway failed\n", g.region)
	case r.Method == http.MethodPost && r.URL.Path == "/recover":
		g.failed.Store(false)
		fmt.Fprintf(w, "%s gateway recovered\n", g.region)
	default:
		time.Sleep(g.delay) // the "distance" of this region
		if g.failed.Load() {
			http.Error(w, "failed by the demo", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "ok from %s\n", g.region)
	}
}

// demoRegions: three regions, the cities of three demo client networks.
var demoRegions = []struct {
	name, ip   string
	lat, lon   float64
	delay      time.Duration
	city, ecs  string // a demo client network near the region
	resolverIP string // a loopback resolver address located near it
}{
	{"eu-west", "127.0.0.21", geotest.LondonLat, geotest.LondonLon, 5 * time.Millisecond, "London", "2001:db8:1::/48", "127.0.1.1"},
	{"us-east", "127.0.0.22", geotest.NewYorkLat, geotest.NewYorkLon, 40 * time.Millisecond, "New York", "2001:db8:10::/48", "127.0.2.1"},
	{"ap-southeast", "127.0.0.23", geotest.SingaporeLat, geotest.SingaporeLon, 120 * time.Millisecond, "Singapore", "2001:db8:20::/48", "127.0.3.1"},
}

// runDemo is `gtm demo`: a complete single-node gtm on loopback with three
// regional gateways and a generated GeoIP database, and a list of commands
// to try. Nothing leaves the machine.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dnsAddr := fs.String("dns", "127.0.0.1:5300", "DNS listen address")
	apiAddr := fs.String("api", "127.0.0.1:8054", "HTTP listen address")
	keep := fs.Bool("keep", false, "keep the generated files (printed) after exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "gtm-demo-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	if err := geotest.Write(filepath.Join(dir, "demo.mmdb"), geotest.DemoNets()); err != nil {
		return fmt.Errorf("demo GeoIP database: %w", err)
	}
	// One port for every gateway: each has its own loopback address.
	port, err := freeDemoPort(demoRegions[0].ip)
	if err != nil {
		return err
	}
	for _, r := range demoRegions {
		g := &demoGateway{region: r.name, addr: net.JoinHostPort(r.ip, port), delay: r.delay}
		l, err := net.Listen("tcp", g.addr)
		if err != nil {
			return fmt.Errorf("demo gateway %s: %w", r.name, err)
		}
		g.srv = &http.Server{Handler: g, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = g.srv.Serve(l) }()
		defer g.srv.Close()
	}
	if err := os.WriteFile(filepath.Join(dir, "example.com.zone"), []byte(demoZone), 0o644); err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "gtm.yaml")
	if err := os.WriteFile(cfgPath, []byte(demoConfig(*dnsAddr, *apiAddr, port)), 0o644); err != nil {
		return err
	}
	printDemo(stdout, *dnsAddr, *apiAddr, port, dir, *keep)
	err = runServe(ctx, []string{"--config", cfgPath, "--log-format", "console", "--log-level", "warn"}, stdout, stderr)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func freeDemoPort(ip string) (string, error) {
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port, nil
}

const demoZone = `$ORIGIN example.com.
$TTL 300
@    SOA ns1 hostmaster 1 7200 900 1209600 60
     NS  ns1
ns1  A   127.0.0.1
www  CNAME api
`

func demoConfig(dnsAddr, apiAddr, port string) string {
	var regions, eps strings.Builder
	for _, r := range demoRegions {
		fmt.Fprintf(&regions, "  %s: {lat: %v, lon: %v}\n", r.name, r.lat, r.lon)
		fmt.Fprintf(&eps, "      - {name: gw-%s, region: %s, zone: \"1\", address: %s}\n", r.name, r.name, r.ip)
	}
	return fmt.Sprintf(`# Written by gtm demo.
node: {region: eu-west, id: demo}
dns: {listen: [%q]}
api: {listen: %q}
state: {backend: memory}
geo: {database: demo.mmdb}
regions:
%szones:
  - {origin: example.com., file: example.com.zone}
services:
  - name: api.example.com.
    ttl: 5
    policy: latency
    check: {type: http, port: %s, path: /status, interval: 1s, timeout: 800ms, rise: 2, fall: 2}
    endpoints:
%s`, dnsAddr, apiAddr, regions.String(), port, eps.String())
}

func printDemo(w io.Writer, dnsAddr, apiAddr, port, dir string, keep bool) {
	host, dport, _ := net.SplitHostPort(dnsAddr)
	dig := fmt.Sprintf("dig @%s -p %s", host, dport)
	fmt.Fprintf(w, "gtm demo: DNS on %s, status page http://%s/\n", dnsAddr, apiAddr)
	fmt.Fprintf(w, "Three regions, each with a gateway (HTTP on port %s) and a client network near it:\n", port)
	for _, r := range demoRegions {
		fmt.Fprintf(w, "  %-13s gateway %-11s %3dms away   clients in %-9s ECS %-17s resolver %s\n",
			r.name, r.ip, r.delay.Milliseconds(), r.city, r.ecs, r.resolverIP)
	}
	if keep {
		fmt.Fprintf(w, "Files: %s\n", dir)
	}
	fmt.Fprintln(w, "\nTry these in another terminal (each \"$\" line, then what it prints):")
	fmt.Fprintln(w, "\n# Each client network gets its nearest region (EDNS Client Subnet):")
	for _, r := range demoRegions {
		fmt.Fprintf(w, "$ %s api.example.com +subnet=%s +short\n%s\n", dig, r.ecs, r.ip)
	}
	fmt.Fprintln(w, "\n# Without ECS, the resolver's own address locates the client:")
	fmt.Fprintf(w, "$ %s -b %s api.example.com +short\n%s\n", dig, demoRegions[1].resolverIP, demoRegions[1].ip)
	fmt.Fprintln(w, "\n# Fail the eu-west gateway: within interval x fall + 1s (3s) London goes to the next closest region:")
	fmt.Fprintf(w, "$ curl -s -X POST http://%s:%s/fail\n%s gateway failed\n", demoRegions[0].ip, port, demoRegions[0].name)
	fmt.Fprintf(w, "$ sleep 3.5\n")
	fmt.Fprintf(w, "$ %s api.example.com +subnet=%s +short\n%s\n", dig, demoRegions[0].ecs, demoRegions[1].ip)
	fmt.Fprintln(w, "\n# Recover it: back after rise (2 checks):")
	fmt.Fprintf(w, "$ curl -s -X POST http://%s:%s/recover\n%s gateway recovered\n", demoRegions[0].ip, port, demoRegions[0].name)
	fmt.Fprintf(w, "$ sleep 3.5\n")
	fmt.Fprintf(w, "$ %s api.example.com +subnet=%s +short\n%s\n", dig, demoRegions[0].ecs, demoRegions[0].ip)
	fmt.Fprintln(w, "\n# Why a client gets what it gets, and the whole picture:")
	fmt.Fprintf(w, "$ gtm explain api.example.com --ecs %s --api http://%s\n", demoRegions[0].ecs, apiAddr)
	fmt.Fprintf(w, "$ curl -s http://%s/api/v1/status | head\n", apiAddr)
	fmt.Fprintf(w, "\nStop with Ctrl-C.\n\n")
}
