package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// requireRoot skips a test that needs root and `ip`, unless
// GTM_REQUIRE_ROOT=1 (CI) makes that a failure.
func requireRoot(t *testing.T) {
	t.Helper()
	msg := ""
	if os.Geteuid() != 0 {
		msg = "needs root (network namespaces, TUN)"
	} else if _, err := exec.LookPath("ip"); err != nil {
		msg = "needs ip (apt-get install iproute2)"
	} else if _, err := os.Stat("/dev/net/tun"); err != nil {
		msg = "needs /dev/net/tun"
	}
	if msg == "" {
		return
	}
	if os.Getenv("GTM_REQUIRE_ROOT") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// TestTUNsCarryTCPWithDelay joins two fresh namespaces through real TUN
// devices and checks that a TCP handshake between them takes the WAN's
// round trip, and that a cut link stops it.
func TestTUNsCarryTCPWithDelay(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	prefix := fmt.Sprintf("gtmwan-test-%d-", os.Getpid())
	cfg, err := ParseConfig(fmt.Appendf(nil, `
range: 10.77.0.0/16
sites:
  - {name: a, netns: %[1]sa, addrs: [10.77.250.1]}
  - {name: b, netns: %[1]sb, addrs: [10.77.250.2]}
delays: [{a: a, b: b, ms: 25}]
`, prefix))
	if err != nil {
		t.Fatal(err)
	}
	made, err := createNetns(ctx, cfg.Sites)
	t.Cleanup(func() {
		if err := deleteNetns(made); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	var devs []Device
	for i := range cfg.Sites {
		f, err := openTUN(netnsPath(cfg.Sites[i].Netns), cfg.TUN)
		if err != nil {
			t.Fatal(err)
		}
		devs = append(devs, f)
		t.Cleanup(func() { f.Close() }) // Run closes it too; this covers a failure before Run
		if err := configureSite(ctx, &cfg.Sites[i], cfg.TUN, cfg.rng.String()); err != nil {
			t.Fatal(err)
		}
	}
	w, err := NewWAN(cfg, devs, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(rctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})

	var l net.Listener
	if err := inNetns(netnsPath(cfg.Sites[1].Netns), func() (err error) {
		l, err = net.Listen("tcp4", "10.77.250.2:7000")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "hi")
			c.Close()
		}
	}()
	dial := func() (time.Duration, error) {
		var c net.Conn
		start := time.Now()
		err := inNetns(netnsPath(cfg.Sites[0].Netns), func() (err error) {
			c, err = net.DialTimeout("tcp4", "10.77.250.2:7000", time.Second)
			return err
		})
		if err != nil {
			return 0, err
		}
		took := time.Since(start)
		defer c.Close()
		b, err := io.ReadAll(c)
		if err == nil && string(b) != "hi" {
			err = fmt.Errorf("read %q", b)
		}
		return took, err
	}
	took, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	if took < 50*time.Millisecond {
		t.Errorf("TCP connect across the WAN took %s, below the 50ms round trip", took)
	}
	t.Logf("TCP connect a->b: %s (one-way delay 25ms)", took)

	as, _ := w.Resolve("a", nil)
	bs, _ := w.Resolve("b", nil)
	w.Cut(as, bs, true)
	if _, err := dial(); err == nil {
		t.Error("connected over a cut link")
	}
	w.Cut(as, bs, false)
	if _, err := dial(); err != nil {
		t.Errorf("after restore: %v", err)
	}
}
