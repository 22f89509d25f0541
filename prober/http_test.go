package prober

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gtm-project/gtm/internal/testpki"
	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
)

// serverHost returns the endpoint address and port of an httptest server.
func serverHost(t *testing.T, srv *httptest.Server) (string, int) {
	t.Helper()
	return hostPort(t, srv.Listener.Addr().String())
}

func TestHTTPProbeOutcomes(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "all good: ready") })
	mux.HandleFunc("/503", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	mux.HandleFunc("/404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	mux.HandleFunc("/302", func(w http.ResponseWriter, r *http.Request) {
		// A redirect to an address never contacted: the probe must not follow.
		http.Redirect(w, r, "http://192.0.2.1/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 100<<10)+"needle")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	addr, port := serverHost(t, srv)

	tests := []struct {
		name   string
		check  zones.Check
		ok     bool
		class  store.ErrClass
		errHas string
	}{
		{name: "up", check: zones.Check{Path: "/ok"}, ok: true},
		{name: "body matches", check: zones.Check{Path: "/ok", Body: "ready"}, ok: true},
		{name: "wrong body", check: zones.Check{Path: "/ok", Body: "absent"}, class: store.ErrBody, errHas: "absent"},
		{name: "503", check: zones.Check{Path: "/503"}, class: store.ErrStatus, errHas: "503"},
		{name: "404 by default", check: zones.Check{Path: "/404"}, class: store.ErrStatus},
		{name: "404 expected", check: zones.Check{Path: "/404", Expect: []string{"404"}}, ok: true},
		{name: "404 in a range list", check: zones.Check{Path: "/404", Expect: []string{"200-299", "400-404"}}, ok: true},
		{name: "200 outside range", check: zones.Check{Path: "/ok", Expect: []string{"500-599"}}, class: store.ErrStatus, errHas: "500-599"},
		{name: "redirect not followed", check: zones.Check{Path: "/302"}, ok: true},
		{name: "redirect outside expect", check: zones.Check{Path: "/302", Expect: []string{"200"}}, class: store.ErrStatus, errHas: "302"},
		{name: "hang past timeout", check: zones.Check{Path: "/hang", Timeout: zones.Duration(200 * time.Millisecond)}, class: store.ErrTimeout},
		{name: "body beyond MaxBody", check: zones.Check{Path: "/big", Body: "needle"}, class: store.ErrBody},
		{name: "HEAD", check: zones.Check{Path: "/ok", Method: http.MethodHead}, ok: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch := tc.check
			ch.Type, ch.Port = "http", port
			start := time.Now()
			r := probeOnceWith(t, ch, addr, Options{})
			if r.OK != tc.ok || r.Class != tc.class {
				t.Fatalf("ok=%v class=%q err=%q; want ok=%v class=%q", r.OK, r.Class, r.Err, tc.ok, tc.class)
			}
			if !strings.Contains(r.Err, tc.errHas) {
				t.Errorf("err %q does not mention %q", r.Err, tc.errHas)
			}
			if r.Kind != "http" || r.Target != srv.Listener.Addr().String() || r.Source != "test-region" || r.Prober != "prober-1" {
				t.Errorf("result identity wrong: %+v", r)
			}
			wantInterval := testInterval
			if tc.check.Timeout != 0 {
				wantInterval = zones.DefaultInterval
			}
			if r.At.Before(start) || r.RTT <= 0 || r.Interval != wantInterval {
				t.Errorf("At/RTT/Interval wrong: %+v", r)
			}
			if tc.ok && (r.Connect <= 0 || r.TTFB <= 0 || r.TTFB > r.RTT || r.Connect > r.TTFB) {
				t.Errorf("phases wrong: connect %s ttfb %s rtt %s", r.Connect, r.TTFB, r.RTT)
			}
			if tc.class == store.ErrTimeout && r.RTT > 5*time.Second {
				t.Errorf("timeout took %s, want about 200ms", r.RTT)
			}
		})
	}
}

func TestHTTPHostAndHeadersArrive(t *testing.T) {
	type seen struct{ host, custom, ua, method, path string }
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Host, r.Header.Get("X-Gtm-Probe"), r.UserAgent(), r.Method, r.URL.RequestURI()}
	}))
	t.Cleanup(srv.Close)
	addr, port := serverHost(t, srv)
	r := probeOnceWith(t, zones.Check{
		Type: "http", Port: port, Method: "POST", Path: "/status?x=1", Host: "api.example.com",
		Headers: map[string]string{"X-Gtm-Probe": "yes"},
	}, addr, Options{})
	if !r.OK {
		t.Fatalf("probe failed: %+v", r)
	}
	s := <-got
	want := seen{"api.example.com", "yes", userAgent, "POST", "/status?x=1"}
	if s != want {
		t.Errorf("server saw %+v, want %+v", s, want)
	}
}

func TestHTTPNoConnectionReuse(t *testing.T) {
	var mu sync.Mutex
	remotes := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remotes[r.RemoteAddr] = true
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	addr, port := serverHost(t, srv)
	p, _, _ := newTestProber(t, testConfig(service("svc.example.", zones.Check{Type: "http", Port: port}, addr)), Options{})
	tg := p.targets["svc.example./ep0"]
	for range 3 {
		if r, _ := p.probeOnce(t.Context(), tg); !r.OK || r.Connect <= 0 {
			t.Fatalf("probe: %+v", r)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(remotes) != 3 {
		t.Errorf("3 probes came from %d connections, want 3 fresh ones: %v", len(remotes), remotes)
	}
}

func TestHTTPSProbe(t *testing.T) {
	sni := make(chan string, 10)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sni <- r.TLS.ServerName
		io.WriteString(w, "tls ok")
	}))
	// Failed handshakes are what some cases test; keep them out of the log.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	addr, port := serverHost(t, srv)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())

	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(plain.Close)
	plainAddr, plainPort := serverHost(t, plain)

	tests := []struct {
		name    string
		check   zones.Check
		addr    string
		roots   bool
		ok      bool
		class   store.ErrClass
		wantSNI string
	}{
		{name: "skip verify", check: zones.Check{InsecureSkipVerify: true, Body: "tls ok"}, ok: true},
		{name: "unknown authority", check: zones.Check{}, class: store.ErrTLS},
		{name: "verified by IP", check: zones.Check{}, roots: true, ok: true},
		// httptest's certificate is for example.com: SNI selects the name
		// verified and the server sees it.
		{name: "SNI verified", check: zones.Check{SNI: "example.com"}, roots: true, ok: true, wantSNI: "example.com"},
		{name: "SNI from Host", check: zones.Check{Host: "example.com"}, roots: true, ok: true, wantSNI: "example.com"},
		{name: "SNI mismatch", check: zones.Check{SNI: "other.example.net"}, roots: true, class: store.ErrTLS},
		{name: "SNI mismatch skipped", check: zones.Check{SNI: "other.example.net", InsecureSkipVerify: true}, ok: true, wantSNI: "other.example.net"},
		{name: "plain HTTP server", check: zones.Check{InsecureSkipVerify: true}, addr: "plain", class: store.ErrTLS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch := tc.check
			ch.Type, ch.Port = "https", port
			a := addr
			if tc.addr == "plain" {
				a, ch.Port = plainAddr, plainPort
			}
			var opts Options
			if tc.roots {
				opts.RootCAs = pool
			}
			for len(sni) > 0 {
				<-sni
			}
			r := probeOnceWith(t, ch, a, opts)
			if r.OK != tc.ok || r.Class != tc.class {
				t.Fatalf("ok=%v class=%q err=%q; want ok=%v class=%q", r.OK, r.Class, r.Err, tc.ok, tc.class)
			}
			if r.Kind != "https" {
				t.Errorf("kind %q, want https", r.Kind)
			}
			if tc.ok {
				if got := <-sni; got != tc.wantSNI {
					t.Errorf("server saw SNI %q, want %q", got, tc.wantSNI)
				}
			}
		})
	}
}

func TestHTTPTLSFlagMakesHTTPS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	addr, port := serverHost(t, srv)
	r := probeOnceWith(t, zones.Check{Type: "http", TLS: true, Port: port, InsecureSkipVerify: true}, addr, Options{})
	if !r.OK || r.Kind != "https" {
		t.Fatalf("http with tls: true: %+v", r)
	}
}

// A check's ca_file verifies gateways whose certificates come from a
// private CA; a Reload after the file changed uses the new one.
func TestHTTPSCheckCAFile(t *testing.T) {
	pki, other := testpki.New(t), testpki.New(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	cert, err := tls.LoadX509KeyPair(pki.ServerCert, pki.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	addr, port := serverHost(t, srv)

	for _, tc := range []struct {
		name, ca string
		ok       bool
	}{
		{"the gateways' CA", pki.CACert, true},
		{"system roots", "", false},
		{"another CA", other.CACert, false},
	} {
		r := probeOnceWith(t, zones.Check{Type: "https", Port: port, CAFile: tc.ca}, addr, Options{})
		if r.OK != tc.ok || (!tc.ok && r.Class != store.ErrTLS) {
			t.Errorf("%s: ok=%v class=%q err=%q, want ok=%v", tc.name, r.OK, r.Class, r.Err, tc.ok)
		}
	}

	// The CA file is rotated in place: a Reload picks it up.
	ca := filepath.Join(t.TempDir(), "ca.pem")
	copyFile(t, other.CACert, ca)
	ch := zones.Check{Type: "https", Port: port, CAFile: ca, Interval: zones.Duration(testInterval), Timeout: zones.Duration(10 * time.Second)}
	cfg := testConfig(service("svc.example.", ch, addr))
	p, _, _ := newTestProber(t, cfg, Options{})
	probe := func() store.ProbeResult {
		r, _ := p.probeOnce(context.Background(), p.targets["svc.example./ep0"])
		return r
	}
	if r := probe(); r.OK {
		t.Fatal("verified with the wrong CA")
	}
	copyFile(t, pki.CACert, ca)
	p.Reload(cfg)
	if r := probe(); !r.OK {
		t.Fatalf("after the CA file changed and a reload: %+v", r)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
