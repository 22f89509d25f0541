package deploy

import (
	"bufio"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireRootTools skips where the test cannot run (not root, or a tool
// missing), unless GTM_REQUIRE_ROOT=1 (CI) makes that a failure.
func requireRootTools(t *testing.T, tools ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, bin := range tools {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "needs " + strings.Join(missing, ", ") + " (apt-get install iproute2 libcap2-bin util-linux bind9-dnsutils)"
	if os.Getenv("GTM_REQUIRE_ROOT") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// TestImageRuntime runs gtm as the container image does, without a
// container engine: the Dockerfile's static build, the binary given
// CAP_NET_BIND_SERVICE as a file capability, run as uid 65532 with no
// other capability, in a network namespace of its own, serving
// examples/quickstart/docker.yaml on port 53.
func TestImageRuntime(t *testing.T) {
	requireRootTools(t, "ip", "setcap", "setpriv", "dig", "go")
	const buildFlags = `CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gtm ./cmd/gtm`
	const capCmd = `setcap cap_net_bind_service=+ep /out/gtm`
	df, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{buildFlags, capCmd, "USER 65532:65532", "COPY examples/quickstart /etc/gtm", `"--config", "/etc/gtm/docker.yaml"`} {
		if !strings.Contains(string(df), want) {
			t.Fatalf("the Dockerfile no longer says %q: update this test with it", want)
		}
	}

	// A directory uid 65532 can read (t.TempDir is root's alone).
	dir, err := os.MkdirTemp("", "gtm-image-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "gtm")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=image-test", "-o", bin, "./cmd/gtm")
	build.Dir = ".."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("static build: %v\n%s", err, out)
	}
	if f, err := elf.Open(bin); err != nil {
		t.Fatal(err)
	} else {
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Fatal("the binary is dynamically linked: distroless/static has no libc")
			}
		}
		f.Close()
	}
	if out, err := exec.Command("setcap", "cap_net_bind_service=+ep", bin).CombinedOutput(); err != nil {
		t.Fatalf("setcap: %v\n%s", err, out)
	}
	etc := filepath.Join(dir, "etc")
	if out, err := exec.Command("cp", "-r", "../examples/quickstart", etc).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	if out, err := exec.Command("chmod", "-R", "a+rX", dir).CombinedOutput(); err != nil {
		t.Fatalf("chmod: %v\n%s", err, out)
	}

	ns := fmt.Sprintf("gtmimage-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v\n%s", err, out)
	}

	cmd := exec.Command("ip", "netns", "exec", ns, "setpriv", "--reuid=65532", "--regid=65532", "--clear-groups", "--inh-caps=-all",
		bin, "serve", "--config", filepath.Join(etc, "docker.yaml"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var all strings.Builder
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), `"dns listening"`) {
				listening <- ""
			}
		}
		listening <- all.String()
	}()
	select {
	case log := <-listening:
		if log != "" {
			t.Fatalf("gtm exited before listening:\n%s", log)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("gtm did not listen within 15s")
	}

	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "Uid:") && strings.Fields(line)[1] != "65532" {
			t.Fatalf("gtm runs as %q, want uid 65532", line)
		}
		if strings.HasPrefix(line, "CapEff:") && strings.Fields(line)[1] != "0000000000000400" {
			t.Errorf("effective capabilities %s, want only CAP_NET_BIND_SERVICE (0x400)", strings.Fields(line)[1])
		}
	}
	out, err := exec.Command("ip", "netns", "exec", ns, "dig", "@127.0.0.1", "-p", "53", "www.example.com", "A", "+short", "+tries=3", "+time=1").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("dig on port 53: %v\n%s", err, out)
	}
	t.Logf("www.example.com from the image-like process: %s", strings.TrimSpace(string(out)))
}
