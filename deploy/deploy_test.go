// Package deploy holds the deployment files; its test checks the
// Prometheus alert rules and runs their unit tests with promtool.
package deploy

import (
	"os"
	"os/exec"
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
