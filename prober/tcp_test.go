package prober

import (
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
)

func TestTCPProbeUpDownBack(t *testing.T) {
	ln := listenTCP(t, "127.0.0.1:0")
	lnAddr := ln.Addr().String()
	addr, port := hostPort(t, lnAddr)
	p, _, _ := newTestProber(t, testConfig(service("svc.example.", zones.Check{Type: "tcp", Port: port}, addr)), Options{})
	tg := p.targets["svc.example./ep0"]

	r, _ := p.probeOnce(t.Context(), tg)
	if !r.OK || r.RTT <= 0 || r.Connect != r.RTT || r.Target != lnAddr || r.Kind != "tcp" {
		t.Fatalf("up: %+v", r)
	}

	ln.Close()
	r, _ = p.probeOnce(t.Context(), tg)
	if r.OK || r.Class != store.ErrRefused {
		t.Fatalf("after close: ok=%v class=%q err=%q, want refused", r.OK, r.Class, r.Err)
	}

	listenTCP(t, lnAddr) // the same port again
	r, _ = p.probeOnce(t.Context(), tg)
	if !r.OK {
		t.Fatalf("back: %+v", r)
	}
}

// tinyBacklogListener listens on 127.0.0.1 with a backlog of 0 and never
// accepts, so that once one connection waits in its queue, further SYNs are
// dropped and a connect hangs.
func tinyBacklogListener(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	for range 16 {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return addr // the queue is full
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("could not fill a listen queue of backlog 0")
	return ""
}

func TestTCPProbeTimeout(t *testing.T) {
	addr, port := hostPort(t, tinyBacklogListener(t))
	start := time.Now()
	r := probeOnceWith(t, zones.Check{Type: "tcp", Port: port, Timeout: zones.Duration(150 * time.Millisecond)}, addr, Options{})
	if r.OK || r.Class != store.ErrTimeout {
		t.Fatalf("ok=%v class=%q err=%q, want timeout", r.OK, r.Class, r.Err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a 150ms timeout took %s", d)
	}
}

func TestControlTargets(t *testing.T) {
	ln := listenTCP(t, "127.0.0.1:0")
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := closed.Addr().String()
	closed.Close()

	cfg := testConfig()
	cfg.Prober.ControlTargets = []string{ln.Addr().String(), dead}
	p, _, _ := newTestProber(t, cfg, Options{})
	for _, tc := range []struct {
		target string
		ok     bool
	}{{ln.Addr().String(), true}, {dead, false}} {
		tg := p.targets[ControlService+"/"+tc.target]
		if tg == nil {
			t.Fatalf("no control target %s in %v", tc.target, p.targets)
		}
		if tg.interval != zones.DefaultInterval {
			t.Errorf("control interval %s, want %s", tg.interval, zones.DefaultInterval)
		}
		r, _ := p.probeOnce(t.Context(), tg)
		if r.Service != "_control" || r.Endpoint != tc.target || r.Target != tc.target || r.Kind != "tcp" || r.OK != tc.ok {
			t.Errorf("control result %+v, want ok=%v", r, tc.ok)
		}
	}
}
