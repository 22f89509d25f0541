package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gtm-project/gtm/internal/gtmtest"
	"github.com/miekg/dns"
)

const serveConfig = `
node: {region: eu, id: test-node}
dns: {listen: ["127.0.0.1:0"]}
api: {listen: "127.0.0.1:0"}
regions:
  eu: {lat: 50, lon: 8}
zones:
  - {origin: example.com., file: example.com.zone}
services:
  - name: api.example.com.
    endpoints:
      - {name: gw-1, region: eu, zone: "1", address: 192.0.2.10}
`

const serveZone = `$ORIGIN example.com.
$TTL 300
@ SOA ns1 hostmaster 1 7200 900 1209600 60
  NS ns1
ns1 A 192.0.2.53
www A 192.0.2.80
`

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func answerA(t *testing.T, p *gtmtest.Proc, name string) (int, []string) {
	t.Helper()
	r, err := p.Query(name, dns.TypeA)
	if err != nil {
		t.Fatalf("query %s: %v", name, err)
	}
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return r.Rcode, out
}

// TestServeReloadOnSIGHUP: a good reload serves the new data; a bad one is
// refused with its file:line error logged, and the old data keeps serving.
func TestServeReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"gtm.yaml": serveConfig, "example.com.zone": serveZone})
	p := gtmtest.Start(t, filepath.Join(dir, "gtm.yaml"))

	if rc, a := answerA(t, p, "api.example.com"); rc != dns.RcodeSuccess || len(a) != 1 || a[0] != "192.0.2.10" {
		t.Fatalf("api before reload: rcode %d answer %v", rc, a)
	}
	if rc, _ := answerA(t, p, "new.example.com"); rc != dns.RcodeNameError {
		t.Fatalf("new.example.com before reload: rcode %d, want NXDOMAIN", rc)
	}

	// A good edit: new.example.com appears.
	writeFiles(t, dir, map[string]string{"example.com.zone": serveZone + "new A 192.0.2.99\n"})
	mark := p.LogCount()
	p.Signal(syscall.SIGHUP)
	p.WaitLogAfter(5*time.Second, "configuration reloaded", mark)
	if rc, a := answerA(t, p, "new.example.com"); rc != dns.RcodeSuccess || len(a) != 1 || a[0] != "192.0.2.99" {
		t.Fatalf("new.example.com after reload: rcode %d answer %v", rc, a)
	}

	// A bad edit: refused, error at its line, old data still served.
	writeFiles(t, dir, map[string]string{"example.com.zone": serveZone + "new A 192.0.2.99\nbroken IN A not-an-ip\n"})
	mark = p.LogCount()
	p.Signal(syscall.SIGHUP)
	p.WaitLogAfter(5*time.Second, "reload refused; the previous configuration keeps serving", mark)
	if !strings.Contains(p.Log(), `"line":8`) {
		t.Errorf("the refused reload's error does not name line 8; log:\n%s", p.Log())
	}
	if rc, a := answerA(t, p, "new.example.com"); rc != dns.RcodeSuccess || len(a) != 1 || a[0] != "192.0.2.99" {
		t.Fatalf("after refused reload: rcode %d answer %v, want the previous data", rc, a)
	}
	_, metrics, err := p.Get("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(metrics, "gtm_config_reload_errors_total 1") {
		t.Errorf("metrics do not count the refused reload:\n%s", grepLines(metrics, "reload"))
	}
	if !strings.Contains(metrics, `gtm_dns_queries_total{proto="udp",qtype="A",rcode="NOERROR"}`) {
		t.Errorf("metrics lack per-query counts:\n%s", grepLines(metrics, "gtm_dns_queries_total"))
	}
	if code, body, _ := p.Get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}

	// SIGTERM drains and exits 0.
	if err := p.Stop(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.Log())
	}
}

// TestServeRefusesBadConfigAtStart: a bad config at start is an exit 1
// with the errors logged, not a half-started server.
func TestServeRefusesBadConfigAtStart(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"gtm.yaml":         strings.Replace(serveConfig, "192.0.2.10", "not-an-ip", 1),
		"example.com.zone": serveZone,
	})
	var stdout, stderr strings.Builder
	code := run(t.Context(), []string{"serve", "--config", filepath.Join(dir, "gtm.yaml")}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), `not an IP address`) || !strings.Contains(stderr.String(), `"line":12`) {
		t.Errorf("stderr lacks the located error:\n%s", stderr.String())
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestServeReloadsOnFileChange: editing a zone file is picked up without a
// signal; a broken edit is refused and the previous zone keeps serving.
func TestServeReloadsOnFileChange(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"gtm.yaml": serveConfig, "example.com.zone": serveZone})
	p := gtmtest.Start(t, filepath.Join(dir, "gtm.yaml"))
	p.WaitLog(5*time.Second, "watching config and zone files")
	mark := p.LogCount()
	// Replace by rename, as editors and deploy tools do.
	writeFiles(t, dir, map[string]string{"zone.tmp": serveZone + "watched A 192.0.2.77\n"})
	if err := os.Rename(filepath.Join(dir, "zone.tmp"), filepath.Join(dir, "example.com.zone")); err != nil {
		t.Fatal(err)
	}
	p.WaitLogAfter(5*time.Second, "configuration reloaded", mark)
	if rc, a := answerA(t, p, "watched.example.com"); rc != dns.RcodeSuccess || len(a) != 1 || a[0] != "192.0.2.77" {
		t.Fatalf("after the file changed: rcode %d answer %v", rc, a)
	}
	mark = p.LogCount()
	writeFiles(t, dir, map[string]string{"example.com.zone": serveZone + "watched A 192.0.2.77\nbad A x\n"})
	p.WaitLogAfter(5*time.Second, "reload refused; the previous configuration keeps serving", mark)
	if rc, a := answerA(t, p, "watched.example.com"); rc != dns.RcodeSuccess || len(a) != 1 {
		t.Fatalf("after a broken edit: rcode %d answer %v, want the previous zone", rc, a)
	}
}
