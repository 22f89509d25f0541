//go:build e2e && linux

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// world is the running test world: namespaces, the WAN, Redis, a gtm
// node per region and the client watches.
type world struct {
	t   *testing.T
	tp  *topology
	dir string
	gtm string // binaries
	wan string

	wanProc *proc
	ctlHTTP *http.Client
	redis   *proc

	mu    sync.Mutex
	nodes map[string]*proc
	procs []*proc // every process started, restarts included

	watches []*watch
	extra   []string // records added to the zone by edits so far
	res     *results
	start   time.Time
	slack   time.Duration // GTM_E2E_BOUND_SLACK
}

// requireRoot skips the suite where it cannot run, unless
// GTM_REQUIRE_ROOT=1 (CI) makes that a failure.
func requireRoot(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (network namespaces, TUN devices, setns)")
	}
	for _, bin := range []string{"ip", "redis-server", "go"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		missing = append(missing, "/dev/net/tun")
	}
	if len(missing) == 0 {
		return
	}
	msg := "the e2e suite needs " + strings.Join(missing, ", ") +
		": run it as root (sudo -E make e2e) with iproute2 and redis-server installed"
	if os.Getenv("GTM_REQUIRE_ROOT") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// newWorld builds the world and registers its teardown (which also runs
// after a failure): processes are stopped by PID, then the namespaces
// are deleted.
func newWorld(t *testing.T) *world {
	requireRoot(t)
	w := &world{t: t, tp: defaultTopology(), nodes: map[string]*proc{}, res: &results{}, start: time.Now()}
	w.dir = os.Getenv("GTM_E2E_DIR")
	if w.dir == "" {
		w.dir = t.TempDir()
	} else if err := os.MkdirAll(w.dir, 0o755); err != nil {
		t.Fatal(err)
	} else {
		// A kept directory must not hand this run the last one's state.
		old, _ := filepath.Glob(filepath.Join(w.dir, "state-*.json"))
		logs, _ := filepath.Glob(filepath.Join(w.dir, "*.log"))
		for _, f := range append(old, logs...) {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("world files and process logs: %s", w.dir)
	if v := os.Getenv("GTM_E2E_BOUND_SLACK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			t.Fatalf("GTM_E2E_BOUND_SLACK=%q: want a duration such as 500ms", v)
		}
		w.slack = d
	}
	w.checkWANFile()
	w.build()
	if err := w.tp.writeConfigs(w.dir); err != nil {
		t.Fatal(err)
	}

	// Namespaces: stale ones of an earlier, killed run go first.
	deleteNamespaces(t, staleNamespaces(t))
	names := w.tp.netnsNames()
	t.Cleanup(func() { deleteNamespaces(t, names) })
	// Runs after every process has stopped (cleanups run last-in first-out),
	// so their output is complete: a race-built gtm (GTM_E2E_RACE=1) that
	// reported a data race fails the suite.
	t.Cleanup(w.checkRaces)
	for _, n := range names {
		if out, err := exec.Command("ip", "netns", "add", n).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add %s: %v: %s", n, err, out)
		}
	}

	// The WAN, with its gateways.
	sock := filepath.Join(w.dir, "wan.sock")
	w.wanProc = startProc(t, "gtm-wan", filepath.Join(w.dir, "gtm-wan.log"), "", w.wan,
		"--config", filepath.Join(w.dir, "wan.yaml"), "--control", "unix:"+sock)
	w.track(w.wanProc)
	if _, err := w.wanProc.waitLog(30*time.Second, "ready", 0); err != nil {
		t.Fatalf("%v\n%s", err, w.wanProc.tail(20))
	}
	w.ctlHTTP = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}

	// Redis in the primary region, on its node's address.
	p := w.tp.region(primary)
	w.redis = startProc(t, "redis", filepath.Join(w.dir, "redis.log"), nsPrefix+p.dnsSite(), "redis-server",
		"--port", "6379", "--bind", p.nodeAddr().String(), "--save", "", "--appendonly", "no",
		"--protected-mode", "no", "--dir", w.dir)
	w.track(w.redis)
	if _, err := w.redis.waitLog(10*time.Second, "Ready to accept connections", 0); err != nil {
		t.Fatalf("%v\n%s", err, w.redis.tail(20))
	}

	for _, r := range w.tp.regions {
		w.startNode(r)
	}
	t.Cleanup(func() {
		if t.Failed() {
			w.dumpLogs()
		}
	})

	// Every client network watches every node.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for _, c := range w.tp.clients {
		var ecs netip.Prefix // the zero Prefix: no ECS option
		if c.ecs {
			ecs = c.prefix()
		}
		for _, r := range w.tp.regions {
			res, err := newResolver(nsPrefix+c.name, c.addr().String(), r.nodeAP(), ecs)
			if err != nil {
				t.Fatal(err)
			}
			wa := &watch{client: c, node: r}
			w.watches = append(w.watches, wa)
			wg.Go(func() { wa.run(ctx, w.tp, res) })
		}
	}
	return w
}

// build compiles gtm and gtm-wan (with -race when GTM_E2E_RACE=1).
func (w *world) build() {
	root, err := moduleRoot()
	if err != nil {
		w.t.Fatal(err)
	}
	bin := filepath.Join(w.dir, "bin")
	w.gtm, w.wan = filepath.Join(bin, "gtm"), filepath.Join(bin, "gtm-wan")
	for out, pkg := range map[string]string{w.gtm: "./cmd/gtm", w.wan: "./cmd/gtm-wan"} {
		args := []string{"build", "-o", out}
		if os.Getenv("GTM_E2E_RACE") == "1" {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, pkg)...)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			w.t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
	}
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		dir = parent
	}
}

// checkWANFile keeps testdata/wan.yaml, the world as documented, equal to
// the world the suite builds (GTM_E2E_UPDATE=1 rewrites it).
func (w *world) checkWANFile() {
	want := w.tp.wanConfig()
	path := filepath.Join("testdata", "wan.yaml")
	if os.Getenv("GTM_E2E_UPDATE") == "1" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			w.t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, []byte(want)) {
		w.t.Errorf("%s differs from the world the suite builds (%v); run once with GTM_E2E_UPDATE=1", path, err)
	}
}

// staleNamespaces lists namespaces with the suite's prefix.
func staleNamespaces(t *testing.T) []string {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], nsPrefix) {
			names = append(names, f[0])
		}
	}
	return names
}

// deleteNamespaces deletes the suite's namespaces. Processes still in them
// (left by a run that was killed: they are the suite's own) are killed by
// PID first, or they would keep a detached namespace alive.
func deleteNamespaces(t *testing.T, names []string) {
	for _, n := range names {
		if _, err := os.Stat(filepath.Join("/var/run/netns", n)); err != nil {
			continue
		}
		if out, err := exec.Command("ip", "netns", "pids", n).Output(); err == nil {
			for _, f := range strings.Fields(string(out)) {
				if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
					t.Logf("killing pid %d left in namespace %s", pid, n)
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if out, err := exec.Command("ip", "netns", "del", n).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", n, err, out)
		}
	}
}

// startNode starts region r's gtm node and waits until it listens.
func (w *world) startNode(r *region) *proc {
	w.t.Helper()
	p, err := launch("gtm-"+r.name, filepath.Join(w.dir, "gtm-"+r.name+".log"), nsPrefix+r.dnsSite(), w.gtm,
		"serve", "--config", filepath.Join(w.dir, "gtm-"+r.name+".yaml"), "--log-level", "info")
	if err != nil {
		w.t.Fatalf("start gtm-%s: %v", r.name, err)
	}
	w.t.Cleanup(p.stop)
	w.track(p)
	w.mu.Lock()
	w.nodes[r.name] = p
	w.mu.Unlock()
	for _, msg := range []string{"dns listening", "http listening"} {
		if _, err := p.waitLog(15*time.Second, msg, 0); err != nil {
			w.t.Fatalf("%v\n%s", err, p.tail(30))
		}
	}
	return p
}

// track remembers p for checkRaces.
func (w *world) track(p *proc) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.procs = append(w.procs, p)
}

// checkRaces fails the test for every process that reported a data race.
func (w *world) checkRaces() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.procs {
		if report := p.find("WARNING: DATA RACE", 12); report != "" {
			w.t.Errorf("%s reported a data race (whole log: %s):\n%s", p.name, p.logPath, report)
		}
	}
}

func (w *world) node(r string) *proc {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.nodes[r]
}

// ctl calls the WAN's control API.
func (w *world) ctl(path string) error {
	resp, err := w.ctlHTTP.Post("http://wan"+path, "", nil)
	if err != nil {
		return fmt.Errorf("gtm-wan %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("gtm-wan %s: %s %s", path, resp.Status, b)
	}
	return nil
}

// api calls region r's node API from inside its namespace.
func (w *world) api(r *region, method, path, body string) (int, []byte, error) {
	req, err := http.NewRequest(method, "http://"+apiAddr+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "text/dns")
	}
	resp, err := httpIn(nsPrefix + r.dnsSite()).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// localResolver asks region r's node from inside its own namespace, so
// a timing taken with it holds no WAN delay.
func (w *world) localResolver(r *region) (*resolver, error) {
	return newResolver(nsPrefix+r.dnsSite(), r.nodeAddr().String(), r.nodeAP(), netip.Prefix{})
}

// dumpLogs prints the end of every process's log after a failure.
func (w *world) dumpLogs() {
	procs := []*proc{w.wanProc, w.redis}
	w.mu.Lock()
	for _, r := range w.tp.regions {
		procs = append(procs, w.nodes[r.name])
	}
	w.mu.Unlock()
	for _, p := range procs {
		if p != nil {
			w.t.Logf("--- last lines of %s (%s):\n%s", p.name, p.logPath, p.tail(25))
		}
	}
}

// watchesWhere selects watches.
func (w *world) watchesWhere(f func(*watch) bool) []*watch {
	var out []*watch
	for _, wa := range w.watches {
		if f(wa) {
			out = append(out, wa)
		}
	}
	return out
}

// steady is the answer of the undisturbed world: the client's lowest-RTT
// region, all of its gateways.
func (w *world) steady(wa *watch) string {
	return regionAnswer(wa.client.byRTT(w.tp.regions)[0])
}
