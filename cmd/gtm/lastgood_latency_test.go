package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gtm-project/gtm/internal/gtmtest"
	"github.com/gtm-project/gtm/internal/redistest"
	"github.com/gtm-project/gtm/store"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// latencyNodeConfig: a latency service in eu (listed first) and us, no
// GeoIP database, so without measurements a client is answered eu.
const latencyNodeConfig = `
node: {region: eu, id: node-eu}
dns: {listen: ["127.0.0.1:0"]}
api: {listen: "127.0.0.1:0"}
state:
  backend: redis
  redis: {addrs: [%q]}
  snapshot_path: %s
regions:
  eu: {lat: 50, lon: 8}
  us: {lat: 40, lon: -74}
zones:
  - {origin: example.com., file: example.com.zone}
services:
  - name: lat.example.com.
    ttl: 5
    policy: latency
    endpoints:
      - {name: gw-eu, region: eu, zone: "1", address: 192.0.2.1}
      - {name: gw-us, region: us, zone: "1", address: 192.0.2.2}
prober:
  enabled: false
  latency: {enabled: true, allow: ["198.51.100.0/24"]}
`

// ecsAnswer asks p for lat.example.com with an ECS option for client.
func ecsAnswer(p *gtmtest.Proc, client netip.Prefix) (string, error) {
	m := new(dns.Msg)
	m.SetQuestion("lat.example.com.", dns.TypeA)
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(1232)
	o.Option = append(o.Option, &dns.EDNS0_SUBNET{
		Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(client.Bits()), Address: net.IP(client.Addr().AsSlice()),
	})
	m.Extra = append(m.Extra, o)
	r, err := dns.Exchange(m, p.DNS)
	if err != nil {
		return "", err
	}
	if len(r.Answer) != 1 {
		return "", fmt.Errorf("answer %v", r.Answer)
	}
	return r.Answer[0].(*dns.A).A.String(), nil
}

// A node restarted while the store is down ranks clients by the latency
// map it last read (kept in state.snapshot_path), not by configured order.
func TestSnapshotKeepsLatencyMap(t *testing.T) {
	r := redistest.Start(t)
	dir := t.TempDir()
	snap := filepath.Join(dir, "state.json")
	writeFiles(t, dir, map[string]string{
		"example.com.zone": serveZone,
		"gtm.yaml":         fmt.Sprintf(latencyNodeConfig, r.Addr, snap),
	})
	// The measurements: this client network is far closer to us.
	client := netip.MustParsePrefix("198.51.100.0/24")
	st, err := store.NewRedis(store.RedisOptions{Addrs: []string{r.Addr}}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	if err := st.PutLatency(context.Background(), []store.LatencyResult{
		{Prefix: client, Addr: client.Addr().Next(), Source: "eu", Prober: "p-eu", Method: "tcp", RTT: 90 * time.Millisecond, At: now, TTL: time.Hour},
		{Prefix: client, Addr: client.Addr().Next(), Source: "us", Prober: "p-us", Method: "tcp", RTT: 8 * time.Millisecond, At: now, TTL: time.Hour},
	}); err != nil {
		t.Fatal(err)
	}

	p := gtmtest.Start(t, filepath.Join(dir, "gtm.yaml"))
	eventuallyT(t, 10*time.Second, "the latency map answers us", func() error {
		got, err := ecsAnswer(p, client)
		if err != nil || got != "192.0.2.2" {
			return fmt.Errorf("answered %q (%v), want 192.0.2.2", got, err)
		}
		return nil
	})
	eventuallyT(t, 10*time.Second, "the snapshot file holds the map", func() error {
		b, err := os.ReadFile(snap)
		if err != nil || !strings.Contains(string(b), `"latency":[`) {
			return fmt.Errorf("no latency in %s (%v)", snap, err)
		}
		return nil
	})

	r.Kill()
	if err := p.Stop(); err != nil {
		t.Logf("stop: %v", err)
	}
	p = gtmtest.Start(t, filepath.Join(dir, "gtm.yaml"))
	got, err := ecsAnswer(p, client)
	if err != nil || got != "192.0.2.2" {
		t.Fatalf("restarted with the store down: answered %q (%v), want 192.0.2.2 from the saved latency map\n%s", got, err, p.Log())
	}
}

func eventuallyT(t *testing.T, limit time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, limit, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
