//go:build e2e && linux

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a process the suite started (inside a namespace through
// `ip netns exec`, which execs the program: the PID is the program's).
// Its output goes to a log file and is kept for WaitLog. Cleanups stop it
// by PID. (No Pdeathsig: it fires when the forking OS thread exits, not
// the process, golang/go#27505, and would kill nodes at random; stale
// namespaces and their processes are cleared at the next start.)
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	started time.Time

	mu     sync.Mutex
	lines  []string
	times  []time.Time // when each line was read
	notify chan struct{}
	done   chan struct{}
	err    error
}

// startProc runs bin with args inside namespace ns ("" for none).
func startProc(t *testing.T, name, logPath, ns, bin string, args ...string) *proc {
	t.Helper()
	p, err := launch(name, logPath, ns, bin, args...)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { p.stop() })
	return p
}

func launch(name, logPath, ns, bin string, args ...string) (*proc, error) {
	argv := append([]string{bin}, args...)
	if ns != "" {
		argv = append([]string{"ip", "netns", "exec", ns}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &proc{name: name, cmd: cmd, logPath: logPath, notify: make(chan struct{}, 1), done: make(chan struct{})}
	fmt.Fprintf(logf, "=== %s: %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(argv, " "))
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			p.mu.Lock()
			p.lines = append(p.lines, line)
			p.times = append(p.times, time.Now())
			p.mu.Unlock()
			select {
			case p.notify <- struct{}{}:
			default:
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		err := cmd.Wait()
		pw.Close()
		<-readDone
		fmt.Fprintf(logf, "=== %s: exited: %v\n", time.Now().Format(time.RFC3339Nano), err)
		logf.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// waitLog waits for a JSON log line whose message is msg (or, for
// programs that do not log JSON, a line containing msg), among lines from
// index from, and returns its fields; "_read" holds the time.Time the
// line was read.
func (p *proc) waitLog(d time.Duration, msg string, from int) (map[string]any, error) {
	deadline := time.After(d)
	for {
		p.mu.Lock()
		for i := min(from, len(p.lines)); i < len(p.lines); i++ {
			l := p.lines[i]
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["message"] == msg {
				m["_read"] = p.times[i]
				p.mu.Unlock()
				return m, nil
			}
			if m == nil && strings.Contains(l, msg) {
				p.mu.Unlock()
				return map[string]any{"line": l, "_read": p.times[i]}, nil
			}
		}
		p.mu.Unlock()
		select {
		case <-p.notify:
		case <-time.After(50 * time.Millisecond):
		case <-p.done:
			return nil, fmt.Errorf("%s exited (%v) before logging %q", p.name, p.err, msg)
		case <-deadline:
			return nil, fmt.Errorf("%s did not log %q within %s", p.name, msg, d)
		}
	}
}

// tail is the last n lines of output.
func (p *proc) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines[max(0, len(p.lines)-n):], "\n")
}

// find returns the first line containing s and the n lines after it, or
// "" when no line does.
func (p *proc) find(s string, n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, l := range p.lines {
		if strings.Contains(l, s) {
			return strings.Join(p.lines[i:min(i+1+n, len(p.lines))], "\n")
		}
	}
	return ""
}

// running reports whether the process has not exited.
func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, waits up to 10 s, then kills. Only this PID.
func (p *proc) stop() {
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill ends the process at once, as a crash would.
func (p *proc) kill() {
	if p.running() {
		_ = p.cmd.Process.Kill()
	}
	<-p.done
}
