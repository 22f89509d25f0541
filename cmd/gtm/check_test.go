package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// checkRun runs the gtm command line in-process, as main would, and
// returns its exit code and output.
func checkRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCheckBrokenConfigPrintsEveryError(t *testing.T) {
	code, stdout, stderr := checkRun(t, "check", "--config", "testdata/broken/gtm.yaml")
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if stdout != "" {
		t.Errorf("stdout: %q, want nothing", stdout)
	}
	// Every problem, each at its file:line, config and zone files alike,
	// sorted by file and line, then the count.
	want := []string{
		`testdata/broken/example.com.zone:1: zone example.com. has no NS record at its apex`,
		`testdata/broken/example.com.zone:5: www.example.com.: CNAME beside other data (TXT at line 6): a CNAME must be alone at its name (RFC 1034 §3.6.2)`,
		`testdata/broken/gtm.yaml:3: node.region: unknown region "eu-central" (not under regions:)`,
		`testdata/broken/gtm.yaml:4: unknown key "dsn"`,
		`testdata/broken/gtm.yaml:17: services[0].check.interval: bad duration "5 seconds": want a number with a unit, such as 5s or 250ms`,
		`testdata/broken/gtm.yaml:18: services[0].check.expect[0]: "200-99" is not a status code or range such as 200-299`,
		`testdata/broken/gtm.yaml:22: services[0].endpoints[0].address: "gw1.example.com" is not an IP address`,
		`testdata/broken/gtm.yaml:23: services[0].endpoints[1].name: duplicate endpoint name "gw-eu-1" (also at endpoints[0])`,
		`testdata/broken/gtm.yaml:24: services[0].endpoints[1].region: unknown region "us-east" (not under regions:)`,
		`testdata/broken/parts/hosts.zone:3: bad A A: "not-an-address"`,
		`testdata/broken/gtm.yaml: 10 error(s)`,
	}
	got := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, strings.Join(want, "\n"))
	}
}

func TestCheckGoodConfigPrintsSummary(t *testing.T) {
	code, stdout, stderr := checkRun(t, "check", "--config", "testdata/good/gtm.yaml")
	if code != 0 {
		t.Errorf("exit code %d, want 0; stderr:\n%s", code, stderr)
	}
	if stderr != "" {
		t.Errorf("stderr: %q, want nothing", stderr)
	}
	const want = "testdata/good/gtm.yaml: ok: 1 zones, 4 records, 1 services, 2 endpoints, 2 regions\n"
	if stdout != want {
		t.Errorf("stdout %q, want the one line %q", stdout, want)
	}
}

// TestCheckEveryZonesFixture runs check over each broken fixture of package
// zones: each exits 1 and prints its errors, every line a file:line error
// but the last, the count.
func TestCheckEveryZonesFixture(t *testing.T) {
	files, err := filepath.Glob("../../zones/testdata/invalid-*.yaml")
	if err != nil || len(files) < 30 {
		t.Fatalf("found %d zones fixtures (%v)", len(files), err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			code, stdout, stderr := checkRun(t, "check", "--config", f)
			if code != 1 || stdout != "" {
				t.Fatalf("exit %d, stdout %q", code, stdout)
			}
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if len(lines) < 2 || lines[len(lines)-1] != f+": "+strconv.Itoa(len(lines)-1)+" error(s)" {
				t.Fatalf("stderr does not end in the count of its errors:\n%s", stderr)
			}
			for _, l := range lines[:len(lines)-1] {
				if !strings.HasPrefix(l, "../../zones/testdata/") {
					t.Errorf("error without its file: %q", l)
				}
			}
		})
	}
}

func TestCheckMissingConfig(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	code, stdout, stderr := checkRun(t, "check", "--config", missing)
	if code != 1 || stdout != "" {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
	if !strings.HasPrefix(stderr, missing+": open "+missing+": no such file or directory\n") {
		t.Errorf("stderr: %q", stderr)
	}
}

// TestCheckFromAnotherDirectory checks zone files are found relative to
// the config file, wherever gtm runs from.
func TestCheckFromAnotherDirectory(t *testing.T) {
	cfg, err := filepath.Abs("testdata/good/gtm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	code, stdout, stderr := checkRun(t, "check", "--config", cfg)
	if code != 0 || !strings.HasPrefix(stdout, cfg+": ok: 1 zones") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if _, err := os.Stat("example.com.zone"); err == nil {
		t.Fatal("the temporary directory holds the zone: the test proves nothing")
	}
}

func TestCheckBadFlag(t *testing.T) {
	code, _, stderr := checkRun(t, "check", "--no-such-flag")
	if code == 0 || !strings.Contains(stderr, "no-such-flag") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestCheckRefusesEmptyConfig: a config with no zones and no services is
// what a truncated file looks like; check fails it unless --allow-empty.
func TestCheckRefusesEmptyConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gtm.yaml")
	if err := os.WriteFile(cfg, []byte("node: {region: eu, id: n}\nregions:\n  eu: {lat: 50, lon: 8}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := checkRun(t, "check", "--config", cfg)
	if code != 1 || !strings.Contains(stderr, "defines no zones and no services") || !strings.Contains(stderr, "--allow-empty") {
		t.Errorf("exit %d, stderr %q: want 1 and the reason", code, stderr)
	}
	if code, stdout, stderr := checkRun(t, "check", "--allow-empty", "--config", cfg); code != 0 || !strings.Contains(stdout, "ok: 0 zones") {
		t.Errorf("--allow-empty: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
