package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// loopbackListen stands in for listenInNetns: every gateway listens on
// 127.0.0.1 at a free port.
func loopbackListen(*Site, netip.AddrPort) (net.Listener, error) {
	return net.Listen("tcp", "127.0.0.1:0")
}

func post(t *testing.T, base, path string) (int, string) {
	t.Helper()
	resp, err := http.Post(base+path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestControlAPI(t *testing.T) {
	cfgText := wanConfig + "  - {a: b, b: d, ms: 7}\n"
	cfgText = strings.Replace(cfgText, "addrs: [10.77.0.2]}", "addrs: [10.77.0.2], gateways: [\"10.77.0.2:8080\"]}", 1)
	cfg, err := ParseConfig([]byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	w, _ := testWAN(t, cfgText)
	gws := NewGateways(cfg.Sites, loopbackListen, zerolog.Nop())
	srv := httptest.NewServer(controlHandler(w, gws, zerolog.Nop()))
	defer srv.Close()

	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{"/cut?a=p&b=*", 200, `"links":8`},
		{"/restore?a=a&b=b", 200, `"links":2`},
		{"/delay?a=b&b=c&ms=12.5", 200, `"links":2`},
		{"/delay?a=b&b=c&ms=x", 400, "ms:"},
		{"/cut?a=nope&b=c", 400, `a: \"nope\" is neither`},
		{"/cut?a=c", 400, "b: "},
		{"/gateway/stop?addr=10.77.0.9:1", 400, "no such gateway"},
		{"/gateway/stop?addr=bogus", 400, "error"},
	} {
		code, body := post(t, srv.URL, tc.path)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("POST %s: %d %s, want %d with %q", tc.path, code, body, tc.code, tc.want)
		}
	}
	resp, err := http.Get(srv.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st Stats
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	cut := map[string]bool{}
	for _, l := range st.Links {
		if l.Cut {
			cut[l.From+">"+l.To] = true
		}
		if l.From == "b" && l.To == "c" && l.DelayMS != 12.5 {
			t.Errorf("b->c delay %g, want 12.5", l.DelayMS)
		}
		if l.From == "d" && l.To == "b" && l.DelayMS != 7 {
			t.Errorf("d->b delay %g, want 7 (from delays)", l.DelayMS)
		}
	}
	// p = {a, d} was cut from b and c; a<->b was restored; a<->d (same
	// place, not in "*") never was.
	if len(cut) != 6 || cut["a>b"] || cut["a>d"] || !cut["d>c"] || !cut["c>a"] {
		t.Errorf("cut links: %v", cut)
	}
	if code, _ := post(t, srv.URL, "/restore"); code != 200 {
		t.Errorf("restore all: %d", code)
	}
	for _, l := range w.Stats().Links {
		if l.Cut {
			t.Errorf("%s->%s still cut", l.From, l.To)
		}
	}
}

func TestGatewaysStopAndStart(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
range: 10.77.0.0/16
sites:
  - {name: a, addrs: [10.77.0.1], gateways: ["10.77.0.1:8080", "10.77.0.1:8081"]}
  - {name: b, addrs: [10.77.0.2]}
`))
	if err != nil {
		t.Fatal(err)
	}
	gws := NewGateways(cfg.Sites, loopbackListen, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gws.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	gw := netip.MustParseAddrPort("10.77.0.1:8080")
	var addr net.Addr
	deadline := time.Now().Add(5 * time.Second)
	for addr = gws.Addr(gw); addr == nil; addr = gws.Addr(gw) {
		if time.Now().After(deadline) {
			t.Fatal("gateway never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	get := func(a net.Addr) (string, error) {
		c := &http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://" + a.String() + "/status")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.Status + " " + string(b), err
	}
	if body, err := get(addr); err != nil || body != "200 OK ok 10.77.0.1:8080\n" {
		t.Fatalf("gateway answered %q, %v", body, err)
	}
	if err := gws.Stop(gw); err != nil {
		t.Fatal(err)
	}
	if gws.Addr(gw) != nil {
		t.Error("stopped gateway still has an address")
	}
	if _, err := get(addr); err == nil {
		t.Error("stopped gateway still answers")
	}
	if err := gws.Start(gw); err != nil {
		t.Fatal(err)
	}
	if body, err := get(gws.Addr(gw)); err != nil || !strings.HasPrefix(body, "200 OK ok") {
		t.Errorf("restarted gateway answered %q, %v", body, err)
	}
}
