package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gtm-project/gtm/api"
	"github.com/gtm-project/gtm/internal/gtmtest"
	"github.com/gtm-project/gtm/node"
	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// bigZone is a zone of n A records, one a line (about 30 bytes each).
func bigZone(origin string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 900 1209600 60\n  NS ns1\nns1 A 192.0.2.53\n", origin)
	for i := range n {
		fmt.Fprintf(&b, "h%d A 192.0.2.%d\n", i, i%250+1)
	}
	return b.String()
}

// rssWatch samples VmRSS of pid every 50 ms until stop, keeping the peak.
type rssWatch struct {
	peak atomic.Int64 // kB
	stop chan struct{}
	done chan struct{}
}

func watchRSS(t *testing.T, pid int) *rssWatch {
	w := &rssWatch{stop: make(chan struct{}), done: make(chan struct{})}
	read := func() int64 {
		f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return 0
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
				return kb
			}
		}
		return 0
	}
	if read() == 0 {
		// Linux only; CI (GTM_REQUIRE_TOOLS=1) must not skip it.
		if os.Getenv("GTM_REQUIRE_TOOLS") == "1" {
			t.Fatal("no VmRSS in /proc/PID/status (GTM_REQUIRE_TOOLS=1): the memory watchdog needs Linux procfs")
		}
		t.Skip("no VmRSS in /proc/PID/status: the memory watchdog needs Linux procfs")
	}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if kb := read(); kb > w.peak.Load() {
				w.peak.Store(kb)
			}
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *rssWatch) end() int64 {
	close(w.stop)
	<-w.done
	return w.peak.Load()
}

// dnsLoop asks addr for ns1.example.com over UDP every 5 ms until stop,
// counting questions and answers.
func dnsLoop(addr string, stop <-chan struct{}) (wait func() (sent, answered int)) {
	var sent, answered int
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := &dns.Client{Net: "udp", Timeout: time.Second}
		for {
			select {
			case <-stop:
				return
			default:
			}
			m := new(dns.Msg)
			m.SetQuestion("ns1.example.com.", dns.TypeA)
			sent++
			if r, _, err := c.Exchange(m, addr); err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1 {
				answered++
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return func() (int, int) { <-done; return sent, answered }
}

func apiDo(client *http.Client, method, url, body string) (int, string, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "text/dns")
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// abuseNode starts `gtm serve` (bin) with a token file and extra config.
func abuseNode(t *testing.T, bin, extra string) *gtmtest.Proc {
	return abuseNodeAPI(t, bin, "", extra)
}

// abuseNodeAPI is abuseNode with more api: keys (flow YAML, "k: v, ...").
func abuseNodeAPI(t *testing.T, bin, api string, extra ...string) *gtmtest.Proc {
	dir := t.TempDir()
	if api != "" {
		api = ", " + api
	}
	cfg := strings.Replace(serveConfig, "api: {listen: \"127.0.0.1:0\"}",
		"api: {listen: \"127.0.0.1:0\", token_file: tokens"+api+"}\n"+strings.Join(extra, ""), 1)
	writeFiles(t, dir, map[string]string{"gtm.yaml": cfg, "example.com.zone": serveZone, "tokens": testToken + " rw ops\n"})
	return gtmtest.StartBinary(t, bin, filepath.Join(dir, "gtm.yaml"))
}

// TestServeRefusesZoneBombs: through a real `gtm serve` (with
// limits.zone_max_records 1000), a ~1 KB body of $GENERATE lines (2 M
// records expanded) and a body of plain records over the cap are 400
// naming the line, each in under a second, while the node's RSS (sampled
// every 50 ms) barely moves. `gtm drain` of unknown names, or with a long
// reason, exits non-zero.
func TestServeRefusesZoneBombs(t *testing.T) {
	p := abuseNode(t, gtmtest.Binary(t), "limits: {zone_max_records: 1000}")
	client := &http.Client{Timeout: 10 * time.Second}
	url := "http://" + p.API + "/api/v1/zones/example.com."
	rss := watchRSS(t, p.PID())
	time.Sleep(100 * time.Millisecond)
	before := rss.peak.Load()
	var bomb strings.Builder
	bomb.WriteString(serveZone)
	for i := range 32 {
		fmt.Fprintf(&bomb, "$GENERATE 0-65535 h%d-$ A 192.0.2.1\n", i)
	}
	for _, tc := range []struct {
		name, body, want string
	}{
		// 4 records in serveZone's 6 lines: the first $GENERATE, line 7,
		// takes the zone past 1,000 before anything is expanded.
		{"$GENERATE bomb", bomb.String(), `"line": 7`},
		// 3 records in bigZone's 5 lines, h0 on line 6: the 1,001st
		// record is h997, line 1003; parsing stops there.
		{"plain records", bigZone("example.com.", 100000), `"line": 1003`},
	} {
		start := time.Now()
		code, body, err := apiDo(client, "PUT", url, tc.body)
		took := time.Since(start)
		if err != nil || code != 400 || !strings.Contains(body, tc.want) || !strings.Contains(body, "limits.zone_max_records") {
			t.Errorf("%s (%d bytes): %d %v %.400s, want 400 with %s", tc.name, len(tc.body), code, err, body, tc.want)
		}
		if took > time.Second {
			t.Errorf("%s refused in %s, want < 1 s", tc.name, took)
		}
		t.Logf("%s (%d bytes): %d in %s", tc.name, len(tc.body), code, took.Round(time.Millisecond))
	}
	peak := rss.end()
	t.Logf("RSS %d MB before, peak %d MB", before>>10, peak>>10)
	// The plain body alone is 2 MB; expanded, the bomb would be GBs.
	if peak-before > 128<<10 {
		t.Errorf("RSS grew from %d to %d MB refusing two bombs", before>>10, peak>>10)
	}
	if _, metrics, _ := p.Get("/metrics"); !strings.Contains(metrics, "gtm_api_edit_limit_refusals_total 2") {
		t.Errorf("metrics lack gtm_api_edit_limit_refusals_total 2")
	}

	// `gtm drain` of a name the configuration does not define, or with a
	// reason over 256 bytes, exits non-zero with the API's message.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"drain", "region", "mars"}, `is not a known region; valid: eu`},
		{[]string{"drain", "zone", "eu/9"}, `valid: eu/1`},
		{[]string{"undrain", "endpoint", "gw-9"}, `valid: gw-1`},
		{[]string{"drain", "region", "eu", "--reason", strings.Repeat("x", 300)}, "at most 256"},
	} {
		var out, errb strings.Builder
		args := append(tc.args, "--api", "http://"+p.API, "--token", testToken)
		code := runArgs(args, &out, &errb)
		if code == 0 || !strings.Contains(errb.String()+out.String(), tc.want) {
			t.Errorf("gtm %s: exit %d, output %s%s; want non-zero and %q", strings.Join(tc.args[:3], " "), code, out.String(), errb.String(), tc.want)
		}
	}
	var out, errb strings.Builder
	if code := runArgs([]string{"drain", "endpoint", "gw-1", "--api", "http://" + p.API, "--token", testToken}, &out, &errb); code != 0 {
		t.Errorf("gtm drain endpoint gw-1: exit %d %s", code, errb.String())
	}
}

// TestServeSurvivesEditStorm: with a 65,536-record zone stored through the
// API of a real `gtm serve` (built as shipped, without -race), 1,000 concurrent small PUTs finish (200, or
// 409/503 when they lose a race or wait past their deadline) while the
// node's RSS, sampled every 50 ms, stays under 512 MB and DNS answers at
// least 99% of a steady UDP query loop.
func TestServeSurvivesEditStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 1,000 concurrent edits to a gtm serve")
	}
	// Built without -race: its shadow memory multiplies the heap several
	// times (a 174 MB heap showed as 789 MB of RSS), and the bound is on
	// the binary operators run.
	// api.max_connections above the storm: this test is about memory
	// and DNS under 1,000 edits at once. At a full cap, a connection
	// silent for a second after accept is closed (TestServeSurvivesConnectionFloods
	// and api's TestConnectionCapEvictsIdle cover that); under the race
	// detector beside other packages' tests, some of this test's own
	// clients took that long to write their request.
	p := abuseNodeAPI(t, gtmtest.PlainBinary(t), "max_connections: 2000")
	base := "http://" + p.API + "/api/v1/zones/"
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1000}}
	// The storm's clients each send one PUT on a connection of their own,
	// as 1,000 separate operators or tools would. A shared keep-alive pool
	// would also park connections that were dialled but never used (Go's
	// transport dials while it waits for an idle one): at a full
	// api.max_connections those are closed as silent, and a PUT later sent
	// on one is lost (a PUT is not retried), which measures the client's
	// pool, not the server.
	stormClient := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	big := bigZone("big.example.", 65536)
	if code, body, err := apiDo(client, "PUT", base+"big.example.", big); err != nil || code != 200 {
		t.Fatalf("storing the 65,536-record zone (%d bytes): %d %v %.300s", len(big), code, err, body)
	}
	rss := watchRSS(t, p.PID())
	time.Sleep(100 * time.Millisecond)
	t.Logf("RSS with the big zone stored: %d MB", rss.peak.Load()>>10)
	stop := make(chan struct{})
	dnsDone := dnsLoop(p.DNS, stop)

	// The storm: 1,000 small PUTs at once, bounded in time.
	const storm = 1000
	codes := map[int]int{}
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	for i := range storm {
		wg.Go(func() {
			body := serveZone + fmt.Sprintf("storm A 192.0.2.%d\n", i%250+1)
			req, _ := http.NewRequestWithContext(ctx, "PUT", base+"example.com.", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+testToken)
			req.Header.Set("Content-Type", "text/dns")
			code := -1
			resp, err := stormClient.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
			}
			mu.Lock()
			codes[code]++
			if err != nil && firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	stormTook := time.Since(start)
	time.Sleep(200 * time.Millisecond) // DNS keeps answering after it too
	close(stop)
	sent, answered := dnsDone()
	peak := rss.end()
	if _, metrics, err := p.Get("/metrics"); err == nil {
		for _, l := range strings.Split(metrics, "\n") {
			if strings.HasPrefix(l, "go_memstats_heap_inuse_bytes") || strings.HasPrefix(l, "go_memstats_heap_sys_bytes") || strings.HasPrefix(l, "go_memstats_alloc_bytes_total") || strings.HasPrefix(l, "go_goroutines") || strings.HasPrefix(l, "gtm_state_sync_seconds_count") || strings.HasPrefix(l, "gtm_api_conn") {
				t.Log(l)
			}
		}
	}
	t.Logf("%d PUTs in %s: %v; peak RSS %d MB; DNS %d/%d answered", storm, stormTook.Round(time.Millisecond), codes, peak>>10, answered, sent)
	for code, n := range codes {
		switch {
		case code == 200 || code == 409 || code == 503:
		case code == -1 && n <= storm/100:
			// Seen once (7 of 1,000) on a host starved by three race-built
			// test packages at once: logged, tolerated up to 1%.
			t.Logf("%d PUTs got no answer: %v", n, firstErr)
		default:
			t.Errorf("%d PUTs answered %d (first error: %v)", n, code, firstErr)
		}
	}
	if codes[200] == 0 {
		t.Errorf("no PUT of the storm succeeded: %v", codes)
	}
	if peak > 512<<10 {
		t.Errorf("peak RSS %d MB, want < 512 MB", peak>>10)
	}
	if sent < 50 || float64(answered) < 0.99*float64(sent) {
		t.Errorf("DNS answered %d of %d during the storm, want >= 99%%", answered, sent)
	}
}

// BenchmarkSmallPutWithBigZoneStored: one small zone PUT through the real
// API and editor while a 65,536-record zone is stored: its cost must not
// grow with the stored zone.
func BenchmarkSmallPutWithBigZoneStored(b *testing.B) {
	dir := b.TempDir()
	cfg := strings.Replace(serveConfig, "api: {listen: \"127.0.0.1:0\"}", "api: {listen: \"127.0.0.1:0\", token_file: tokens}", 1)
	for name, body := range map[string]string{"gtm.yaml": cfg, "example.com.zone": serveZone, "tokens": testToken + " rw ops\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	set, err := zones.Load(filepath.Join(dir, "gtm.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	st := store.NewMemory(time.Now)
	eng := node.NewEngine(node.EngineOptions{Logger: zerolog.Nop(), Registerer: reg, Docs: st})
	eng.SetConfig(set)
	toks, err := api.LoadTokens(filepath.Join(dir, "tokens"))
	if err != nil {
		b.Fatal(err)
	}
	srv := api.New("127.0.0.1:0", reg, nil, zerolog.Nop())
	srv.Tokens = toks
	srv.HandleEdits(st, eng, api.EditOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = srv.Run(ctx) }()
	<-srv.Started()
	base := "http://" + srv.Bound().String() + "/api/v1/zones/"
	client := &http.Client{}
	if code, body, err := apiDo(client, "PUT", base+"big.example.", bigZone("big.example.", 65536)); err != nil || code != 200 {
		b.Fatalf("big zone: %d %v %.300s", code, err, body)
	}
	// One PUT first: the editor's parse cache learns the stored zone once,
	// as it does for the engine's overlay on a node.
	if code, out, err := apiDo(client, "PUT", base+"example.com.", serveZone); err != nil || code != 200 {
		b.Fatalf("PUT: %d %v %.300s", code, err, out)
	}
	for i := 0; b.Loop(); i++ {
		body := serveZone + fmt.Sprintf("bench A 192.0.2.%d\n", i%250+1)
		if code, out, err := apiDo(client, "PUT", base+"example.com.", body); err != nil || code != 200 {
			b.Fatalf("PUT: %d %v %.300s", code, err, out)
		}
	}
}
