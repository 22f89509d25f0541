package main

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gtm-project/gtm/internal/gtmtest"
)

// freeUDPTCPPort finds a port free for both UDP and TCP on 127.0.0.1.
func freeUDPTCPPort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 20; i++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		pc.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// TestDemo runs `gtm demo` as a new user would and runs every command it
// prints, comparing what each prints with what the demo says it will.
func TestDemo(t *testing.T) {
	requireTool(t, "dig", "bind9-dnsutils")
	requireTool(t, "curl", "curl")
	bin := gtmtest.Binary(t)
	dnsPort, apiPort := freeUDPTCPPort(t), freeUDPTCPPort(t)
	cmd := exec.Command(bin, "demo", "--dns", fmt.Sprintf("127.0.0.1:%d", dnsPort), "--api", fmt.Sprintf("127.0.0.1:%d", apiPort))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	// Read the printed tour up to "Stop with Ctrl-C."
	type step struct{ cmd, want string }
	var steps []step
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "Stop with") {
			break
		}
		switch {
		case strings.HasPrefix(line, "$ "):
			steps = append(steps, step{cmd: line[2:]})
		case len(steps) > 0 && line != "" && !strings.HasPrefix(line, "#"):
			steps[len(steps)-1].want += line + "\n"
		}
	}
	if len(steps) < 8 {
		t.Fatalf("the demo printed only %d commands", len(steps))
	}
	// Wait until DNS answers and the gateways have been checked (rise 2 at 1s).
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := exec.Command("bash", "-c", steps[0].cmd).Output()
		if string(out) == steps[0].want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo never answered %q with %q", steps[0].cmd, steps[0].want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2500 * time.Millisecond)
	for _, st := range steps {
		c := st.cmd
		if strings.HasPrefix(c, "gtm ") {
			c = bin + c[3:]
		}
		out, err := exec.Command("bash", "-c", c).CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v\n%s", st.cmd, err, out)
			continue
		}
		if st.want != "" && string(out) != st.want {
			t.Errorf("%s\n got: %s want: %s", st.cmd, out, st.want)
		}
		if st.want == "" && !strings.HasPrefix(c, "sleep") && len(out) == 0 {
			t.Errorf("%s printed nothing", st.cmd)
		}
	}
	// gtm explain shows the decision dig gets, for every demo network.
	for _, r := range demoRegions {
		dig, err := exec.Command("dig", "@127.0.0.1", "-p", fmt.Sprint(dnsPort), "api.example.com", "+subnet="+r.ecs, "+short").Output()
		if err != nil {
			t.Fatal(err)
		}
		ex, err := exec.Command(bin, "explain", "api.example.com", "--ecs", r.ecs, "--api", fmt.Sprintf("http://127.0.0.1:%d", apiPort)).CombinedOutput()
		if err != nil {
			t.Fatalf("explain: %v\n%s", err, ex)
		}
		got := strings.TrimSpace(string(dig))
		if got != r.ip || !strings.Contains(string(ex), "IN A "+got) || !strings.Contains(string(ex), "chosen     "+r.name) {
			t.Errorf("%s: dig answers %q; explain says:\n%s", r.ecs, got, ex)
		}
	}
}
