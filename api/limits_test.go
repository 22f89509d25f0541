package api

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// emfileListener fails Accept with EMFILE n times, then accepts.
type emfileListener struct {
	net.Listener
	left atomic.Int32
}

func (l *emfileListener) Accept() (net.Conn, error) {
	if l.left.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

func startLimited(t *testing.T, lim Limits, log io.Writer, wrap func(net.Listener) net.Listener) (*Server, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	s := New("127.0.0.1:0", reg, nil, zerolog.New(log))
	s.Limits = lim
	s.wrapListener = wrap
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-s.Started()
	return s, reg
}

func get(t *testing.T, addr string) error {
	t.Helper()
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + addr + "/healthz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// TestAcceptEMFILENotFatal: out of descriptors, net/http's accept loop
// backs off and retries; its error log reaches ours once, not per error.
func TestAcceptEMFILENotFatal(t *testing.T) {
	var log lockedBuffer
	s, _ := startLimited(t, Limits{}, &log, func(l net.Listener) net.Listener {
		el := &emfileListener{Listener: l}
		el.left.Store(4)
		return el
	})
	if err := get(t, s.Bound().String()); err != nil {
		t.Fatalf("/healthz after EMFILE: %v", err)
	}
	if n := strings.Count(log.String(), "too many open files"); n != 1 {
		t.Errorf("%d log lines about EMFILE, want 1:\n%s", n, log.String())
	}
}

// TestConnectionCapEvictsIdle: with api.max_connections held by idle
// connections (opened, no request), a new client is still served: filling
// the last slot closes the oldest idle connection.
func TestConnectionCapEvictsIdle(t *testing.T) {
	s, reg := startLimited(t, Limits{MaxConnections: 4}, io.Discard, nil)
	addr := s.Bound().String()
	var idle []net.Conn
	for range 10 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	if err := get(t, addr); err != nil {
		t.Fatalf("/healthz with the cap held by idle connections: %v", err)
	}
	m := newConnMetrics(reg)
	if n := testutil.ToFloat64(m.evicted); n < 7 {
		t.Errorf("gtm_api_connections_evicted_total = %v, want at least 7", n)
	}
	if n := testutil.ToFloat64(m.open); n > 4 {
		t.Errorf("gtm_api_connections = %v above the cap of 4", n)
	}
	// The first idle connection was closed by the server.
	_ = idle[0].SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := idle[0].Read(make([]byte, 1)); err == nil || os.IsTimeout(err) {
		t.Errorf("the oldest idle connection is still open: %v", err)
	}
}

// TestTimeouts: an idle keep-alive is closed after IdleTimeout, a header
// over MaxHeaderBytes is refused.
func TestTimeouts(t *testing.T) {
	s, _ := startLimited(t, Limits{IdleTimeout: 300 * time.Millisecond, ReadTimeout: time.Second}, io.Discard, nil)
	c, err := net.Dial("tcp", s.Bound().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err == nil || os.IsTimeout(err) {
		t.Fatalf("keep-alive connection not closed: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("idle keep-alive closed after %s, want about 300ms", d)
	}

	req, _ := http.NewRequest("GET", "http://"+s.Bound().String()+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("a", MaxHeaderBytes+8192))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a %d-byte header got %d, want 431", MaxHeaderBytes+8192, resp.StatusCode)
	}
}
