package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gtm-project/gtm/internal/gtmtest"
	"github.com/miekg/dns"
)

// floodConfig is serveConfig without a prober (no traffic off loopback).
func floodConfig() string {
	return strings.Replace(serveConfig, "api: {listen: \"127.0.0.1:0\"}\n", "api: {listen: \"127.0.0.1:0\"}\nprober: {enabled: false}\n", 1)
}

// raiseOwnFileLimit lets the test hold thousands of sockets.
func raiseOwnFileLimit(t *testing.T, need uint64) {
	t.Helper()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Max < need {
		t.Skipf("the hard open file limit %d is below the %d this test needs", rl.Max, need)
	}
	if rl.Cur < need {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			t.Fatal(err)
		}
	}
}

// holdConns opens n TCP connections to addr, from source address src(i),
// 50 dials at a time, and returns those that connected.
func holdConns(addr string, n int, src func(i int) string) []net.Conn {
	var mu sync.Mutex
	var conns []net.Conn
	sem := make(chan struct{}, 50)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src(i))}}
			c, err := d.Dial("tcp", addr)
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return conns
}

func metricValue(t *testing.T, p *gtmtest.Proc, series string) float64 {
	t.Helper()
	_, body, err := p.Get("/metrics")
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in /metrics", series)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// TestServeSurvivesConnectionFloods: gtm serve with an open file limit of
// 256 (soft and hard) while 2,000 TCP connections to the DNS port and
// 1,000 to the API are opened and held. The caps are lowered to fit the
// limit and close the oldest idle connections, so: UDP answers, a TCP
// query answers, /healthz answers, the process never exits, and after the
// flood TCP answers within a second.
func TestServeSurvivesConnectionFloods(t *testing.T) {
	raiseOwnFileLimit(t, 4000)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"gtm.yaml": floodConfig(), "example.com.zone": serveZone})
	p := gtmtest.StartWithFileLimit(t, 256, filepath.Join(dir, "gtm.yaml"))
	if l := p.WaitLog(5*time.Second, "open file limit"); l["limit"] != float64(256) {
		t.Fatalf("open file limit logged as %v, want 256", l)
	}
	caps := p.WaitLog(5*time.Second, "connection caps lowered to fit the open file limit")
	t.Logf("caps: dns %v per client %v, api %v", caps["dns_tcp_max_connections"], caps["dns_tcp_max_per_client"], caps["api_max_connections"])

	// 2,000 to DNS from 200 /24s (10 each: the per-client cap, so the
	// total cap is what bites), 1,000 to the API.
	floodStart := time.Now()
	dnsConns := holdConns(p.DNS, 2000, func(i int) string { return fmt.Sprintf("127.0.%d.%d", 1+i/10, 1+i%10) })
	apiConns := holdConns(p.API, 1000, func(int) string { return "127.0.0.1" })
	t.Cleanup(func() {
		for _, c := range append(dnsConns, apiConns...) {
			c.Close()
		}
	})
	t.Logf("connected %d to DNS, %d to the API", len(dnsConns), len(apiConns))
	if len(dnsConns) < 1900 || len(apiConns) < 900 {
		t.Fatalf("only %d DNS and %d API connections could be opened", len(dnsConns), len(apiConns))
	}

	answered := 0
	for range 200 {
		m := new(dns.Msg)
		m.SetQuestion("www.example.com.", dns.TypeA)
		r, _, err := (&dns.Client{Net: "udp", Timeout: time.Second}).Exchange(m, p.DNS)
		if err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1 {
			answered++
		}
	}
	if answered < 198 {
		t.Errorf("UDP answered %d of 200 queries during the flood", answered)
	}
	if _, err := gtmtest.Query(p.DNS, "tcp", "www.example.com", dns.TypeA); err != nil {
		t.Errorf("TCP query during the flood: %v", err)
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(45 * time.Second)
	for {
		resp, err := hc.Get("http://" + p.API + "/healthz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && string(b) == "ok\n" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz did not answer within 45s during the flood: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if p.Exited() {
		t.Fatalf("gtm exited during the flood:\n%s", p.Log())
	}
	t.Logf("UDP %d/200 answered; /healthz answered %s after the flood began", answered, time.Since(floodStart))
	if n := metricValue(t, p, `gtm_dns_tcp_closed_total{reason="evicted"}`); n < 100 {
		t.Errorf("gtm_dns_tcp_closed_total{reason=evicted} = %v: the DNS cap did not close idle connections", n)
	}
	if n := metricValue(t, p, "gtm_api_connections_evicted_total"); n < 100 {
		t.Errorf("gtm_api_connections_evicted_total = %v: the API cap did not close idle connections", n)
	}

	for _, c := range append(dnsConns, apiConns...) {
		c.Close()
	}
	t.Logf("metrics: %s", grepLines(grepLines(mustGet(t, p, "/metrics"), "gtm_"), "connections"))
	t.Logf("log lines: %d", strings.Count(p.Log(), "\n")+1)
	start := time.Now()
	for {
		_, err := gtmtest.Query(p.DNS, "tcp", "www.example.com", dns.TypeA)
		if err == nil {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatalf("TCP did not answer within 1s of the flood ending: %v", err)
		}
	}
	t.Logf("TCP answered %s after the clients closed", time.Since(start))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc > 256<<20 {
		t.Errorf("the test itself holds %d MiB", ms.HeapAlloc>>20)
	}
	if strings.Count(p.Log(), "dns tcp connection refused") > 2 {
		t.Errorf("refusals flood the log:\n%s", grepLines(p.Log(), "refused"))
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("exit after the flood: %v\n%s", err, p.Log())
	}
}

// TestServeClosesSlowClients: a client sending one byte a second is
// closed by the timeouts on the DNS TCP port (dns.tcp.idle_timeout: per
// message, not per byte) and on the API port (its header, and an
// authenticated request's body: api.read_timeout).
func TestServeClosesSlowClients(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"example.com.zone": serveZone,
		"tokens":           "s3cret-token-0123456789abcdef rw\n",
	})
	cfg := strings.Replace(floodConfig(), "api: {listen: \"127.0.0.1:0\"}\n",
		"api: {listen: \"127.0.0.1:0\", read_timeout: 1s, token_file: tokens}\n", 1)
	cfg = strings.Replace(cfg, "dns: {listen: [\"127.0.0.1:0\"]}\n", "dns: {listen: [\"127.0.0.1:0\"], tcp: {idle_timeout: 1s}}\n", 1)
	writeFiles(t, dir, map[string]string{"gtm.yaml": cfg})
	p := gtmtest.Start(t, filepath.Join(dir, "gtm.yaml"))

	q := new(dns.Msg)
	q.SetQuestion("www.example.com.", dns.TypeA)
	wire, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	dnsFrame := append([]byte{byte(len(wire) >> 8), byte(len(wire))}, wire...)
	body := strings.Repeat("x", 100)
	for _, tc := range []struct {
		name, addr string
		head       string // sent at once
		slow       string // then one byte a second
	}{
		{"dns", p.DNS, "", string(dnsFrame)},
		{"api header", p.API, "", "GET /healthz HTTP/1.1\r\nHost: gtm\r\nX-Slow: " + strings.Repeat("a", 40)},
		{"api body", p.API, fmt.Sprintf("PUT /api/v1/zones/example.com. HTTP/1.1\r\nHost: gtm\r\nAuthorization: Bearer s3cret-token-0123456789abcdef\r\nContent-Length: %d\r\n\r\n", len(body)), body},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := net.Dial("tcp", tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, tc.head); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			closed := make(chan error, 1)
			go func() { // drain whatever comes (an error response), until the close
				_, err := io.Copy(io.Discard, c)
				closed <- err
			}()
			sentAll := true
		send:
			for i := 0; i < len(tc.slow); i++ {
				if _, err := c.Write([]byte{tc.slow[i]}); err != nil {
					sentAll = false
					break
				}
				select {
				case <-closed:
					sentAll = i == len(tc.slow)-1
					break send
				case <-time.After(time.Second):
				}
			}
			if sentAll {
				t.Fatalf("all %d bytes went through at one byte a second without the connection closing", len(tc.slow))
			}
			if d := time.Since(start); d > 6*time.Second {
				t.Errorf("closed after %s, want about the 1s timeout", d)
			}
			if p.Exited() {
				t.Fatal("gtm exited")
			}
		})
	}
}

func mustGet(t *testing.T, p *gtmtest.Proc, path string) string {
	t.Helper()
	_, body, err := p.Get(path)
	if err != nil {
		t.Fatal(err)
	}
	return body
}
