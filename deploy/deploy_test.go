// Package deploy holds the deployment files; its test checks the
// Prometheus alert rules and runs their unit tests with promtool.
package deploy

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/gtm-project/gtm/zones"
)

// promtool finds promtool ($GTM_PROMTOOL, else PATH) or skips, unless
// GTM_REQUIRE_TOOLS=1 (CI) makes a missing one a failure.
func promtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GTM_PROMTOOL"); p != "" {
		return p
	}
	p, err := exec.LookPath("promtool")
	if err == nil {
		return p
	}
	msg := "promtool not found: apt-get install prometheus (or set GTM_PROMTOOL)"
	if os.Getenv("GTM_REQUIRE_TOOLS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func TestAlertRules(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", "prometheus/alerts.yml"},
		{"test", "rules", "prometheus/alerts_test.yml"},
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}

// Every gtm config shipped here loads as `gtm check` loads it: config,
// zone files and all.
func TestConfigsPassCheck(t *testing.T) {
	for _, path := range []string{
		"compose/eu-west.yaml",
		"compose/us-east.yaml",
		"kubernetes/config/gtm.yaml",
	} {
		if _, err := zones.Load(path); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}

// Every gtm_ metric the dashboard and the alerts query is one the README
// documents (and so one gtm exports): a renamed metric must not leave a
// blank panel or an alert that can never fire.
func TestDashboardAndAlertsUseDocumentedMetrics(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(gtm_[a-z0-9_]+)`").FindAllStringSubmatch(string(readme), -1) {
		documented[m[1]] = true
	}
	if len(documented) < 20 {
		t.Fatalf("found only %d metrics in the README's tables", len(documented))
	}
	known := func(name string) bool {
		if documented[name] {
			return true
		}
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suf); ok && documented[base] {
				return true
			}
		}
		return false
	}
	metric := regexp.MustCompile(`\bgtm_[a-z0-9_]+`)
	for _, file := range []string{"grafana/gtm-dashboard.json", "prometheus/alerts.yml"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var exprs []string
		if strings.HasSuffix(file, ".json") {
			var d struct {
				Panels []struct {
					Title   string `json:"title"`
					Targets []struct {
						Expr string `json:"expr"`
					} `json:"targets"`
				} `json:"panels"`
			}
			if err := json.Unmarshal(b, &d); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			for _, p := range d.Panels {
				for _, tg := range p.Targets {
					exprs = append(exprs, tg.Expr)
				}
			}
		} else {
			exprs = []string{string(b)}
		}
		if len(exprs) == 0 {
			t.Fatalf("%s: no queries found", file)
		}
		for _, e := range exprs {
			for _, name := range metric.FindAllString(e, -1) {
				if !known(name) {
					t.Errorf("%s queries %s, which the README's metric tables do not list", file, name)
				}
			}
		}
	}
}
