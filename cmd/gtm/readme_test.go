package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gtm-project/gtm/internal/gtmtest"
	"github.com/gtm-project/gtm/internal/redistest"
)

// requireTool skips when a command-line tool is missing, unless
// GTM_REQUIRE_TOOLS=1 (set by .ci/run), where it fails.
func requireTool(t *testing.T, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("GTM_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s not found (GTM_REQUIRE_TOOLS=1): apt-get install %s", name, pkg)
		}
		t.Skipf("%s not found: apt-get install %s", name, pkg)
	}
}

type tourStep struct{ cmd, want string }

// readmeTour reads the "$ command" / output pairs of the README's Quick
// tour section.
func readmeTour(t *testing.T) []tourStep {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	start := strings.Index(s, "## Quick tour")
	if start < 0 {
		t.Fatal("README has no Quick tour section")
	}
	s = s[start:]
	s = s[:strings.Index(s[3:], "\n## ")+3]
	block := regexp.MustCompile("(?s)```console\n(.*?)```").FindStringSubmatch(s)
	if block == nil {
		t.Fatal("Quick tour has no console block")
	}
	var steps []tourStep
	for _, line := range strings.Split(block[1], "\n") {
		switch {
		case strings.HasPrefix(line, "$ "):
			steps = append(steps, tourStep{cmd: line[2:]})
		case len(steps) > 0 && line != "":
			steps[len(steps)-1].want += line + "\n"
		}
	}
	return steps
}

// TestReadmeTour runs every command of the README's tour against the
// quickstart config and compares the output exactly.
func TestReadmeTour(t *testing.T) {
	requireTool(t, "dig", "bind9-dnsutils")
	steps := readmeTour(t)
	if len(steps) < 5 {
		t.Fatalf("only %d tour steps found", len(steps))
	}
	// The quickstart as written, but on free ports.
	dir := t.TempDir()
	for _, f := range []string{"gtm.yaml", "example.com.zone", "extra.zone"} {
		b, err := os.ReadFile(filepath.Join("../../examples/quickstart", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "gtm.yaml" {
			b = []byte(strings.NewReplacer(`"127.0.0.1:5353"`, `"127.0.0.1:0"`, "listen: 127.0.0.1:8053", "listen: 127.0.0.1:0").Replace(string(b)))
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := gtmtest.Start(t, filepath.Join(dir, "gtm.yaml"))
	port := p.DNS[strings.LastIndex(p.DNS, ":")+1:]
	for _, st := range steps {
		cmd := strings.ReplaceAll(st.cmd, "-p 5353", "-p "+port)
		out, err := exec.Command("bash", "-c", cmd).Output()
		if err != nil {
			t.Errorf("%s: %v", st.cmd, err)
			continue
		}
		if string(out) != st.want {
			t.Errorf("%s\n got:\n%s want:\n%s", st.cmd, out, st.want)
		}
	}
}

// TestReadmeDocumentsEveryMetric: every gtm_ metric a node exports (here
// with Redis state, a prober and the quickstart's services) is in the
// README's metric tables, so operators can look up what they scrape.
func TestReadmeDocumentsEveryMetric(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(gtm_[a-z0-9_]+)`").FindAllStringSubmatch(string(b), -1) {
		documented[m[1]] = true
	}
	r := redistest.Start(t)
	w := newWorld(t, fmt.Sprintf("{addrs: [%q]}", r.Addr), "eu")
	p := w.nodes["eu"]
	p.WaitLog(10*time.Second, "endpoint up")
	_, body, err := p.Get("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (gtm_[a-z0-9_]+) `).FindAllStringSubmatch(body, -1) {
		exported[m[1]] = true
	}
	if len(exported) < 20 {
		t.Fatalf("only %d gtm_ metrics exported:\n%s", len(exported), body)
	}
	for name := range exported {
		if !documented[name] {
			t.Errorf("%s is exported but not in the README's metric tables", name)
		}
	}
}
