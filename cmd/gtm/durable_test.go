package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gtm-project/gtm/internal/gtmtest"
	"github.com/miekg/dns"
)

// durableConfig is serveConfig with the memory store kept in a snapshot
// file, and a token for the API.
func durableConfig(snapshot string) string {
	return strings.Replace(serveConfig, "api: {listen: \"127.0.0.1:0\"}",
		"api: {listen: \"127.0.0.1:0\", token_file: tokens}\nstate: {backend: memory, snapshot_path: "+snapshot+"}", 1) +
		"      - {name: gw-2, region: eu, zone: \"2\", address: 192.0.2.11}\n"
}

// apiCall sends an authorised request and returns the status and body.
func apiCall(t *testing.T, p *gtmtest.Proc, method, path, ctype, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+p.API+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAcknowledgedEditsSurviveKill: with the memory store and a snapshot
// file, an edit or drain answered 200 is on disk: SIGKILL right after the
// answer, 20 times in a row, loses none of them.
func TestAcknowledgedEditsSurviveKill(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"gtm.yaml": durableConfig("state.json"), "example.com.zone": serveZone, "tokens": testToken + " rw ops\n"})
	cfg := filepath.Join(dir, "gtm.yaml")
	zone := serveZone
	const trials = 20
	for i := 1; i <= trials; i++ {
		p := gtmtest.Start(t, cfg)
		// Everything acknowledged before this start is answered.
		for j := 1; j < i; j++ {
			if rc, a := answerA(t, p, fmt.Sprintf("t%d.example.com", j)); rc != dns.RcodeSuccess || len(a) != 1 {
				t.Fatalf("trial %d: t%d.example.com, acknowledged before a kill, answers rcode %d %v\n%s", i, j, rc, a, p.Log())
			}
		}
		if i > 1 {
			// The drain state acknowledged last: drained, gw-1 is never
			// answered; undrained, it is (answers rotate over the two).
			if (i-1)%2 == 1 {
				until(t, p, "api.example.com", []string{"192.0.2.11"}, 2*time.Second)
			} else {
				untilAnswers(t, p, "api.example.com", "192.0.2.10", 2*time.Second)
			}
		}
		zone += fmt.Sprintf("t%d A 192.0.2.%d\n", i, 100+i)
		if code, body := apiCall(t, p, "PUT", "/api/v1/zones/example.com.", "text/dns", zone); code != http.StatusOK {
			t.Fatalf("trial %d: PUT zone: %d %s", i, code, body)
		}
		method := "PUT"
		if i%2 == 0 {
			method = "DELETE"
		}
		if code, body := apiCall(t, p, method, "/api/v1/drains/endpoint/gw-1", "", ""); code != http.StatusOK {
			t.Fatalf("trial %d: %s drain: %d %s", i, method, code, body)
		}
		p.Kill()
	}
}

// TestSnapshotFullDisk: when the snapshot cannot be written (a full
// filesystem), edits get 503 naming the reason, /readyz says
// snapshot_ok: false and gtm_snapshot_ok is 0; once space is back, edits
// are acknowledged again. Needs root (a small tmpfs).
func TestSnapshotFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("GTM_REQUIRE_ROOT") == "1" {
			t.Fatal("needs root to mount a small tmpfs (GTM_REQUIRE_ROOT=1)")
		}
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk")
	if err := os.Mkdir(disk, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "gtm-test", disk).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", disk).Run() })
	writeFiles(t, dir, map[string]string{"gtm.yaml": durableConfig(filepath.Join(disk, "state.json")), "example.com.zone": serveZone, "tokens": testToken + " rw ops\n"})
	p := gtmtest.Start(t, filepath.Join(dir, "gtm.yaml"))
	if code, body := apiCall(t, p, "PUT", "/api/v1/drains/endpoint/gw-1", "", ""); code != http.StatusOK {
		t.Fatalf("drain with space: %d %s", code, body)
	}
	// Fill the filesystem.
	fill := filepath.Join(disk, "fill")
	f, err := os.Create(fill)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := f.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	f.Close()

	code, body := apiCall(t, p, "PUT", "/api/v1/zones/example.com.", "text/dns", serveZone+"full A 192.0.2.1\n")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "could not be made durable") || !strings.Contains(body, "no space left") {
		t.Errorf("edit on a full disk: %d %s, want 503 naming the reason", code, body)
	}
	_, ready, _ := p.Get("/readyz")
	if !strings.Contains(ready, `"snapshot_ok":false`) || !strings.Contains(ready, "no space left") {
		t.Errorf("/readyz on a full disk: %s", ready)
	}
	if _, page, _ := p.Get("/"); !strings.Contains(page, "state snapshot not written") {
		t.Errorf("the status page does not show the failing snapshot:\n%s", grepLines(page, "snapshot"))
	}
	_, metrics, _ := p.Get("/metrics")
	if !strings.Contains(metrics, "gtm_snapshot_ok 0") {
		t.Errorf("gtm_snapshot_ok not 0:\n%s", grepLines(metrics, "snapshot"))
	}
	if n := strings.Count(p.Log(), "cannot write the last-known-good snapshot"); n != 1 {
		t.Errorf("the failure is logged %d times, want once", n)
	}

	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	if code, body := apiCall(t, p, "PUT", "/api/v1/zones/example.com.", "text/dns", serveZone+"back A 192.0.2.2\n"); code != http.StatusOK {
		t.Fatalf("edit with space again: %d %s", code, body)
	}
	_, ready, _ = p.Get("/readyz")
	if !strings.Contains(ready, `"snapshot_ok":true`) {
		t.Errorf("/readyz after space came back: %s", ready)
	}
}

// TestCorruptSnapshotMovedAside: a snapshot that cannot be parsed is moved
// aside as NAME.corrupt-TIME (not overwritten), counted, logged naming both
// files and shown on /readyz until removed; stray temp files of an
// interrupted write are removed; the node starts and serves the files.
func TestCorruptSnapshotMovedAside(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"gtm.yaml": durableConfig("state.json"), "example.com.zone": serveZone, "tokens": testToken + " rw ops\n",
		"state.json": `{"docs": [{"kind": "zone", "na`, ".gtm-snapshot-123": "half",
	})
	p := gtmtest.Start(t, filepath.Join(dir, "gtm.yaml"))
	line := p.WaitLog(5*time.Second, "the last-known-good snapshot is corrupt: moved aside; starting from the files and the store (API edits held only in it are in the moved file; remove it to acknowledge)")
	aside, _ := line["moved_to"].(string)
	if !strings.HasPrefix(aside, filepath.Join(dir, "state.json.corrupt-")) || line["path"] != filepath.Join(dir, "state.json") {
		t.Fatalf("log line names %v and %v", line["path"], line["moved_to"])
	}
	if b, err := os.ReadFile(aside); err != nil || string(b) != `{"docs": [{"kind": "zone", "na` {
		t.Errorf("the corrupt file was not kept as it was: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".gtm-snapshot-123")); !os.IsNotExist(err) {
		t.Errorf("stray temp file still there: %v", err)
	}
	if rc, a := answerA(t, p, "www.example.com"); rc != dns.RcodeSuccess || len(a) != 1 {
		t.Fatalf("does not serve the files: %d %v", rc, a)
	}
	code, ready, _ := p.Get("/readyz")
	if code != http.StatusOK || !strings.Contains(ready, "state.json.corrupt-") {
		t.Errorf("/readyz does not show the corrupt snapshot: %d %s", code, ready)
	}
	_, metrics, _ := p.Get("/metrics")
	if !strings.Contains(metrics, "gtm_snapshot_corrupt_total 1") {
		t.Errorf("not counted:\n%s", grepLines(metrics, "snapshot"))
	}
	if _, page, _ := p.Get("/"); !strings.Contains(page, "state snapshot was corrupt at start and moved to "+aside) {
		t.Errorf("the status page does not show the corrupt snapshot:\n%s", grepLines(page, "snapshot"))
	}
	// Acknowledged by removing it.
	if err := os.Remove(aside); err != nil {
		t.Fatal(err)
	}
	if _, ready, _ := p.Get("/readyz"); strings.Contains(ready, "corrupt") {
		t.Errorf("/readyz still shows it after removal: %s", ready)
	}
	if _, page, _ := p.Get("/"); strings.Contains(page, "was corrupt") {
		t.Error("the status page still shows it after removal")
	}
}

// untilAnswers waits until one of name's answers holds addr.
func untilAnswers(t *testing.T, p *gtmtest.Proc, name, addr string, limit time.Duration) {
	t.Helper()
	for start := time.Now(); time.Since(start) < limit; time.Sleep(5 * time.Millisecond) {
		if got, err := answerOf(p, name); err == nil && slices.Contains(got, addr) {
			return
		}
	}
	t.Fatalf("%s never answered %s within %s\n%s", name, addr, limit, p.Log())
}

// syncCount reads gtm_state_sync_seconds_count: full syncs of the store.
func syncCount(t *testing.T, p *gtmtest.Proc) string {
	t.Helper()
	_, metrics, err := p.Get("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(metrics, "\n") {
		if v, ok := strings.CutPrefix(l, "gtm_state_sync_seconds_count "); ok {
			return v
		}
	}
	t.Fatalf("no gtm_state_sync_seconds_count in:\n%s", grepLines(metrics, "sync"))
	return ""
}

// TestIdleNodeDoesNotResync: with nothing changing, the once-a-second
// tick does not re-read every result and re-evaluate every endpoint (at
// 10,000 services that was 10% of a core); a drain is still synced and
// answered at once.
func TestIdleNodeDoesNotResync(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"gtm.yaml": durableConfig("state.json"), "example.com.zone": serveZone, "tokens": testToken + " rw ops\n"})
	p := gtmtest.Start(t, filepath.Join(dir, "gtm.yaml"))
	time.Sleep(1500 * time.Millisecond)
	before := syncCount(t, p)
	time.Sleep(3500 * time.Millisecond) // three ticks or more
	if after := syncCount(t, p); after != before {
		t.Errorf("an idle node synced: %s full syncs, then %s", before, after)
	}
	if code, body := apiCall(t, p, "PUT", "/api/v1/drains/endpoint/gw-1", "", ""); code != http.StatusOK {
		t.Fatalf("drain: %d %s", code, body)
	}
	for start := time.Now(); syncCount(t, p) == before; time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 2*time.Second {
			t.Fatalf("the drain did not cause a sync within 2 s\n%s", p.Log())
		}
	}
	for range 50 { // and gw-1 is never answered again
		if got, err := answerOf(p, "api.example.com"); err != nil || slices.Contains(got, "192.0.2.10") {
			t.Fatalf("after the drain: %v %v", got, err)
		}
	}
}
