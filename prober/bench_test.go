package prober

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
)

// The 10,000-target benchmark. It is a test guarded by an environment
// variable rather than a testing.B because what it measures is a rate
// against wall time (probes per second at a 1s interval) and the CPU the
// prober burns for it, which b.N iterations cannot express:
//
//	GTM_PROBER_BENCH=1 go test ./prober -run TestBench10kTCP -v -count=1
//
// The TCP servers run in a child process (this test binary re-executed) so
// that the CPU measured with getrusage(RUSAGE_SELF) is the prober's alone.

// benchListeners listeners, each on its own loopback address, share the
// targets (GTM_PROBER_BENCH_TARGETS, default 10,000).
const benchListeners = 100

func TestBench10kTCP(t *testing.T) {
	if os.Getenv("GTM_PROBER_BENCH") != "1" {
		t.Skip("set GTM_PROBER_BENCH=1 to run the 10,000-target benchmark (~12s)")
	}
	secs := 10
	if s, err := strconv.Atoi(os.Getenv("GTM_PROBER_BENCH_SECONDS")); err == nil && s > 0 {
		secs = s
	}
	targets := 10000
	if n, err := strconv.Atoi(os.Getenv("GTM_PROBER_BENCH_TARGETS")); err == nil && n >= benchListeners {
		targets = n
	}
	perListener := targets / benchListeners
	targets = perListener * benchListeners
	addrs, serverCPU := startBenchServers(t)

	cfg := &zones.Config{
		Node:   zones.Node{Region: "bench", ID: "bench-1"},
		Prober: zones.Prober{Concurrency: zones.DefaultConcurrency, ICMP: "auto"},
	}
	for i, a := range addrs {
		host, port := hostPort(t, a)
		ch := zones.Check{Type: "tcp", Port: port, Interval: zones.Duration(time.Second),
			Timeout: ms(500), Jitter: ms(100), Rise: 2, Fall: 3}
		hosts := make([]string, perListener)
		for j := range hosts {
			hosts[j] = host
		}
		cfg.Services = append(cfg.Services, service("svc"+strconv.Itoa(i)+".example.", ch, hosts...))
	}

	var ok, fail, flushes, rttSum, rttMax atomic.Int64
	sink := SinkFunc(func(_ context.Context, rs []store.ProbeResult) error {
		flushes.Add(1)
		for i := range rs {
			rttSum.Add(int64(rs[i].RTT))
			if int64(rs[i].RTT) > rttMax.Load() {
				rttMax.Store(int64(rs[i].RTT))
			}
			if rs[i].OK {
				ok.Add(1)
			} else {
				fail.Add(1)
			}
		}
		return nil
	})
	reg := prometheus.NewRegistry()
	p, err := New(cfg, Options{Sink: sink, Registerer: reg, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatal(err)
	}
	run(t, p)

	// One interval of warm-up: the start offsets spread the targets over it.
	time.Sleep(1500 * time.Millisecond)
	ok0, fail0 := ok.Load(), fail.Load()
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	psi0 := cpuPressure()
	start := time.Now()
	time.Sleep(time.Duration(secs) * time.Second)
	wall := time.Since(start)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	psi1 := cpuPressure()
	okN, failN := ok.Load()-ok0, fail.Load()-fail0

	cpu := tv(ru1.Utime) - tv(ru0.Utime) + tv(ru1.Stime) - tv(ru0.Stime)
	user := tv(ru1.Utime) - tv(ru0.Utime)
	rate := float64(okN+failN) / wall.Seconds()
	busy, _ := metricValue(t, reg, "gtm_probe_skipped_total", map[string]string{"reason": "busy"})
	late, _ := metricValue(t, reg, "gtm_probe_skipped_total", map[string]string{"reason": "late"})
	t.Logf("targets %d, interval 1s, %.1fs measured", targets, wall.Seconds())
	t.Logf("probes/s %.0f (ok %d, fail %d), sink flushes %d in all, skipped busy %v late %v",
		rate, okN, failN, flushes.Load(), busy, late)
	t.Logf("prober CPU %.2fs in %.2fs wall = %.2f cores (user %.2fs, sys %.2fs) of 2",
		cpu.Seconds(), wall.Seconds(), cpu.Seconds()/wall.Seconds(), user.Seconds(), (cpu - user).Seconds())
	if n := ok.Load() + fail.Load(); n > 0 {
		t.Logf("probe RTT mean %s, max %s", time.Duration(rttSum.Load()/n), time.Duration(rttMax.Load()))
	}
	t.Logf("server process CPU over its whole life: %s", serverCPU())
	if psi0 >= 0 && psi1 >= 0 {
		// The machine is shared: say how much something (anything) waited
		// for a CPU meanwhile, so a low rate can be told from a slow prober.
		t.Logf("machine CPU pressure (PSI some) %.0f%% of the time; load average %s",
			100*(psi1-psi0).Seconds()/wall.Seconds(), loadAverage())
	}
	if rate < 0.95*float64(targets) {
		t.Errorf("%.0f probes/s, want about %d", rate, targets)
	}
	if failN > 0 {
		t.Errorf("%d probes failed on loopback", failN)
	}
}

// cpuPressure is the total time some task waited for a CPU
// (/proc/pressure/cpu), or -1.
func cpuPressure() time.Duration {
	b, err := os.ReadFile("/proc/pressure/cpu")
	if err != nil {
		return -1
	}
	for _, f := range strings.Fields(string(b)) {
		if v, ok := strings.CutPrefix(f, "total="); ok {
			us, err := strconv.ParseInt(v, 10, 64)
			if err == nil {
				return time.Duration(us) * time.Microsecond
			}
		}
	}
	return -1
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func tv(t syscall.Timeval) time.Duration {
	return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
}

// startBenchServers runs TestBenchServerHelper in a child process and
// returns its listener addresses, and a function that stops it and reports
// its CPU use.
func startBenchServers(t *testing.T) ([]string, func() string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchServerHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GTM_PROBER_BENCH_SERVER=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var stopped bool
	stop := func() string {
		if stopped {
			return ""
		}
		stopped = true
		stdin.Close()
		_ = cmd.Wait()
		if st := cmd.ProcessState; st != nil {
			u, s := st.UserTime(), st.SystemTime()
			return fmt.Sprintf("%.2fs (user %.2fs, sys %.2fs)", (u + s).Seconds(), u.Seconds(), s.Seconds())
		}
		return "unknown"
	}
	t.Cleanup(func() { stop() })

	var addrs []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if a, ok := strings.CutPrefix(line, "ADDR "); ok {
			addrs = append(addrs, a)
		}
		if line == "READY" {
			break
		}
	}
	if len(addrs) != benchListeners {
		t.Fatalf("server helper gave %d addresses, want %d", len(addrs), benchListeners)
	}
	go func() {
		for sc.Scan() { // drain the rest of the helper's output
		}
	}()
	return addrs, stop
}

// TestBenchServerHelper is the benchmark's server process: listeners on
// 127.0.1.1 .. 127.0.1.100 (all of 127/8 is local on Linux, and distinct
// addresses keep 4-tuples apart) that accept and close, until stdin closes.
func TestBenchServerHelper(t *testing.T) {
	if os.Getenv("GTM_PROBER_BENCH_SERVER") != "1" {
		t.Skip("the benchmark's server process")
	}
	for i := range benchListeners {
		// No keep-alive on accepted connections: four setsockopt calls each
		// that would only load the shared 2 cores.
		lc := net.ListenConfig{KeepAlive: -1}
		ln, err := lc.Listen(context.Background(), "tcp", fmt.Sprintf("127.0.1.%d:0", i+1))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		fmt.Println("ADDR " + ln.Addr().String())
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	fmt.Println("READY")
	_, _ = bufio.NewReader(os.Stdin).ReadString(0)
}

// BenchmarkProbeOnceTCP is the cost of one TCP probe of a loopback
// listener, result, verdict and metrics included (the server's accept loop
// runs in this process too).
func BenchmarkProbeOnceTCP(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	ap := ln.Addr().(*net.TCPAddr)
	cfg := &zones.Config{Node: zones.Node{Region: "bench", ID: "b"}, Services: []*zones.Service{
		service("svc.example.", zones.Check{Type: "tcp", Port: ap.Port}, "127.0.0.1"),
	}}
	p, err := New(cfg, Options{Sink: &recordSink{}, Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	tg := p.targets["svc.example./ep0"]
	b.ReportAllocs()
	for b.Loop() {
		if r, _ := p.probeOnce(context.Background(), tg); !r.OK {
			b.Fatalf("probe failed: %+v", r)
		}
	}
}

// BenchmarkSchedulerTick10k is the scheduler's cost per tick with 10,000
// targets in the heap: one advance and heap fix.
func BenchmarkSchedulerTick10k(b *testing.B) {
	s := &scheduler{rnd: rand.New(rand.NewPCG(1, 2))}
	now := time.Unix(1000, 0)
	ts := schedTargets(10000, time.Second, 100*time.Millisecond)
	s.adopt(ts, now)
	b.ReportAllocs()
	for b.Loop() {
		t := s.next()
		s.advance(t, t.due)
	}
}
