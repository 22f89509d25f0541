// Package gtmtest runs real gtm processes for tests: it builds the binary
// once, starts `gtm serve` on free loopback ports, and reads the addresses
// it bound from its JSON log.
package gtmtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// build is one binary built once per test process.
type build struct {
	once sync.Once
	path string
	err  error
}

var raceBuild, plainBuild build

// Binary builds ./cmd/gtm (with -race) once per test process and returns
// its path.
func Binary(t testing.TB) string {
	t.Helper()
	return raceBuild.get(t, "-race")
}

// PlainBinary builds ./cmd/gtm without -race, as it ships, once per test
// process: for tests that measure the process's memory, which the race
// detector's shadow memory would multiply several times.
func PlainBinary(t testing.TB) string {
	t.Helper()
	return plainBuild.get(t)
}

func (b *build) get(t testing.TB, flags ...string) string {
	t.Helper()
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "gtm-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "gtm")
		root, err := moduleRoot()
		if err != nil {
			b.err = err
			return
		}
		args := append(append([]string{"build"}, flags...), "-o", b.path, "./cmd/gtm")
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
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

// Proc is a running gtm process.
type Proc struct {
	t      testing.TB
	cmd    *exec.Cmd
	DNS    string // host:port of the first DNS listener
	API    string // host:port of the HTTP listener
	mu     sync.Mutex
	lines  []map[string]any
	raw    []string
	notify chan struct{}
	done   chan struct{}
	err    error
}

// Start runs `gtm serve --config cfg` plus extra args and waits until DNS
// and HTTP listen. The process is stopped at the end of the test.
func Start(t testing.TB, cfg string, extra ...string) *Proc {
	t.Helper()
	return StartBinary(t, Binary(t), cfg, extra...)
}

// StartBinary is Start with the gtm binary at bin (PlainBinary).
func StartBinary(t testing.TB, bin, cfg string, extra ...string) *Proc {
	t.Helper()
	args := append([]string{"serve", "--config", cfg, "--log-level", "debug"}, extra...)
	return start(t, exec.Command(bin, args...))
}

// StartWithFileLimit is Start with the process's open file limit, soft
// and hard, set to n (sh's ulimit -n), so gtm cannot raise it.
func StartWithFileLimit(t testing.TB, n int, cfg string, extra ...string) *Proc {
	t.Helper()
	args := append([]string{"-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, n), Binary(t),
		"serve", "--config", cfg, "--log-level", "debug"}, extra...)
	return start(t, exec.Command("sh", args...))
}

func start(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	p := &Proc{t: t, cmd: cmd, notify: make(chan struct{}, 1), done: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go p.read(stderr)
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.Stop() })
	p.DNS = p.WaitLog(10*time.Second, "dns listening")["addr"].(string)
	p.API = p.WaitLog(10*time.Second, "http listening")["addr"].(string)
	return p
}

func (p *Proc) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		line := sc.Text()
		_ = json.Unmarshal([]byte(line), &m)
		p.mu.Lock()
		p.raw = append(p.raw, line)
		if m != nil {
			p.lines = append(p.lines, m)
		}
		p.mu.Unlock()
		select {
		case p.notify <- struct{}{}:
		default:
		}
	}
}

// WaitLog waits for a log line with message msg (after any seen before)
// and returns its fields.
func (p *Proc) WaitLog(d time.Duration, msg string) map[string]any {
	p.t.Helper()
	return p.WaitLogAfter(d, msg, 0)
}

// LogCount is how many log lines have been read so far.
func (p *Proc) LogCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// WaitLogAfter waits for a line with message msg among lines from index from.
func (p *Proc) WaitLogAfter(d time.Duration, msg string, from int) map[string]any {
	p.t.Helper()
	deadline := time.After(d)
	for {
		p.mu.Lock()
		for _, l := range p.lines[min(from, len(p.lines)):] {
			if l["message"] == msg {
				p.mu.Unlock()
				return l
			}
		}
		p.mu.Unlock()
		select {
		case <-p.notify:
		case <-time.After(50 * time.Millisecond):
		case <-p.done:
			p.t.Fatalf("gtm exited (%v) before logging %q; log:\n%s", p.err, msg, p.Log())
		case <-deadline:
			p.t.Fatalf("gtm did not log %q within %s; log:\n%s", msg, d, p.Log())
		}
	}
}

// Log is everything the process wrote to stderr.
func (p *Proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.raw, "\n")
}

// PID is the process's id (for /proc/PID/status in memory watchdogs).
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// Stop sends SIGTERM and waits up to 10s (then kills). It returns the exit error.
func (p *Proc) Stop() error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return p.err
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Kill ends the process at once (SIGKILL), as a crash would.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Query asks the process's DNS listener over UDP.
func (p *Proc) Query(name string, qtype uint16) (*dns.Msg, error) {
	return Query(p.DNS, "udp", name, qtype)
}

// Query asks addr one question over net ("udp" or "tcp").
func Query(addr, net, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(1232, false)
	c := &dns.Client{Net: net, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, addr)
	return r, err
}

// Get fetches path from the process's HTTP listener and returns the body.
func (p *Proc) Get(path string) (int, string, error) {
	resp, err := http.Get("http://" + p.API + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
