package main

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

const wanConfig = `
range: 10.77.0.0/16
default_ms: 1
sites:
  - {name: a, place: p, addrs: [10.77.0.1]}
  - {name: b, addrs: [10.77.0.2]}
  - {name: c, addrs: [10.77.0.3, 10.77.0.33]}
  - {name: d, place: p, addrs: [10.77.0.4]}
delays:
  - {a: a, b: b, ms: 40}
  - {a: p, b: c, ms: 5}
`

// testWAN runs a WAN whose devices are SOCK_SEQPACKET socket pairs (one
// packet per read, like a TUN); it returns the far ends by site name.
func testWAN(t *testing.T, cfgText string) (*WAN, map[string]*os.File) {
	t.Helper()
	cfg, err := ParseConfig([]byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	peers := map[string]*os.File{}
	var devs []Device
	for _, s := range cfg.Sites {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		devs = append(devs, os.NewFile(uintptr(fds[0]), s.Name))
		peer := os.NewFile(uintptr(fds[1]), s.Name+"-peer")
		t.Cleanup(func() { peer.Close() })
		peers[s.Name] = peer
	}
	w, err := NewWAN(cfg, devs, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return w, peers
}

// ipv4 is a minimal IPv4 packet to dst carrying one tag byte.
func ipv4(dst [4]byte, tag byte) []byte {
	b := make([]byte, 21)
	b[0] = 0x45
	copy(b[16:20], dst[:])
	b[20] = tag
	return b
}

func send(t *testing.T, f *os.File, b []byte) {
	t.Helper()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

// recv reads one packet's tag, or returns ok false after d.
func recv(t *testing.T, f *os.File, d time.Duration) (tag byte, ok bool) {
	t.Helper()
	if err := f.SetReadDeadline(time.Now().Add(d)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n, err := f.Read(buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf[n-1], true
}

func TestForwardsByDestinationAfterDelay(t *testing.T) {
	_, p := testWAN(t, wanConfig)
	start := time.Now()
	send(t, p["a"], ipv4([4]byte{10, 77, 0, 2}, 1))  // to b: 40ms
	send(t, p["a"], ipv4([4]byte{10, 77, 0, 33}, 2)) // to c's second address: 5ms
	tag, ok := recv(t, p["c"], 2*time.Second)
	tc := time.Since(start)
	if !ok || tag != 2 {
		t.Fatalf("c got tag %d ok %v", tag, ok)
	}
	tag, ok = recv(t, p["b"], 2*time.Second)
	tb := time.Since(start)
	if !ok || tag != 1 {
		t.Fatalf("b got tag %d ok %v", tag, ok)
	}
	// Lower bounds only: the delay is a floor, scheduling adds to it.
	if tc < 5*time.Millisecond || tb < 40*time.Millisecond || tb < tc {
		t.Errorf("arrivals: c after %s (delay 5ms), b after %s (delay 40ms)", tc, tb)
	}
	// Both directions carry the delay; the place's delay covers d too.
	start = time.Now()
	send(t, p["b"], ipv4([4]byte{10, 77, 0, 1}, 3))
	if tag, ok := recv(t, p["a"], 2*time.Second); !ok || tag != 3 || time.Since(start) < 40*time.Millisecond {
		t.Errorf("b->a: tag %d ok %v after %s", tag, ok, time.Since(start))
	}
	start = time.Now()
	send(t, p["d"], ipv4([4]byte{10, 77, 0, 3}, 4))
	if tag, ok := recv(t, p["c"], 2*time.Second); !ok || tag != 4 || time.Since(start) < 5*time.Millisecond {
		t.Errorf("d->c (place p): tag %d ok %v after %s", tag, ok, time.Since(start))
	}
}

func TestLinkKeepsOrder(t *testing.T) {
	w, p := testWAN(t, wanConfig)
	var got []byte
	for i := range byte(50) {
		if i == 25 { // a shorter delay must not let later packets overtake
			as, _ := w.Resolve("a", nil)
			bs, _ := w.Resolve("b", nil)
			w.SetDelay(as, bs, int64(time.Millisecond))
		}
		send(t, p["a"], ipv4([4]byte{10, 77, 0, 2}, i))
	}
	for range 50 {
		tag, ok := recv(t, p["b"], 2*time.Second)
		if !ok {
			t.Fatalf("after %v: nothing more", got)
		}
		got = append(got, tag)
	}
	for i, tag := range got {
		if tag != byte(i) {
			t.Fatalf("order: %v", got)
		}
	}
}

func TestCutAndRestore(t *testing.T) {
	w, p := testWAN(t, wanConfig)
	as, _ := w.Resolve("c", nil)
	bs, _ := w.Resolve("*", as)
	if n := w.Cut(as, bs, true); n != 6 {
		t.Errorf("cut c from everyone: %d links, want 6", n)
	}
	send(t, p["a"], ipv4([4]byte{10, 77, 0, 3}, 1))
	send(t, p["c"], ipv4([4]byte{10, 77, 0, 2}, 2))
	send(t, p["a"], ipv4([4]byte{10, 77, 0, 2}, 3)) // not cut
	if tag, ok := recv(t, p["c"], 200*time.Millisecond); ok {
		t.Errorf("a->c delivered over a cut link (tag %d)", tag)
	}
	if tag, ok := recv(t, p["b"], 2*time.Second); !ok || tag != 3 {
		t.Errorf("b got %d %v, want tag 3 only (c->b is cut)", tag, ok)
	}
	if tag, ok := recv(t, p["b"], 100*time.Millisecond); ok {
		t.Errorf("c->b delivered over a cut link (tag %d)", tag)
	}
	// A packet already on a link when it is cut is lost.
	ab, _ := w.Resolve("a", nil)
	bb, _ := w.Resolve("b", nil)
	send(t, p["a"], ipv4([4]byte{10, 77, 0, 2}, 4))
	w.Cut(ab, bb, true)
	if tag, ok := recv(t, p["b"], 200*time.Millisecond); ok {
		t.Errorf("in-flight packet survived the cut (tag %d)", tag)
	}
	w.RestoreAll()
	send(t, p["c"], ipv4([4]byte{10, 77, 0, 2}, 5))
	if tag, ok := recv(t, p["b"], 2*time.Second); !ok || tag != 5 {
		t.Errorf("after restore: %d %v", tag, ok)
	}
	var dropped uint64
	for _, l := range w.Stats().Links {
		dropped += l.DroppedCut
		if l.Cut {
			t.Errorf("link %s->%s still cut after RestoreAll", l.From, l.To)
		}
	}
	if dropped != 3 {
		t.Errorf("dropped on cut links: %d, want 3", dropped)
	}
}

func TestDropsWhatNoSiteHolds(t *testing.T) {
	w, p := testWAN(t, wanConfig)
	send(t, p["a"], ipv4([4]byte{10, 77, 9, 9}, 1)) // nobody's
	send(t, p["a"], ipv4([4]byte{10, 77, 0, 1}, 2)) // a's own
	v6 := make([]byte, 40)
	v6[0] = 0x60
	send(t, p["a"], v6)
	send(t, p["a"], []byte{0x45, 0}) // truncated
	send(t, p["a"], ipv4([4]byte{10, 77, 0, 4}, 3))
	if tag, ok := recv(t, p["d"], 2*time.Second); !ok || tag != 3 {
		t.Fatalf("d got %d %v", tag, ok)
	}
	st := w.Stats()
	if st.Unknown != 2 || st.NonIPv4 != 2 {
		t.Errorf("unknown %d (want 2), non-IPv4 %d (want 2)", st.Unknown, st.NonIPv4)
	}
}

func TestResolve(t *testing.T) {
	w, _ := testWAN(t, wanConfig)
	names := func(ss []*site) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.Name)
		}
		return out
	}
	p, err := w.Resolve("p,c,a", nil)
	if err != nil || !slices.Equal(names(p), []string{"a", "c", "d"}) {
		t.Errorf("p,c,a = %v %v", names(p), err)
	}
	all, _ := w.Resolve("*", p)
	if !slices.Equal(names(all), []string{"b"}) {
		t.Errorf("* without p = %v", names(all))
	}
	if _, err := w.Resolve("nope", nil); err == nil {
		t.Error("unknown name resolved")
	}
}
