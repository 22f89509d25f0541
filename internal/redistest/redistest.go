// Package redistest starts real redis-server processes for tests: a
// standalone server, a Sentinel setup (master, replica, three sentinels) or
// a three-master Cluster, each on free loopback ports, each process killed
// by its PID when the test ends.
//
// It never touches a Redis it did not start (in particular not the one on
// 127.0.0.1:6379). Where redis-server is not installed, tests are skipped,
// unless GTM_REQUIRE_REDIS=1 makes that a failure (CI sets it).
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gtm-project/gtm/internal/testpki"
)

// RequireEnv makes a missing redis-server fail tests instead of skipping
// them.
const RequireEnv = "GTM_REQUIRE_REDIS"

// startTimeout bounds how long a server may take to answer PING; an empty
// redis-server is ready in a few milliseconds.
const startTimeout = 10 * time.Second

// Server is one redis-server process (a plain server, a replica or a
// sentinel) that a test started.
type Server struct {
	// Addr is "127.0.0.1:<Port>".
	Addr string
	Port int
	// TLSAddr is the TLS listener of a server from StartTLS ("" otherwise).
	TLSAddr string

	t    testing.TB
	bin  string
	dir  string   // the test's temp dir; each run gets its own subdir
	args []string // everything but --port and --dir
	conf string   // sentinel config file, written anew on every start

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	runs int
}

// binary finds a program or skips (or fails) the test.
func binary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := name + " not found: apt-get install redis-server"
	if os.Getenv(RequireEnv) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Start runs an empty redis-server on a free loopback port, with no
// persistence, and waits until it answers PING. Extra arguments are passed
// on (e.g. "--requirepass", "secret").
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	args := append([]string{"--save", "", "--appendonly", "no"}, extra...)
	return startServer(t, args, "")
}

// StartTLS is Start with a TLS listener too (Server.TLSAddr), using pki's
// server certificate and requiring client certificates signed by its CA
// (redis-server's default, tls-auth-clients yes). The plain port stays
// open for the test's own checks.
func StartTLS(t testing.TB, pki *testpki.PKI, extra ...string) *Server {
	t.Helper()
	port := freePort(t)
	args := append([]string{"--tls-port", strconv.Itoa(port), "--tls-cert-file", pki.ServerCert,
		"--tls-key-file", pki.ServerKey, "--tls-ca-cert-file", pki.CACert}, extra...)
	s := Start(t, args...)
	s.TLSAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return s
}

// startServer starts a process, picking a new port when the first one was
// taken between probing and binding.
func startServer(t testing.TB, args []string, sentinelConf string) *Server {
	t.Helper()
	s := &Server{t: t, bin: binary(t, "redis-server"), dir: t.TempDir(), args: args, conf: sentinelConf}
	t.Cleanup(s.Kill)
	var err error
	for range 5 {
		s.Port = freePort(t)
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
		if err = s.start(); err == nil {
			return s
		}
	}
	t.Fatalf("redistest: start redis-server: %v", err)
	return nil
}

// start launches the process on s.Port in a fresh directory and waits for
// it to answer.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("already running")
	}
	s.runs++
	dir := filepath.Join(s.dir, fmt.Sprintf("run%d", s.runs))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var args []string
	if s.conf != "" {
		// A sentinel rewrites its config file, so each run gets a fresh copy.
		conf := filepath.Join(dir, "sentinel.conf")
		text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\n%s", s.Port, dir, s.conf)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			return err
		}
		args = []string{conf, "--sentinel"}
	} else {
		args = append([]string{"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1", "--dir", dir}, s.args...)
	}
	logPath := filepath.Join(dir, "redis.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done

	deadline := time.Now().Add(startTimeout)
	for {
		if ping(s.Addr) {
			return nil
		}
		select {
		case <-done:
			s.cmd, s.done = nil, nil
			return fmt.Errorf("redis-server on port %d exited: %s", s.Port, tail(logPath))
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			s.cmd, s.done = nil, nil
			return fmt.Errorf("redis-server on port %d did not answer PING in %v: %s", s.Port, startTimeout, tail(logPath))
		}
		time.Sleep(5 * time.Millisecond) // polling interval, bounded by the deadline
	}
}

// stop signals the process and waits for it to exit.
func (s *Server) stop(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd, s.done = nil, nil
}

// Stop shuts the server down (SIGTERM); with persistence off it saves
// nothing.
func (s *Server) Stop() { s.stop(syscall.SIGTERM) }

// Kill ends the server at once (SIGKILL), as a crash would.
func (s *Server) Kill() { s.stop(syscall.SIGKILL) }

// Restart stops the server if it runs and starts it again on the same
// port, EMPTY: what a Redis without persistence looks like after a crash.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatalf("redistest: restart redis-server on %s: %v", s.Addr, err)
	}
}

// Running reports whether the process is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// PID is the process id (0 when not running).
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before redis-server binds it; Start then tries another.
func freePort(t testing.TB) int {
	t.Helper()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("redistest: no free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if port != 6379 && port != 26379 { // never the machine's own Redis or Sentinel
			return port
		}
	}
}

// ping sends PING over a fresh connection and reports whether any reply
// came: an error reply (NOAUTH) also proves the server is up.
func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && (strings.HasPrefix(line, "+") || strings.HasPrefix(line, "-"))
}

// tail returns the end of a log file for error messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}
