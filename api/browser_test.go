package api

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// needChromium skips the test when Chromium is missing, unless
// GTM_REQUIRE_TOOLS=1 (CI), where a missing tool is a failure.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err == nil {
		return
	}
	msg := chromiumPath + " not found: install the Debian package chromium (apt-get install -y chromium)"
	if os.Getenv("GTM_REQUIRE_TOOLS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// uiRunning starts a real api.Server with the status page on 127.0.0.1:0
// and returns its base URL; the server stops when the test ends.
func uiRunning(t *testing.T, data func() UIData) string {
	t.Helper()
	s := New("127.0.0.1:0", prometheus.NewRegistry(), nil, zerolog.Nop())
	s.HandleUI(data)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	select {
	case <-s.Started():
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start within 10s")
	}
	return "http://" + s.Bound().String()
}

// chromium runs headless Chromium with args (after the common flags) and
// returns its standard output. The flags keep it from contacting anything
// but the page it is given (no updates, sync, QUIC or background fetches),
// and its profile lives in a temporary directory.
func chromium(t *testing.T, args ...string) []byte {
	t.Helper()
	profile := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromiumPath, append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--no-proxy-server", "--disable-dev-shm-usage",
		"--user-data-dir=" + profile,
	}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+profile)
	// Chromium forks renderers and helpers: run it in its own process group
	// so a timeout ends all of it, and nothing else.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("chromium timed out; stderr:\n%s", stderr.String())
		}
		t.Fatalf("chromium: %v; stderr:\n%s", err, stderr.String())
	}
	return stdout.Bytes()
}

// TestBrowserShowsStatusPage loads the status page from a running server
// in headless Chromium and checks the DOM the browser built: the regions,
// the endpoints and their states.
func TestBrowserShowsStatusPage(t *testing.T) {
	needChromium(t)
	url := uiRunning(t, uiSample)
	dom := string(chromium(t, "--dump-dom", url+"/"))

	regions := map[string]string{}
	for _, e := range uiAttrs(t, dom, "id") {
		if name, ok := strings.CutPrefix(e.attr["id"], "region-"); ok {
			regions[name] = e.attr["data-state"] + " " + e.text
		}
	}
	for name, want := range map[string]string{"eu-west": "up eu-west up", "us-east": "out us-east out", "ap-southeast": "drained ap-southeast drained"} {
		if !strings.HasPrefix(regions[name], want) {
			t.Errorf("region %s: browser shows %q, want it to start with %q", name, regions[name], want)
		}
	}

	eps := map[string]string{}
	for _, e := range uiAttrs(t, dom, "data-endpoint") {
		eps[e.attr["data-endpoint"]] = e.text
	}
	for name, want := range map[string]string{
		"gw-eu-1": "gw-eu-1 eu-west / 1 203.0.113.10 up",
		"gw-us-1": "gw-us-1 us-east / 1 198.51.100.10 down",
		"gw-ap-1": "gw-ap-1 ap-southeast / 1 192.0.2.10 up drained",
		"stable":  "stable eu-west / 2 203.0.113.30 up",
	} {
		if !strings.HasPrefix(eps[name], want) {
			t.Errorf("endpoint %s: browser shows %q, want it to start with %q", name, eps[name], want)
		}
	}

	banners := map[string]string{}
	for _, e := range uiAttrs(t, dom, "id") {
		banners[e.attr["id"]] = e.text
	}
	if b := banners["problems"]; !strings.Contains(b, "region us-east OUT") || !strings.Contains(b, "prober p-us-1 (us-east) impaired") {
		t.Errorf("problem banner %q lacks the outage or the impaired prober", b)
	}
	if b := banners["notices"]; !strings.Contains(b, "region ap-southeast drained") {
		t.Errorf("notice banner %q lacks the drained region", b)
	}
	if strings.Contains(dom, "<script>alert") {
		t.Error("markup from a reason was parsed as a script")
	}
}

// TestBrowserScreenshot renders the page to a PNG (kept in
// $GTM_SCREENSHOT_DIR when set) and checks it is a real picture of the
// page, not a blank window.
func TestBrowserScreenshot(t *testing.T) {
	needChromium(t)
	url := uiRunning(t, uiSample)
	file := filepath.Join(t.TempDir(), "gtm-status.png")
	chromium(t, "--screenshot="+file, "--window-size=1280,900", "--hide-scrollbars", url+"/?refresh=0")

	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if r := img.Bounds(); r.Dx() != 1280 || r.Dy() != 900 {
		t.Errorf("screenshot is %dx%d, want 1280x900", r.Dx(), r.Dy())
	}
	// A rendered page has text, badges and table lines: many colours. A
	// blank or error page has a handful.
	colours := map[uint32]bool{}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y += 3 {
		for x := r.Min.X; x < r.Max.X; x += 3 {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			colours[cr>>8<<16|cg>>8<<8|cb>>8] = true
		}
	}
	if len(colours) < 50 {
		t.Errorf("screenshot has %d colours; looks blank", len(colours))
	}
	if dir := os.Getenv("GTM_SCREENSHOT_DIR"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "gtm-status.png")
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot written to %s", out)
	}
}
