package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gtm-project/gtm/internal/gtmtest"
	"github.com/miekg/dns"
)

// queryLoop asks name every 5 ms until stop is called, and returns how
// many answers were not NOERROR with an answer (REFUSED, NXDOMAIN, a time
// out), out of how many.
func queryLoop(t *testing.T, p *gtmtest.Proc, name string) (stop func() (bad, total int64)) {
	t.Helper()
	var bad, total atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			r, err := p.Query(name, dns.TypeA)
			total.Add(1)
			if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
				bad.Add(1)
			}
		}
	}()
	return func() (int64, int64) {
		close(done)
		wg.Wait()
		return bad.Load(), total.Load()
	}
}

// TestServeRefusesEmptyReload: a config with no zones and no services, or
// one that drops every zone served, is refused on SIGHUP and through the
// file watcher (also when written in two steps with a pause between
// truncate and write), and not one query is answered REFUSED meanwhile.
func TestServeRefusesEmptyReload(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"gtm.yaml": serveConfig, "example.com.zone": serveZone})
	cfgPath := filepath.Join(dir, "gtm.yaml")
	p := gtmtest.Start(t, cfgPath)
	p.WaitLog(5*time.Second, "watching config and zone files")
	stop := queryLoop(t, p, "www.example.com")

	// An empty file through SIGHUP (the watcher sees it too: both refuse).
	mark := p.LogCount()
	writeFiles(t, dir, map[string]string{"gtm.yaml": ""})
	p.Signal(syscall.SIGHUP)
	p.WaitLogAfter(5*time.Second, "reload refused; the previous configuration keeps serving", mark)

	// Valid YAML that drops every zone (another zone instead).
	writeFiles(t, dir, map[string]string{
		"other.zone": strings.ReplaceAll(serveZone, "example.com.", "example.net."),
	})
	mark = p.LogCount()
	writeFiles(t, dir, map[string]string{"gtm.yaml": strings.ReplaceAll(strings.Replace(serveConfig, "example.com.zone", "other.zone", 1), "example.com.", "example.net.")})
	p.Signal(syscall.SIGHUP)
	p.WaitLogAfter(5*time.Second, "reload refused; the previous configuration keeps serving", mark)
	if !strings.Contains(p.Log(), "drops every zone now served (example.com.)") {
		t.Errorf("the refusal does not name the zones dropped:\n%s", grepLines(p.Log(), "refus"))
	}

	// A writer that truncates, pauses past the settle time, then writes:
	// the watcher must not apply the empty file it sees between.
	writeFiles(t, dir, map[string]string{"gtm.yaml": serveConfig})
	p.Signal(syscall.SIGHUP)
	f, err := os.OpenFile(cfgPath, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	if _, err := f.WriteString(serveConfig); err != nil {
		t.Fatal(err)
	}
	f.Close()
	time.Sleep(2 * time.Second)

	bad, total := stop()
	if total < 100 {
		t.Fatalf("only %d queries in the loop", total)
	}
	if bad != 0 {
		t.Errorf("%d of %d queries were not answered while empty configs were offered; log:\n%s", bad, total, grepLines(p.Log(), "reload"))
	}
	if strings.Contains(p.Log(), `"summary":"0 zones`) {
		t.Errorf("an empty configuration was applied:\n%s", p.Log())
	}
	if rc, a := answerA(t, p, "www.example.com"); rc != dns.RcodeSuccess || len(a) != 1 {
		t.Fatalf("after the reloads: rcode %d answer %v", rc, a)
	}
	_, metrics, err := p.Get("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(metrics, "gtm_config_reload_errors_total 0") {
		t.Errorf("refused reloads not counted:\n%s", grepLines(metrics, "reload"))
	}
}

// TestServeAllowEmpty: --allow-empty lets an operator start with, and
// reload to, a configuration without zones (all zones from the API).
func TestServeAllowEmpty(t *testing.T) {
	dir := t.TempDir()
	empty := "node: {region: eu, id: test-node}\ndns: {listen: [\"127.0.0.1:0\"]}\napi: {listen: \"127.0.0.1:0\"}\nregions:\n  eu: {lat: 50, lon: 8}\n"
	writeFiles(t, dir, map[string]string{"gtm.yaml": empty})
	var stdout, stderr strings.Builder
	if code := run(t.Context(), []string{"serve", "--config", filepath.Join(dir, "gtm.yaml")}, &stdout, &stderr); code != 1 {
		t.Fatalf("an empty config at start: exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "defines no zones and no services") {
		t.Errorf("stderr does not say why:\n%s", stderr.String())
	}
	p := gtmtest.Start(t, filepath.Join(dir, "gtm.yaml"), "--allow-empty")
	if r, err := p.Query("www.example.com", dns.TypeA); err != nil || r.Rcode != dns.RcodeRefused {
		t.Fatalf("empty node: %v %v, want REFUSED", r, err)
	}
	writeFiles(t, dir, map[string]string{"gtm.yaml": serveConfig, "example.com.zone": serveZone})
	mark := p.LogCount()
	p.Signal(syscall.SIGHUP)
	p.WaitLogAfter(5*time.Second, "configuration reloaded", mark)
	writeFiles(t, dir, map[string]string{"gtm.yaml": empty})
	mark = p.LogCount()
	p.Signal(syscall.SIGHUP)
	p.WaitLogAfter(5*time.Second, "configuration reloaded", mark)
}
