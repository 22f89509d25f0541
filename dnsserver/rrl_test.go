package dnsserver

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

// TestRRLBucket walks one bucket through burst, limit, debt and recovery.
func TestRRLBucket(t *testing.T) {
	r := newRRL(RRLConfig{Rate: 5, Slip: 2, Window: 15 * time.Second, TableSize: 1024}, zerolog.Nop(), nil)
	src := netip.MustParseAddr("192.0.2.7")
	t0 := time.Unix(1_800_000_000, 0)
	count := func(n int, at time.Time) (pass, slip, drop int) {
		for range n {
			switch r.check(rrlPositive, dns.TypeA, src, "www.example.com.", at) {
			case rrlPass:
				pass++
			case rrlSlip:
				slip++
			case rrlDrop:
				drop++
			}
		}
		return
	}
	if p, s, d := count(11, t0); p != 5 || s != 3 || d != 3 {
		t.Errorf("first second, 11 responses: pass %d slip %d drop %d, want 5, 3, 3", p, s, d)
	}
	// Another /24 and another name have their own buckets; the same /24
	// shares this one, and so does the name in another case.
	if a := r.check(rrlPositive, dns.TypeA, netip.MustParseAddr("192.0.3.7"), "www.example.com.", t0); a != rrlPass {
		t.Errorf("another /24: %s", rrlActionNames[a])
	}
	if a := r.check(rrlPositive, dns.TypeA, src, "api.example.com.", t0); a != rrlPass {
		t.Errorf("another name: %s", rrlActionNames[a])
	}
	if a := r.check(rrlPositive, dns.TypeA, netip.MustParseAddr("192.0.2.200"), "WWW.example.COM.", t0); a == rrlPass {
		t.Errorf("same /24, name in other case: passed")
	}
	// A flood runs up debt down to Rate×Window: 1000 more responses leave
	// the bucket 75 in debt, paid back at 5 a second.
	count(1000, t0)
	if p, _, _ := count(1, t0.Add(14*time.Second)); p != 0 {
		t.Errorf("14 s after a flood: answered, want still in debt")
	}
	if p, _, _ := count(1, t0.Add(16*time.Second)); p != 1 {
		t.Errorf("16 s after a flood: not answered, want the debt paid")
	}
}

// TestRRLTableBounded: a million responses from random sources and names
// leave the table its size and the heap where it was.
func TestRRLTableBounded(t *testing.T) {
	evictions := prometheus.NewCounter(prometheus.CounterOpts{Name: "evictions"})
	r := newRRL(RRLConfig{Rate: 1, TableSize: 4096}, zerolog.Nop(), evictions)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	now := time.Unix(1_800_000_000, 0)
	names := []string{"a.example.com.", "b.example.com.", "c.example.com."}
	for i := range 1_000_000 {
		var a [16]byte
		for j := range a {
			a[j] = byte(rand.Uint32())
		}
		src := netip.AddrFrom16(a)
		if i%2 == 0 {
			src = netip.AddrFrom4([4]byte(a[:4]))
		}
		r.check(rrlPositive, dns.TypeA, src, names[i%3], now)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if len(r.buckets) != 4096 || cap(r.buckets) != 4096 {
		t.Errorf("table has %d buckets (cap %d), want 4096", len(r.buckets), cap(r.buckets))
	}
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 1<<20 {
		t.Errorf("heap grew %d bytes over a million random sources", grew)
	}
	// Nearly every one of a million keys in 4096 buckets took over a
	// bucket in use.
	if n := testutil.ToFloat64(evictions); n < 900_000 {
		t.Errorf("%v evictions counted, want nearly a million", n)
	}
	if allocs := testing.AllocsPerRun(1000, func() {
		r.check(rrlNXDomain, dns.TypeA, netip.MustParseAddr("2001:db8::1"), "example.com.", now)
	}); allocs != 0 {
		t.Errorf("check allocates %.1f times", allocs)
	}
}

// TestRRLClasses: NXDOMAIN for random names of a zone share one bucket
// (the random-subdomain flood), errors of a client network share one, and
// positive answers are counted per name.
func TestRRLClasses(t *testing.T) {
	s := benchServer(t)
	s.rrl = newRRL(RRLConfig{Rate: 3, Slip: 0}, zerolog.Nop(), nil)
	src := netip.MustParseAddr("192.0.2.9")
	w := newWorker()
	answered := func(name string, qtype uint16) bool {
		return s.serve(w, mustPack(t, query(name, qtype)), protoUDP, src) != nil
	}
	n := 0
	for i := range 10 {
		if answered(fmt.Sprintf("nosuch%d.example.com.", i), dns.TypeA) {
			n++
		}
	}
	if n != 3 {
		t.Errorf("NXDOMAIN for 10 random names: %d answered, want 3 (one bucket per zone)", n)
	}
	if !answered("nosuch.example.net.", dns.TypeA) {
		t.Errorf("NXDOMAIN in another zone limited")
	}
	n = 0
	for i := range 10 {
		if answered(fmt.Sprintf("name%d.not-ours.", i), dns.TypeA) {
			n++
		}
	}
	if n != 3 {
		t.Errorf("REFUSED for 10 names: %d answered, want 3 (one error bucket)", n)
	}
	for _, name := range []string{"mail.example.com.", "api.example.com.", "www.example.com."} {
		if !answered(name, dns.TypeA) {
			t.Errorf("%s: the first answer limited", name)
		}
	}
	// Over TCP nothing is limited.
	for range 10 {
		if s.serve(w, mustPack(t, query("nosuch.example.com.", dns.TypeA)), protoTCP, src) == nil {
			t.Fatal("TCP response dropped")
		}
	}
}

// udpFrom is a UDP socket bound to local (a loopback address) talking to
// the test server.
func udpFrom(t *testing.T, ts *testServer, local string) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(local+":0")),
		net.UDPAddrFromAddrPort(netip.MustParseAddrPort(ts.addr)))
	if err != nil {
		t.Fatalf("bind %s: %v", local, err)
	}
	_ = c.SetReadBuffer(4 << 20)
	t.Cleanup(func() { c.Close() })
	return c
}

// udpTally is what a client saw: full answers, truncated slips.
type udpTally struct{ full, tc int }

// exchangeUDP sends pkts from c, spread over d, and counts the responses
// that arrive until 300 ms after the last.
func exchangeUDP(t *testing.T, c *net.UDPConn, pkts [][]byte, d time.Duration) udpTally {
	t.Helper()
	var tally udpTally
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 65535)
		var m dns.Msg
		for {
			n, err := c.Read(buf)
			if err != nil {
				return // the deadline
			}
			if m.Unpack(buf[:n]) != nil {
				t.Errorf("unparsable response %x", buf[:n])
				continue
			}
			switch {
			case m.Truncated && len(m.Answer) == 0:
				tally.tc++
			case len(m.Answer) > 0:
				tally.full++
			}
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(d + 5*time.Second))
	start := time.Now()
	for i, p := range pkts {
		if _, err := c.Write(p); err != nil {
			t.Fatalf("write: %v", err)
		}
		// Pace: packet i leaves at i/len of d.
		if wait := time.Until(start.Add(d * time.Duration(i+1) / time.Duration(len(pkts)))); wait > 0 && i%20 == 19 {
			time.Sleep(wait)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	wg.Wait()
	return tally
}

func repeat(pkt []byte, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = pkt
	}
	return out
}

// TestRRLOverUDP floods a real server from 127.0.0.1 with 2,000 identical
// queries in about a second: at most twice the rate (the first second's
// burst plus one second's credit) are answered, about half the rest are
// sent truncated (slip 2) and the others dropped. Meanwhile another /24
// (127.0.1.1) is answered, the same /24 (127.0.0.2) is limited, and a
// client presenting a valid server cookie is answered.
func TestRRLOverUDP(t *testing.T) {
	const rate, n = 50, 2000
	cs, err := NewCookieSecrets(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, options{cfg: Config{Cookies: cs, RRL: RRLConfig{Rate: rate, Slip: 2}}})
	pkt := mustPack(t, ednsQuery("mail.example.com.", dns.TypeA, 1232))

	// A cookie learned over TCP, as a resolver retrying a slip would.
	r := ts.exchange(t, "tcp", cookieQuery(t, "mail.example.com.", "0102030405060708"))
	cookie := replyCookie(r)
	if len(cookie) != 48 {
		t.Fatalf("no server cookie over TCP: %v", r)
	}

	c := udpFrom(t, ts, "127.0.0.1")
	got := exchangeUDP(t, c, repeat(pkt, n), time.Second)
	slip := counterValue(t, ts.reg, "gtm_dns_rrl_actions_total", map[string]string{"action": "slip"})
	drop := counterValue(t, ts.reg, "gtm_dns_rrl_actions_total", map[string]string{"action": "drop"})
	t.Logf("client saw %d answers, %d truncated; server slipped %v, dropped %v", got.full, got.tc, slip, drop)
	// The server passed at least rate (limited <= n-rate below); the
	// client may miss a few on a loaded machine.
	if got.full > 2*rate || got.full < rate*8/10 {
		t.Errorf("%d full answers, want %d..%d", got.full, rate, 2*rate)
	}
	if limited := slip + drop; limited < n-2*rate || limited > n-rate {
		t.Errorf("server limited %v responses of %d", limited, n)
	}
	if slip-drop > 1 || drop-slip > 1 {
		t.Errorf("slip 2: slipped %v, dropped %v: want every other", slip, drop)
	}
	if want := int(slip); got.tc < want*8/10 || got.tc > want {
		t.Errorf("client saw %d truncated, server slipped %d", got.tc, want)
	}

	// Another /24 is unaffected.
	other := udpFrom(t, ts, "127.0.1.1")
	if o := exchangeUDP(t, other, repeat(pkt, 5), 50*time.Millisecond); o.full != 5 {
		t.Errorf("127.0.1.1: %d of 5 answered", o.full)
	}
	// The same /24 shares the debt.
	same := udpFrom(t, ts, "127.0.0.2")
	if o := exchangeUDP(t, same, repeat(pkt, 6), 50*time.Millisecond); o.full != 0 || o.tc == 0 {
		t.Errorf("127.0.0.2, same /24 as the flood: %d answered, %d truncated; want 0 and some", o.full, o.tc)
	}
	// A valid server cookie is exempt, from the flooded address itself.
	withCookie := mustPack(t, cookieQuery(t, "mail.example.com.", cookie))
	if o := exchangeUDP(t, c, repeat(withCookie, 5), 50*time.Millisecond); o.full != 5 {
		t.Errorf("with a valid server cookie: %d of 5 answered", o.full)
	}
	// A made-up one is not.
	bad := mustPack(t, cookieQuery(t, "mail.example.com.", "0102030405060708"+"01000000"+cookie[24:32]+"0000000000000000"))
	if o := exchangeUDP(t, c, repeat(bad, 4), 50*time.Millisecond); o.full != 0 {
		t.Errorf("with a forged server cookie: %d of 4 answered", o.full)
	}
}

// BenchmarkRRLCheck is the limiter's own cost per response: exempt list
// walk (empty), hash, bucket lock and arithmetic.
func BenchmarkRRLCheck(b *testing.B) {
	r := newRRL(RRLConfig{Rate: 1 << 20}, zerolog.Nop(), nil)
	src := netip.MustParseAddr("192.0.2.200")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		r.check(rrlPositive, dns.TypeA, src, "api.example.com.", now)
	}
}
