package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

// syncBuf is a log sink safe for the server's goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) count(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), sub)
}

// abuseEnv is a real API server on loopback with drains and edits over a
// memory store, its log captured.
type abuseEnv struct {
	srv  *Server
	url  string
	log  *syncBuf
	st   *store.Memory
	base *zones.Set
}

const abuseConfig = editConfig + `      - {name: gw-eu-2, region: eu-west, zone: b, address: 192.0.2.11}
limits: {zone_max_records: 1000}
`

func abuseServer(t *testing.T, opt EditOptions, wrap func(Editor) Editor) *abuseEnv {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"gtm.yaml": abuseConfig, "example.com.zone": editZoneFile,
		"tokens": editRW + " rw alice\n" + editRO + " ro bob\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	base, err := zones.Load(filepath.Join(dir, "gtm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	toks, err := LoadTokens(filepath.Join(dir, "tokens"))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuf{}
	srv := New("127.0.0.1:0", prometheus.NewRegistry(), nil, zerolog.New(logs))
	srv.Tokens = toks
	st := store.NewMemory(time.Now)
	srv.HandleDrains(st, func() *zones.Config { return base.Config })
	var ed Editor = &editEditor{base: base, docs: st}
	if wrap != nil {
		ed = wrap(ed)
	}
	srv.HandleEdits(st, ed, opt)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	select {
	case <-srv.Started():
	case err := <-done:
		t.Fatal(err)
	}
	return &abuseEnv{srv: srv, url: "http://" + srv.Bound().String(), log: logs, st: st, base: base}
}

// clientFrom is an HTTP client whose connections come from the loopback
// address src, another "client address" for the per-address budgets.
func clientFrom(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

func (e *abuseEnv) do(t *testing.T, c *http.Client, method, path, auth, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/dns")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestWrongTokensBudgetedPerClient: 30 wrong tokens from one address are
// counted; the first 10 get 401, the rest (but for the odd one the
// 1/s refill allows) 429 with Retry-After, without their token compared;
// one log line, not 30. Another address with the right token is not
// affected, and the scheme is matched in any case.
func TestWrongTokensBudgetedPerClient(t *testing.T) {
	e := abuseServer(t, EditOptions{}, nil)
	attacker, other := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	codes := map[int]int{}
	start := time.Now()
	for i := range 30 {
		code, hdr, _ := e.do(t, attacker, "PUT", "/api/v1/drains/region/eu-west", "Bearer wrong-token-number-"+fmt.Sprint(i), "")
		codes[code]++
		if i < 10 && code != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d, want 401 within the burst", i+1, code)
		}
		if code == http.StatusTooManyRequests && hdr.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After")
		}
	}
	took := time.Since(start)
	// At most one token a second comes back while the 30 run.
	refill := int(took/time.Second) + 1
	if codes[http.StatusTooManyRequests] < 20-refill {
		t.Errorf("30 wrong tokens in %s: %v, want at least %d answered 429", took, codes, 20-refill)
	}
	m := e.srv.metrics
	if f, th := testutil.ToFloat64(m.authFailures), testutil.ToFloat64(m.authThrottled); int(f) != codes[401] || int(th) != codes[429] {
		t.Errorf("failures %v, throttled %v; answers %v", f, th, codes)
	}
	if n := e.log.count("api authentication failed"); n != 1 {
		t.Errorf("%d log lines for 30 failures, want 1:\n%s", n, e.log.b.String())
	}
	// The right token from the throttled address is refused too: it is
	// not compared while the address is over its budget.
	if code, _, _ := e.do(t, attacker, "PUT", "/api/v1/drains/region/eu-west", "Bearer "+editRW, ""); code != http.StatusTooManyRequests {
		t.Errorf("right token from the throttled address: %d, want 429", code)
	}
	// Another address is unaffected, and "bearer" is a bearer token.
	for _, auth := range []string{"Bearer " + editRW, "bearer " + editRW, "BEARER  " + editRW} {
		if code, _, body := e.do(t, other, "PUT", "/api/v1/drains/region/eu-west", auth, ""); code != http.StatusOK {
			t.Errorf("%q from another address: %d %s", auth, code, body)
		}
	}
	// A missing token is not a guess: 401, not counted.
	before := testutil.ToFloat64(m.authFailures)
	if code, _, _ := e.do(t, other, "PUT", "/api/v1/drains/region/eu-west", "", ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d", code)
	}
	if testutil.ToFloat64(m.authFailures) != before {
		t.Errorf("a missing token was counted as a failure")
	}
}

// TestAuthLimiterBoundsClients: random sources do not grow the limiter
// past authMaxClients; the ones beyond share one budget.
func TestAuthLimiterBoundsClients(t *testing.T) {
	l := newAuthLimiter(zerolog.Nop())
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	r := &http.Request{URL: &url.URL{Path: "/x"}}
	for i := range authMaxClients + 500 {
		r.RemoteAddr = fmt.Sprintf("[2001:db8:%x:%x::1]:1234", i>>16, i&0xffff)
		l.failed(r, "test")
	}
	if len(l.clients) > authMaxClients {
		t.Fatalf("%d clients tracked", len(l.clients))
	}
	// The 500 beyond share one bucket: it is spent after 10.
	r.RemoteAddr = "[2001:db8:ffff:1::1]:1"
	if _, over := l.throttled(r); !over {
		t.Errorf("a new client beyond the table is not throttled by the shared budget")
	}
	// Two addresses of one /64 are one client.
	a := &http.Request{RemoteAddr: "[2001:db8:0:1::1]:1"}
	b := &http.Request{RemoteAddr: "[2001:db8:0:1::2]:1"}
	if clientKey(a) != clientKey(b) {
		t.Errorf("one /64, two keys")
	}
	// Once their budgets are whole again, the table is swept.
	now = now.Add(time.Minute)
	r.RemoteAddr = "192.0.2.1:1"
	l.failed(r, "test")
	if _, ok := l.clients[clientKey(r)]; !ok {
		t.Errorf("a new client after the sweep has no bucket of its own (%d tracked)", len(l.clients))
	}
}

// TestDrainNamesChecked: names the configuration does not define are 404
// with the valid ones listed; long reasons 400; an unknown undrain 404.
func TestDrainNamesChecked(t *testing.T) {
	e := abuseServer(t, EditOptions{}, nil)
	c := clientFrom("127.0.0.1")
	auth := "Bearer " + editRW
	for _, tc := range []struct {
		method, path string
		code         int
		want         string
	}{
		{"PUT", "/api/v1/drains/region/eu-west", 200, ""},
		{"PUT", "/api/v1/drains/region/mars", 404, `is not a known region; valid: ap-south, eu-west, us-east`},
		{"PUT", "/api/v1/drains/zone/eu-west/b", 200, ""},
		{"PUT", "/api/v1/drains/zone/eu-west/c", 404, "valid: eu-west/b"},
		{"PUT", "/api/v1/drains/endpoint/gw-us-1", 200, ""},
		{"PUT", "/api/v1/drains/endpoint/gw-xx-9", 404, "valid: gw-eu-1, gw-eu-2, gw-us-1"},
		{"DELETE", "/api/v1/drains/endpoint/gw-xx-9", 404, "not a known endpoint"},
		{"DELETE", "/api/v1/drains/endpoint/gw-us-1", 200, ""},
		{"PUT", "/api/v1/drains/region/eu-west?reason=" + strings.Repeat("r", 256), 200, ""},
		{"PUT", "/api/v1/drains/region/eu-west?reason=" + strings.Repeat("r", 300), 400, "reason: 300 bytes, at most 256"},
		{"PUT", "/api/v1/drains/endpoint/" + strings.Repeat("n", 600), 400, "1 to 512 bytes"},
	} {
		code, _, body := e.do(t, c, tc.method, tc.path, auth, "")
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s %.60s: %d %s, want %d %q", tc.method, tc.path, code, body, tc.code, tc.want)
		}
	}
	// A drain stored for a name the configuration has since lost can be
	// lifted.
	ctx := context.Background()
	if err := e.st.SetDrain(ctx, store.Drain{Kind: store.DrainEndpoint, Name: "gw-gone"}, true); err != nil {
		t.Fatal(err)
	}
	if code, _, body := e.do(t, c, "DELETE", "/api/v1/drains/endpoint/gw-gone", auth, ""); code != 200 {
		t.Errorf("undrain of a stored drain of a lost endpoint: %d %s", code, body)
	}
	ds, _ := e.st.Drains(ctx)
	for _, d := range ds {
		if len(d.Name) > 100 || len(d.Reason) > 256 {
			t.Errorf("stored drain %q reason %d bytes", d.Name[:20], len(d.Reason))
		}
	}
}

// blockingEditor holds every validation until release is closed, past
// the request's deadline: the edits in progress stay in progress for as
// long as the test needs.
type blockingEditor struct {
	Editor
	entered chan struct{}
	release chan struct{}
}

func (b *blockingEditor) Validate(ctx context.Context, edit zones.Edit) (*zones.Set, error) {
	b.entered <- struct{}{}
	<-b.release
	return b.Editor.Validate(ctx, edit)
}

// TestEditSlotsBounded: with api.max_concurrent_edits 2, two edits in
// progress make a third wait (gtm_api_edits_waiting) and, past its
// deadline, get 503 with Retry-After (gtm_api_edits_rejected_total); once
// a slot frees up, edits go through again.
func TestEditSlotsBounded(t *testing.T) {
	be := &blockingEditor{entered: make(chan struct{}, 8), release: make(chan struct{})}
	e := abuseServer(t, EditOptions{MaxConcurrent: 2, Timeout: time.Second}, func(ed Editor) Editor {
		be.Editor = ed
		return be
	})
	c := clientFrom("127.0.0.1")
	auth := "Bearer " + editRW
	type res struct {
		code int
		hdr  http.Header
	}
	results := make(chan res, 2)
	for range 2 {
		go func() {
			req, _ := http.NewRequest("PUT", e.url+"/api/v1/zones/example.com.?dry_run=1", strings.NewReader(editZoneFile))
			req.Header.Set("Authorization", auth)
			resp, err := c.Do(req)
			if err != nil {
				results <- res{code: -1}
				return
			}
			resp.Body.Close()
			results <- res{resp.StatusCode, resp.Header}
		}()
	}
	for range 2 {
		<-be.entered
	}
	m := e.srv.metrics
	if got := testutil.ToFloat64(m.editsRunning); got != 2 {
		t.Errorf("edits in progress %v, want 2", got)
	}
	// The third waits its second and is refused.
	third := make(chan res, 1)
	go func() {
		code, hdr, _ := e.do(t, c, "PUT", "/api/v1/zones/example.com.?dry_run=1", auth, editZoneFile)
		third <- res{code, hdr}
	}()
	deadline := time.Now().Add(900 * time.Millisecond)
	for testutil.ToFloat64(m.editsWaiting) != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := testutil.ToFloat64(m.editsWaiting); got != 1 {
		t.Errorf("edits waiting %v, want 1", got)
	}
	r := <-third
	if r.code != http.StatusServiceUnavailable || r.hdr.Get("Retry-After") == "" {
		t.Errorf("third edit: %d Retry-After %q, want 503 with Retry-After", r.code, r.hdr.Get("Retry-After"))
	}
	if got := testutil.ToFloat64(m.editsRejected); got != 1 {
		t.Errorf("rejected %v, want 1", got)
	}
	if n := e.log.count("no edit slot freed up"); n != 1 {
		t.Errorf("%d log lines for the refusal", n)
	}
	// The held edits, released past their deadline, end (503: their
	// store reads are out of time) and free their slots.
	close(be.release)
	for range 2 {
		if r := <-results; r.code == -1 {
			t.Errorf("held edit: no answer")
		}
	}
	if code, _, body := e.do(t, c, "PUT", "/api/v1/zones/example.com.?dry_run=1", auth, editZoneFile); code != http.StatusOK {
		t.Errorf("after the slots freed up: %d %s", code, body)
	}
	if got := testutil.ToFloat64(m.editsWaiting) + testutil.ToFloat64(m.editsRunning); got != 0 {
		t.Errorf("waiting+running %v after all finished", got)
	}
}

// TestZoneBombRefusedThroughAPI: a ~1 KB body of $GENERATE lines (2 M
// records if expanded) and a body of plain records over
// limits.zone_max_records (1,000 here) are both 400 naming the line, fast,
// without the heap growing with what the body would expand to.
func TestZoneBombRefusedThroughAPI(t *testing.T) {
	e := abuseServer(t, EditOptions{}, nil)
	c := clientFrom("127.0.0.1")
	auth := "Bearer " + editRW
	var bomb strings.Builder
	bomb.WriteString(editZoneFile)
	for i := range 32 {
		fmt.Fprintf(&bomb, "$GENERATE 0-65535 h%d-$ A 192.0.2.1\n", i)
	}
	var plain strings.Builder
	plain.WriteString(editZoneFile)
	for i := range 1200 {
		fmt.Fprintf(&plain, "h%d A 192.0.2.1\n", i)
	}
	for _, tc := range []struct {
		name, body string
		line       int
		msg        string
	}{
		// The first $GENERATE already takes 3 + 65,536 records past 1,000.
		{"$GENERATE bomb", bomb.String(), 6, "limits.zone_max_records"},
		// The 1,001st record: 3 in the head, so h997 on line 1003.
		{"plain records", plain.String(), 1003, "more than 1000 records"},
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		code, _, body := e.do(t, c, "PUT", "/api/v1/zones/example.com.", auth, tc.body)
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		want := fmt.Sprintf(`"line": %d`, tc.line)
		if code != http.StatusBadRequest || !strings.Contains(body, want) || !strings.Contains(body, tc.msg) {
			t.Errorf("%s (%d bytes): %d %s, want 400 at line %d", tc.name, len(tc.body), code, body, tc.line)
		}
		if took > time.Second {
			t.Errorf("%s refused in %s", tc.name, took)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20 {
			t.Errorf("%s: %d bytes allocated to refuse it", tc.name, grew)
		}
		t.Logf("%s, %d bytes: %d in %s, %d KB allocated", tc.name, len(tc.body), code, took, (after.TotalAlloc-before.TotalAlloc)>>10)
	}
	if got := testutil.ToFloat64(e.srv.metrics.editsLimited); got != 2 {
		t.Errorf("gtm_api_edit_limit_refusals_total %v, want 2", got)
	}
	if n := e.log.count("over a zone limit"); n != 1 {
		t.Errorf("%d log lines for 2 refusals within 10 s, want 1", n)
	}
}
