package dnsserver

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// failingListener returns EMFILE from Accept n times, then accepts.
type failingListener struct {
	net.Listener
	left atomic.Int32
}

func (l *failingListener) Accept() (net.Conn, error) {
	if l.left.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestTCPAcceptErrorsBackOff: EMFILE from accept (out of descriptors) used
// to stop the server; now it is counted, logged once for the burst, backed
// off (5+10+20+40+80 ms for five errors) and retried, and TCP then answers.
func TestTCPAcceptErrorsBackOff(t *testing.T) {
	t.Parallel()
	var log syncBuffer
	start := time.Now()
	ts := startServer(t, options{log: &log, wrap: func(l net.Listener) net.Listener {
		fl := &failingListener{Listener: l}
		fl.left.Store(5)
		return fl
	}})
	r := ts.exchange(t, "tcp", query("www.example.com.", dns.TypeA))
	if r.Rcode != dns.RcodeSuccess {
		t.Fatalf("rcode %d after the accept errors", r.Rcode)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("answered %s after start: the five errors were not backed off", d)
	}
	if n := counterValue(t, ts.reg, "gtm_dns_tcp_accept_errors_total", nil); n != 5 {
		t.Errorf("gtm_dns_tcp_accept_errors_total = %v, want 5", n)
	}
	out := log.String()
	if n := strings.Count(out, "dns tcp accept failed"); n != 1 {
		t.Errorf("%d accept-failure lines for one burst, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "too many open files") || !strings.Contains(out, `"message":"dns tcp accept recovered"`) || !strings.Contains(out, `"errors":5`) {
		t.Errorf("log lacks the error or the recovery with its count:\n%s", out)
	}
	// UDP answered all along, and still does.
	if r := ts.exchange(t, "udp", query("www.example.com.", dns.TypeA)); r.Rcode != dns.RcodeSuccess {
		t.Errorf("udp rcode %d", r.Rcode)
	}
}

// dialFrom opens a TCP connection to the server from source address src
// (any 127.x.y.z works on loopback), so tests can be several clients.
func (ts *testServer) dialFrom(t *testing.T, src string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitConns waits until the listener holds n connections, idle of them
// idle (waiting for a query), and the others busy.
func (ts *testServer) waitConns(t *testing.T, n, idle int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		lim := ts.srv.limiters[0] // set before Ready
		lim.mu.Lock()
		gotN, gotIdle := len(lim.conns), 0
		for _, tc := range lim.conns {
			if tc.idleSince.Load() > 0 {
				gotIdle++
			}
		}
		lim.mu.Unlock()
		if gotN == n && gotIdle == idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("listener holds %d connections (%d idle), want %d (%d idle)", gotN, gotIdle, n, idle)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tcpQuery sends one query on c and reads its answer.
func tcpQuery(t *testing.T, c net.Conn) error {
	t.Helper()
	dc := &dns.Conn{Conn: c}
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if err := dc.WriteMsg(query("www.example.com.", dns.TypeA)); err != nil {
		return err
	}
	r, err := dc.ReadMsg()
	if err == nil && r.Rcode != dns.RcodeSuccess {
		err = errors.New(dns.RcodeToString[r.Rcode])
	}
	return err
}

// closedByServer reports whether the server closed c (EOF or reset) within d.
func closedByServer(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	var b [1]byte
	_, err := c.Read(b[:])
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

// startQuery makes c busy: the first byte of a query's length, no more.
func startQuery(t *testing.T, c net.Conn) {
	t.Helper()
	if _, err := c.Write([]byte{0}); err != nil {
		t.Fatal(err)
	}
}

// TestTCPPerClientCap: past dns.tcp.max_per_client the client network's
// oldest idle connection is closed to make room; with none idle the new
// connection is refused; another /24 is not affected.
func TestTCPPerClientCap(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{cfg: Config{TCPMaxPerClient: 3, TCPMaxConns: 100}})
	a := ts.dialFrom(t, "127.0.0.1")
	ts.waitConns(t, 1, 1)
	b := ts.dialFrom(t, "127.0.0.2") // same /24
	c := ts.dialFrom(t, "127.0.0.3")
	ts.waitConns(t, 3, 3)
	d := ts.dialFrom(t, "127.0.0.1")
	if err := tcpQuery(t, d); err != nil {
		t.Fatalf("the 4th connection of the /24 was not answered: %v", err)
	}
	if !closedByServer(a, 2*time.Second) {
		t.Error("the oldest idle connection of the /24 was not closed")
	}
	for _, c := range []net.Conn{b, c} {
		if err := tcpQuery(t, c); err != nil {
			t.Errorf("a newer connection was closed: %v", err)
		}
	}
	if n := counterValue(t, ts.reg, "gtm_dns_tcp_closed_total", map[string]string{"reason": "evicted"}); n != 1 {
		t.Errorf("evicted = %v, want 1", n)
	}
	// All three busy (a query started): the next one is refused.
	for _, c := range []net.Conn{b, c, d} {
		startQuery(t, c)
	}
	ts.waitConns(t, 3, 0)
	e := ts.dialFrom(t, "127.0.0.4")
	if !closedByServer(e, 2*time.Second) {
		t.Error("a connection past the per-client cap with none idle was not refused")
	}
	if n := counterValue(t, ts.reg, "gtm_dns_tcp_closed_total", map[string]string{"reason": "per_client"}); n != 1 {
		t.Errorf("per_client = %v, want 1", n)
	}
	if err := tcpQuery(t, ts.dialFrom(t, "127.0.1.1")); err != nil {
		t.Errorf("another /24 was not answered: %v", err)
	}
}

// TestTCPCapEvictsOldestIdle: at dns.tcp.max_connections a new connection
// closes the connection idle the longest (not the new one, not one that
// just asked a query); with none idle it is refused.
func TestTCPCapEvictsOldestIdle(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{cfg: Config{TCPMaxConns: 3, TCPMaxPerClient: 10, TCPIdleTimeout: 30 * time.Second}})
	a := ts.dialFrom(t, "127.0.1.1")
	ts.waitConns(t, 1, 1)
	b := ts.dialFrom(t, "127.0.2.1")
	ts.waitConns(t, 2, 2)
	c := ts.dialFrom(t, "127.0.3.1")
	ts.waitConns(t, 3, 3)
	// a asks a query: it becomes the most recently idle, b the oldest.
	if err := tcpQuery(t, a); err != nil {
		t.Fatal(err)
	}
	ts.waitConns(t, 3, 3)
	d := ts.dialFrom(t, "127.0.4.1")
	if err := tcpQuery(t, d); err != nil {
		t.Fatalf("the new connection at the cap was not answered: %v", err)
	}
	if !closedByServer(b, 2*time.Second) {
		t.Error("the oldest idle connection was not closed")
	}
	for name, c := range map[string]net.Conn{"a": a, "c": c} {
		if err := tcpQuery(t, c); err != nil {
			t.Errorf("%s was closed instead of the oldest idle: %v", name, err)
		}
	}
	for _, c := range []net.Conn{a, c, d} {
		startQuery(t, c)
	}
	ts.waitConns(t, 3, 0)
	if !closedByServer(ts.dialFrom(t, "127.0.5.1"), 2*time.Second) {
		t.Error("a connection past the cap with none idle was not refused")
	}
	for reason, want := range map[string]float64{"evicted": 1, "cap": 1} {
		if n := counterValue(t, ts.reg, "gtm_dns_tcp_closed_total", map[string]string{"reason": reason}); n != want {
			t.Errorf("closed{reason=%s} = %v, want %v", reason, n, want)
		}
	}
	if n := family(t, ts.reg, "gtm_dns_tcp_connections")[0].GetGauge().GetValue(); n != 3 {
		t.Errorf("gtm_dns_tcp_connections = %v, want 3", n)
	}
}

// TestTCPPressureIdleTimeout: up to 3/4 of the cap idle connections get
// the idle timeout (long here); above it every idle connection, those
// already waiting included, gets the short one; below it again, the long.
func TestTCPPressureIdleTimeout(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{cfg: Config{
		TCPMaxConns: 8, TCPMaxPerClient: 8, TCPIdleTimeout: 30 * time.Second, TCPPressureIdleTimeout: 200 * time.Millisecond,
	}})
	var conns []net.Conn
	for i := range 6 { // 6 of 8: at 3/4, not above
		conns = append(conns, ts.dialFrom(t, "127.0.0.1"))
		ts.waitConns(t, i+1, i+1)
	}
	if closedByServer(conns[0], 600*time.Millisecond) {
		t.Fatal("an idle connection was closed at 3/4 of the cap, before the idle timeout")
	}
	start := time.Now()
	// 7 of 8: pressure. The six idle connections, idle for longer than the
	// short timeout, are closed at once; that ends the pressure, so the
	// seventh may keep the long timeout, and is not checked.
	ts.dialFrom(t, "127.0.0.1")
	for i, c := range conns {
		if !closedByServer(c, 5*time.Second) {
			t.Fatalf("idle connection %d still open %s after the cap came under pressure", i, time.Since(start))
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("closing the idle connections took %s with a 200ms pressure timeout", d)
	}
	if n := counterValue(t, ts.reg, "gtm_dns_tcp_closed_total", map[string]string{"reason": "idle"}); n < 6 {
		t.Errorf("closed{reason=idle} = %v, want at least 6", n)
	}
	// Back under 3/4: the long timeout again.
	c := ts.dialFrom(t, "127.0.0.1")
	if closedByServer(c, 600*time.Millisecond) {
		t.Error("an idle connection was closed after the pressure ended")
	}
}

// TestTCPSlowloris: a client sending a query one byte at a time, faster
// than the idle timeout each but slower in all, is closed once the whole
// message has taken the timeout: the deadline is per message, not per byte.
func TestTCPSlowloris(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{cfg: Config{TCPIdleTimeout: time.Second}})
	msg := mustPack(t, query("www.example.com.", dns.TypeA))
	frame := binary.BigEndian.AppendUint16(nil, uint16(len(msg)))
	frame = append(frame, msg...)
	c := ts.dialFrom(t, "127.0.0.1")
	start := time.Now()
	var werr error
	for _, b := range frame {
		if _, werr = c.Write([]byte{b}); werr != nil {
			break
		}
		time.Sleep(300 * time.Millisecond)
		if time.Since(start) > 4*time.Second {
			break
		}
	}
	if !closedByServer(c, 100*time.Millisecond) {
		t.Fatalf("a query sent at 3 bytes/s still open after %s (idle timeout 1s)", time.Since(start))
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("closed after %s, want about 1s", d)
	}
	if n := counterValue(t, ts.reg, "gtm_dns_tcp_closed_total", map[string]string{"reason": "slow"}); n != 1 {
		t.Errorf("closed{reason=slow} = %v, want 1", n)
	}
	// A pipelined pair of queries on one connection is still answered in order.
	c = ts.dialFrom(t, "127.0.0.1")
	q1, q2 := query("www.example.com.", dns.TypeA), query("mail.example.com.", dns.TypeA)
	var buf []byte
	for _, q := range []*dns.Msg{q1, q2} {
		p := mustPack(t, q)
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(p)))
		buf = append(buf, p...)
	}
	if _, err := c.Write(buf); err != nil {
		t.Fatal(err)
	}
	dc := &dns.Conn{Conn: c}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	for _, q := range []*dns.Msg{q1, q2} {
		r, err := dc.ReadMsg()
		if err != nil || r.Id != q.Id {
			t.Fatalf("pipelined answer: %v (id %v, want %d)", err, r, q.Id)
		}
	}
}
