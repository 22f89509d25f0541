package prober

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gtm-project/gtm/health"
	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
)

func ms(n int) zones.Duration { return zones.Duration(time.Duration(n) * time.Millisecond) }

func TestRunProbesAtIntervalWithJitter(t *testing.T) {
	ln := listenTCP(t, "127.0.0.1:0")
	addr, port := hostPort(t, ln.Addr().String())
	ch := zones.Check{Type: "tcp", Port: port, Interval: ms(100), Timeout: ms(2000), Jitter: ms(20)}
	p, sink, reg := newTestProber(t, testConfig(service("svc.example.", ch, addr)), Options{})
	run(t, p)

	rs := sink.waitFor(t, "svc.example./ep0", 10*time.Second, "9 results", func(rs []store.ProbeResult) bool { return len(rs) >= 9 })
	var gaps []time.Duration
	for i := 1; i < len(rs); i++ {
		gaps = append(gaps, rs[i].At.Sub(rs[i-1].At))
	}
	// Ticks are 100ms apart on the grid, each jittered by [0, 20ms). A
	// starved test process delays single ticks (the next is back on the
	// grid), so judge the median; the pure scheduler tests pin the exact
	// jitter bounds.
	sorted := slices.Clone(gaps)
	slices.Sort(sorted)
	if med := sorted[len(sorted)/2]; med < 80*time.Millisecond || med > 200*time.Millisecond {
		t.Errorf("median gap %s between probes, want about 100ms (gaps %v)", med, gaps)
	}
	r := rs[0]
	if !r.OK || r.Source != "test-region" || r.Prober != "prober-1" || r.Interval != 100*time.Millisecond || r.Verdict == "" {
		t.Errorf("result %+v", r)
	}
	if v, ok := metricValue(t, reg, "gtm_probes_total", map[string]string{"kind": "tcp", "result": "ok"}); !ok || v < 9 {
		t.Errorf("gtm_probes_total{tcp,ok} = %v (exists %v), want >= 9", v, ok)
	}
	if v, ok := metricValue(t, reg, "gtm_probe_success", map[string]string{"source": "test-region", "service": "svc.example.", "endpoint": "ep0", "kind": "tcp"}); !ok || v != 1 {
		t.Errorf("gtm_probe_success = %v (exists %v), want 1", v, ok)
	}
	if v, ok := metricValue(t, reg, "gtm_probe_duration_seconds", map[string]string{"source": "test-region", "endpoint": "ep0", "kind": "tcp"}); !ok || v < 9 {
		t.Errorf("gtm_probe_duration_seconds count = %v (exists %v), want >= 9", v, ok)
	}
}

// gate is an HTTP handler that counts requests in flight.
type gate struct {
	hold     time.Duration
	inFlight atomic.Int64
	peak     atomic.Int64
	served   atomic.Int64
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	select {
	case <-time.After(g.hold):
	case <-r.Context().Done():
	}
	g.served.Add(1)
}

func TestRunSlowTargetDoesNotPileUp(t *testing.T) {
	g := &gate{hold: 300 * time.Millisecond}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	addr, port := serverHost(t, srv)
	// The timeout is past the interval on purpose: each probe outlives
	// several ticks.
	ch := zones.Check{Type: "http", Port: port, Interval: ms(40), Timeout: ms(1000), Jitter: ms(5)}
	p, sink, reg := newTestProber(t, testConfig(service("svc.example.", ch, addr)), Options{})
	stop := run(t, p)
	sink.waitFor(t, "svc.example./ep0", 10*time.Second, "3 results", func(rs []store.ProbeResult) bool { return len(rs) >= 3 })
	stop()
	if peak := g.peak.Load(); peak != 1 {
		t.Errorf("%d probes of one target in flight at once, want 1", peak)
	}
	skipped, _ := metricValue(t, reg, "gtm_probe_skipped_total", map[string]string{"reason": "busy"})
	// 3 probes of 300ms at a 40ms interval skip about 6 ticks each (fewer
	// when a starved scheduler counts them late instead).
	if skipped < 3 {
		t.Errorf("gtm_probe_skipped_total{reason=busy} = %v, want >= 3", skipped)
	}
	if rs := sink.results(""); !rs[0].OK {
		t.Errorf("slow but in time probe failed: %+v", rs[0])
	}
}

func TestRunConcurrencyBound(t *testing.T) {
	g := &gate{hold: 80 * time.Millisecond}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	addr, port := serverHost(t, srv)
	addrs := make([]string, 12)
	for i := range addrs {
		addrs[i] = addr
	}
	ch := zones.Check{Type: "http", Port: port, Interval: ms(50), Timeout: ms(1000), Jitter: ms(10)}
	cfg := testConfig(service("svc.example.", ch, addrs...))
	cfg.Prober.Concurrency = 3
	p, _, reg := newTestProber(t, cfg, Options{})
	stop := run(t, p)
	deadline := time.Now().Add(10 * time.Second)
	for g.served.Load() < 20 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	if g.served.Load() < 20 {
		t.Fatalf("only %d requests served", g.served.Load())
	}
	if peak := g.peak.Load(); peak != 3 {
		t.Errorf("peak concurrency %d, want exactly the bound 3", peak)
	}
	late, _ := metricValue(t, reg, "gtm_probe_skipped_total", map[string]string{"reason": "late"})
	if late == 0 {
		t.Error("12 targets of 80ms at 50ms on 3 workers must fall behind, but no late ticks were counted")
	}
}

func TestRunVerdictRiseFall(t *testing.T) {
	ln := listenTCP(t, "127.0.0.1:0")
	lnAddr := ln.Addr().String()
	addr, port := hostPort(t, lnAddr)
	ch := zones.Check{Type: "tcp", Port: port, Interval: ms(30), Timeout: ms(2000), Jitter: ms(1), Rise: 3, Fall: 2}
	p, sink, _ := newTestProber(t, testConfig(service("svc.example.", ch, addr)), Options{})
	run(t, p)
	key := "svc.example./ep0"

	rs := sink.waitFor(t, key, 10*time.Second, "up", func(rs []store.ProbeResult) bool { return len(rs) > 0 && last(rs).Verdict == health.Up.String() })
	if got := verdicts(rs[:3]); got != "unknown unknown up" {
		t.Errorf("rise 3: first verdicts %q, want %q", got, "unknown unknown up")
	}
	ln.Close()
	n := len(sink.results(key))
	rs = sink.waitFor(t, key, 10*time.Second, "down", func(rs []store.ProbeResult) bool { return last(rs).Verdict == health.Down.String() })
	var fails []store.ProbeResult
	for _, r := range rs[n:] {
		if !r.OK {
			fails = append(fails, r)
		}
	}
	if got := verdicts(fails[:2]); got != "up down" || fails[0].Class != store.ErrRefused {
		t.Errorf("fall 2: verdicts of the first failures %q (class %q), want %q, refused", got, fails[0].Class, "up down")
	}

	listenTCP(t, lnAddr)
	sink.waitFor(t, key, 10*time.Second, "up again", func(rs []store.ProbeResult) bool { return last(rs).Verdict == health.Up.String() })
}

// Only changes to or from down alter answers, so only they are marked
// Changed, and they reach the sink without waiting for the flush tick.
func TestRunVerdictChangeFlushedAtOnce(t *testing.T) {
	ln := listenTCP(t, "127.0.0.1:0")
	lnAddr := ln.Addr().String()
	addr, port := hostPort(t, lnAddr)
	ch := zones.Check{Type: "tcp", Port: port, Interval: ms(30), Timeout: ms(2000), Jitter: ms(1), Rise: 2, Fall: 2}
	// A flush tick that never comes within the test: only kicks flush.
	p, sink, _ := newTestProber(t, testConfig(service("svc.example.", ch, addr)), Options{FlushInterval: time.Hour})
	run(t, p)
	key := "svc.example./ep0"

	// Nothing is flushed before the first change, so let it rise first
	// (rise 2 at 30ms); on a slow machine unknown -> down is marked too.
	time.Sleep(300 * time.Millisecond)
	ln.Close()
	sink.waitFor(t, key, 10*time.Second, "down", func(rs []store.ProbeResult) bool {
		return len(rs) > 0 && last(rs).Verdict == health.Down.String()
	})
	listenTCP(t, lnAddr)
	rs := sink.waitFor(t, key, 10*time.Second, "up again", func(rs []store.ProbeResult) bool { return last(rs).Verdict == health.Up.String() })
	// Every result that moved the verdict to or from down, and only those,
	// is marked; the flush tick never came, so kicks carried them all.
	var marks []string
	prev := "unknown"
	for _, r := range rs {
		moved := r.Verdict != prev && (r.Verdict == "down" || prev == "down")
		if r.Changed != moved {
			t.Errorf("result %s -> %s marked Changed=%v", prev, r.Verdict, r.Changed)
		}
		if r.Changed {
			marks = append(marks, r.Verdict)
		}
		prev = r.Verdict
	}
	if got := strings.Join(marks, " "); got != "down up" {
		t.Errorf("changes marked: %q, want %q", got, "down up")
	}
}

func TestVerdictChangedOnlyToOrFromDown(t *testing.T) {
	tr := newTracker(2, 2)
	var got []string
	for _, ok := range []bool{true, true, true, false, false, false, true, true} {
		v, changed := verdict(tr, ok)
		if changed {
			v += "!"
		}
		got = append(got, v)
	}
	want := "unknown up up up down! down down up!"
	if s := strings.Join(got, " "); s != want {
		t.Fatalf("verdicts %q, want %q (unknown -> up changes no answer)", s, want)
	}
}

func verdicts(rs []store.ProbeResult) string {
	s := ""
	for i, r := range rs {
		if i > 0 {
			s += " "
		}
		s += r.Verdict
	}
	return s
}

func TestReloadKeepsAndRemovesTargets(t *testing.T) {
	ln := listenTCP(t, "127.0.0.1:0")
	addr, port := hostPort(t, ln.Addr().String())
	ch := zones.Check{Type: "tcp", Port: port, Interval: ms(30), Timeout: ms(2000), Jitter: ms(1), Rise: 2, Fall: 2}
	keep := service("keep.example.", ch, addr)
	drop := service("drop.example.", ch, addr)
	p, sink, reg := newTestProber(t, testConfig(keep, drop), Options{})
	run(t, p)
	for _, k := range []string{"keep.example./ep0", "drop.example./ep0"} {
		sink.waitFor(t, k, 10*time.Second, k+" up", func(rs []store.ProbeResult) bool { return last(rs).Verdict == health.Up.String() })
	}

	add := service("add.example.", ch, addr)
	cfg := testConfig(service("keep.example.", ch, addr), add) // an equal copy of keep
	p.Reload(cfg)
	reloaded := time.Now()

	rs := sink.waitFor(t, "add.example./ep0", 10*time.Second, "added target up", func(rs []store.ProbeResult) bool { return last(rs).Verdict == health.Up.String() })
	if rs[0].Verdict != health.Unknown.String() {
		t.Errorf("a new target's first verdict is %q, want unknown", rs[0].Verdict)
	}
	kept := after(sink.results("keep.example./ep0"), reloaded)
	if len(kept) == 0 || kept[0].Verdict != health.Up.String() {
		t.Errorf("kept target after reload: %+v, want its first verdict still up (tracker kept)", kept)
	}
	if dropped := after(sink.results("drop.example./ep0"), reloaded); len(dropped) > 0 {
		t.Errorf("removed target probed after the reload: %+v", dropped)
	}
	if _, ok := metricValue(t, reg, "gtm_probe_success", map[string]string{"service": "drop.example."}); ok {
		t.Error("gtm_probe_success of the removed service still exported")
	}
	if v, _ := metricValue(t, reg, "gtm_probe_targets", nil); v != 2 {
		t.Errorf("gtm_probe_targets = %v, want 2", v)
	}

	// A changed check is a new target: its verdict starts over.
	changed := ch
	changed.Rise = 3
	p.Reload(testConfig(service("keep.example.", changed, addr)))
	reloaded = time.Now()
	rs = sink.waitFor(t, "keep.example./ep0", 10*time.Second, "result after change", func(rs []store.ProbeResult) bool { return len(after(rs, reloaded)) > 0 })
	if v := after(rs, reloaded)[0].Verdict; v != health.Unknown.String() {
		t.Errorf("changed check kept its verdict %q, want unknown", v)
	}
}

// after returns the results of probes started after t.
func after(rs []store.ProbeResult, t time.Time) []store.ProbeResult {
	var out []store.ProbeResult
	for _, r := range rs {
		if r.At.After(t) {
			out = append(out, r)
		}
	}
	return out
}

func TestRunStopsWithoutLeaks(t *testing.T) {
	ln := listenTCP(t, "127.0.0.1:0")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	before := runtime.NumGoroutine()

	tcpAddr, tcpPort := hostPort(t, ln.Addr().String())
	httpAddr, httpPort := serverHost(t, srv)
	cfg := testConfig(
		service("tcp.example.", zones.Check{Type: "tcp", Port: tcpPort, Interval: ms(20), Timeout: ms(15)}, tcpAddr),
		service("http.example.", zones.Check{Type: "http", Port: httpPort, Interval: ms(20), Timeout: ms(15)}, httpAddr),
	)
	cfg.Prober.ControlTargets = []string{ln.Addr().String()}
	p, sink, _ := newTestProber(t, cfg, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	sink.waitFor(t, "http.example./ep0", 10*time.Second, "http results", func(rs []store.ProbeResult) bool { return len(rs) >= 3 })
	if err := p.Run(ctx); err == nil {
		t.Error("a second Run did not fail")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	n := len(sink.results(""))
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Run, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if m := len(sink.results("")); m != n {
		t.Errorf("%d results arrived after Run returned", m-n)
	}
}

// flakySink fails while failing is set, and records what it accepts.
type flakySink struct {
	recordSink
	failing atomic.Bool
	failed  atomic.Int64
}

func (s *flakySink) PutResults(ctx context.Context, rs []store.ProbeResult) error {
	if s.failing.Load() {
		s.failed.Add(1)
		return context.DeadlineExceeded
	}
	return s.recordSink.PutResults(ctx, rs)
}

func TestSinkFailureKeepsLatestPerTarget(t *testing.T) {
	ln := listenTCP(t, "127.0.0.1:0")
	addr, port := hostPort(t, ln.Addr().String())
	ch := zones.Check{Type: "tcp", Port: port, Interval: ms(20), Timeout: ms(15), Jitter: ms(1)}
	sink := &flakySink{}
	sink.failing.Store(true)
	cfg := testConfig(service("svc.example.", ch, addr, addr, addr))
	p, _, reg := newTestProber(t, cfg, Options{Sink: sink, FlushInterval: 20 * time.Millisecond})
	run(t, p)

	deadline := time.Now().Add(10 * time.Second)
	for {
		probes, _ := metricValue(t, reg, "gtm_probes_total", map[string]string{"kind": "tcp", "result": "ok"})
		if sink.failed.Load() >= 5 && probes >= 15 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("probing stalled while the sink failed: %v probes, %d failed flushes", probes, sink.failed.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := len(sink.results("")); n != 0 {
		t.Fatalf("failing sink recorded %d results", n)
	}
	if v, _ := metricValue(t, reg, "gtm_probe_sink_errors_total", nil); v < 5 {
		t.Errorf("gtm_probe_sink_errors_total = %v, want >= 5", v)
	}
	sink.failing.Store(false)
	sink.waitFor(t, "", 10*time.Second, "every target after recovery", func(rs []store.ProbeResult) bool {
		keys := map[string]bool{}
		for _, r := range rs {
			keys[r.Key()] = true
		}
		return len(keys) == 3
	})
}

func TestSlowSinkDoesNotBlockProbing(t *testing.T) {
	ln := listenTCP(t, "127.0.0.1:0")
	addr, port := hostPort(t, ln.Addr().String())
	ch := zones.Check{Type: "tcp", Port: port, Interval: ms(10), Timeout: ms(2000), Jitter: ms(1)}
	var calls atomic.Int64
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	stuck := SinkFunc(func(ctx context.Context, rs []store.ProbeResult) error {
		calls.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	p, _, reg := newTestProber(t, testConfig(service("svc.example.", ch, addr)), Options{Sink: stuck, FlushTimeout: time.Hour})
	stop := run(t, p)
	probes := func() float64 {
		v, _ := metricValue(t, reg, "gtm_probes_total", map[string]string{"kind": "tcp", "result": "ok"})
		f, _ := metricValue(t, reg, "gtm_probes_total", map[string]string{"kind": "tcp", "result": "fail"})
		return v + f
	}
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the sink was never called")
		}
		time.Sleep(5 * time.Millisecond)
	}
	hung := probes()
	for probes() < hung+10 {
		if time.Now().After(deadline) {
			t.Fatalf("only %v probes while the sink hung", probes()-hung)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if calls.Load() != 1 {
		t.Errorf("%d sink calls, want 1 (the one hanging)", calls.Load())
	}
	once.Do(func() { close(release) })
	stop()
}
