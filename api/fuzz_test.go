package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// fuzzEdits is the edit API over a memory store, served in-process: the
// fuzzer needs thousands of requests a second, which real sockets would
// spend on the kernel. The handlers, decoding, validation and store writes
// are the ones a real request reaches.
func fuzzEdits(f *testing.F) http.Handler {
	f.Helper()
	dir := f.TempDir()
	// Small limits: a body may still ask for a million records (the
	// default cap), which is allowed and costs seconds; the fuzzer should
	// spend its time on the parser, not on building big zones.
	cfg := editConfig + "limits: {zone_max_records: 5000, generate_max_range: 1000}\n"
	for name, body := range map[string]string{
		"gtm.yaml": cfg, "example.com.zone": editZoneFile,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			f.Fatal(err)
		}
	}
	base, err := zones.Load(filepath.Join(dir, "gtm.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	st := store.NewMemory(time.Now)
	srv := New("127.0.0.1:0", prometheus.NewRegistry(), nil, zerolog.Nop())
	toks, err := parseTokensForFuzz(dir)
	if err != nil {
		f.Fatal(err)
	}
	srv.Tokens = toks
	srv.HandleEdits(st, &editEditor{base: base, docs: st}, EditOptions{Now: func() time.Time { return editDay }})
	return srv.Mux
}

func parseTokensForFuzz(dir string) (Tokens, error) {
	p := filepath.Join(dir, "tokens")
	if err := os.WriteFile(p, []byte(editRW+" rw fuzz\n"), 0o600); err != nil {
		return nil, err
	}
	return LoadTokens(p)
}

// fuzzPut sends body to path with a Content-Type and checks what any
// body must get: a documented status, never a 5xx other than 503 (the
// store), and a JSON answer that names the problem. It returns the status.
func fuzzPut(t *testing.T, h http.Handler, path, ctype string, body []byte, dry bool) int {
	t.Helper()
	if dry {
		path += "?dry_run=1"
	}
	req := httptest.NewRequest(http.MethodPut, path, strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+editRW)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(rec, req)
	if took := time.Since(start); took > 3*time.Second {
		// A small body must not cost seconds (the 10 s edit deadline would
		// turn it into a 503 anyway).
		t.Fatalf("%d-byte body took %v (status %d)", len(body), took, rec.Code)
	}
	switch rec.Code {
	case http.StatusOK:
		var res ChangeResult
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
			t.Fatalf("200 with a body that is not a ChangeResult: %v\n%s", err, rec.Body.Bytes())
		}
		if res.DryRun != dry {
			t.Fatalf("dry_run=%v answered as dry_run=%v", dry, res.DryRun)
		}
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType,
		http.StatusConflict, http.StatusServiceUnavailable, http.StatusTooManyRequests:
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
			t.Fatalf("%d without a JSON error: %v\n%s", rec.Code, err, rec.Body.Bytes())
		}
	default:
		t.Fatalf("status %d for %q (%s): %s", rec.Code, body, ctype, rec.Body.Bytes())
	}
	return rec.Code
}

// FuzzZoneBody sends arbitrary zone bodies, as a master file or as JSON,
// through PUT /api/v1/zones/: a body is refused with its problems or
// accepted, never a panic or a 500, and an accepted one reads back.
func FuzzZoneBody(f *testing.F) {
	h := fuzzEdits(f)
	seedFiles(f, func(b []byte) { f.Add(b, false, true) }, "../zones/testdata/*.zone", "../examples/*/*.zone")
	f.Add([]byte(editZoneFile+"www IN A 192.0.2.80\n"), false, false)
	f.Add([]byte("$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n$GENERATE 1-4 h$ A 192.0.2.$\n"), false, true)
	f.Add([]byte("$INCLUDE /etc/passwd\n"), false, true)
	f.Add([]byte(`{"records": ["@ 300 IN SOA ns1 h 9 2 3 4 5", "@ NS ns1", "ns1 A 192.0.2.1"]}`), true, false)
	f.Add([]byte(`{"records": ["a\nb"]}`), true, true)
	f.Fuzz(func(t *testing.T, body []byte, asJSON, dry bool) {
		ctype := "text/dns"
		if asJSON {
			ctype = "application/json"
		}
		if fuzzPut(t, h, "/api/v1/zones/example.com.", ctype, body, dry) != http.StatusOK || dry {
			return
		}
		req := httptest.NewRequest(http.MethodGet, "/api/v1/zones/example.com.", nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Body.Len() == 0 {
			t.Fatalf("accepted zone reads back as %d: %s", rec.Code, rec.Body.Bytes())
		}
	})
}

// FuzzServiceBody sends arbitrary service bodies (YAML or JSON) through
// PUT /api/v1/services/.
func FuzzServiceBody(f *testing.F) {
	h := fuzzEdits(f)
	f.Add([]byte("endpoints:\n  - {name: gw-eu-1, region: eu-west, address: 192.0.2.10}\n"), false)
	f.Add([]byte("policy: weighted\nttl: 30\nendpoints:\n  - {name: a, region: eu-west, address: 192.0.2.10, weight: 3}\n  - {name: b, region: us-east, address: 2001:db8::1}\n"), true)
	f.Add([]byte(`{"policy": "failover", "endpoints": [{"name": "a", "region": "eu-west", "address": "192.0.2.1", "priority": 1}]}`), false)
	f.Add([]byte("endpoints: [{name: a, region: mars, address: 1.2.3.4, check: {type: tcp}}]\n"), true)
	f.Add([]byte("&a [*a, *a]\n"), true)
	f.Fuzz(func(t *testing.T, body []byte, dry bool) {
		fuzzPut(t, h, "/api/v1/services/fuzz.example.com.", "application/yaml", body, dry)
	})
}

// seedFiles adds every file matching the patterns to the corpus through add.
func seedFiles(f *testing.F, add func([]byte), patterns ...string) {
	f.Helper()
	for _, p := range patterns {
		files, err := filepath.Glob(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			add(data)
		}
	}
}
