package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gtm-project/gtm/internal/redistest"
	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

const (
	editRW = "rw-token-0123456789"
	editRO = "ro-token-0123456789"
)

// editConfig: three regions (ap-south is nearer eu-west than us-east), one
// zone and one latency service from files.
const editConfig = `
node: {region: eu-west, id: edit-test}
regions:
  eu-west: {lat: 50, lon: 8}
  us-east: {lat: 40, lon: -74}
  ap-south: {lat: 1, lon: 103}
zones:
  - {origin: example.com., file: example.com.zone}
services:
  - name: api.example.com.
    endpoints:
      - {name: gw-eu-1, region: eu-west, address: 192.0.2.10}
      - {name: gw-us-1, region: us-east, address: 198.51.100.10}
`

const editZoneFile = `$ORIGIN example.com.
$TTL 300
@   IN SOA ns1 hostmaster ( 5 7200 900 1209600 300 )
    IN NS ns1
ns1 IN A 192.0.2.53
`

// editClock is the fixed day the serial convention is computed from.
var editDay = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

// editEditor is the Editor the wiring provides, in its simplest form: the
// files overlaid with every document in the store.
type editEditor struct {
	base *zones.Set
	docs store.Store
}

func (e *editEditor) edits(ctx context.Context, replace *zones.Edit) ([]zones.Edit, error) {
	var out []zones.Edit
	for _, kind := range []string{store.KindZone, store.KindService} {
		docs, err := e.docs.Docs(ctx, kind)
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			if replace != nil && replace.Kind == d.Kind && dns.CanonicalName(replace.Name) == d.Name {
				continue
			}
			out = append(out, zones.Edit{Kind: d.Kind, Name: d.Name, Body: d.Body, Version: d.Version})
		}
	}
	if replace != nil && !replace.Deleted {
		out = append(out, *replace)
	}
	return out, nil
}

func (e *editEditor) Effective() *zones.Set {
	edits, err := e.edits(context.Background(), nil)
	if err != nil {
		return e.base
	}
	set, err := zones.Overlay(e.base, edits)
	if err != nil {
		return e.base
	}
	return set
}

func (e *editEditor) Validate(ctx context.Context, edit zones.Edit) (*zones.Set, error) {
	edits, err := e.edits(ctx, &edit)
	if err != nil {
		return nil, err
	}
	return zones.Overlay(e.base, edits)
}

// Check is what cmd/gtm's editor does for a zone written: the same
// errors as Validate, the edited zone checked as it is parsed.
func (e *editEditor) Check(ctx context.Context, edit zones.Edit) error {
	edits, err := e.edits(ctx, &edit)
	if err != nil {
		return err
	}
	return zones.CheckOverlay(e.base, edits, nil)
}

type editEnv struct {
	url   string
	store store.Store
}

// editServer runs an api.Server with the edit endpoints on 127.0.0.1:0
// over st (a fresh memory store when nil).
func editServer(t *testing.T, st store.Store, opt EditOptions) *editEnv {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"gtm.yaml": editConfig, "example.com.zone": editZoneFile,
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
	if st == nil {
		st = store.NewMemory(time.Now)
	}
	toks, err := LoadTokens(filepath.Join(dir, "tokens"))
	if err != nil {
		t.Fatal(err)
	}
	srv := New("127.0.0.1:0", prometheus.NewRegistry(), nil, zerolog.Nop())
	srv.Tokens = toks
	if opt.Now == nil {
		opt.Now = func() time.Time { return editDay }
	}
	srv.HandleEdits(st, &editEditor{base: base, docs: st}, opt)
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
	return &editEnv{url: "http://" + srv.Bound().String(), store: st}
}

type editResp struct {
	code int
	hdr  http.Header
	body []byte
}

func (r editResp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%s: %v", r.body, err)
	}
}

// call sends one request; hdr holds header pairs, "token" the bearer.
func (e *editEnv) call(t *testing.T, method, path, ctype, body string, hdr ...string) editResp {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "token" {
			req.Header.Set("Authorization", "Bearer "+hdr[i+1])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return editResp{resp.StatusCode, resp.Header, b}
}

func (e *editEnv) putZone(t *testing.T, text string, hdr ...string) editResp {
	t.Helper()
	return e.call(t, "PUT", "/api/v1/zones/example.com.", "text/dns", text, append([]string{"token", editRW}, hdr...)...)
}

// result decodes a ChangeResult afresh (omitted fields stay zero).
func (r editResp) result(t *testing.T) ChangeResult {
	t.Helper()
	var res ChangeResult
	r.json(t, &res)
	return res
}

func wantCode(t *testing.T, r editResp, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("status %d, want %d: %s", r.code, code, r.body)
	}
}

// zoneText is example.com. with a serial and extra lines.
func zoneText(serial string, extra ...string) string {
	return "$TTL 300\n@ IN SOA ns1 hostmaster ( " + serial + " 7200 900 1209600 300 ) ; the SOA\n" +
		"  IN NS ns1\nns1 IN A 192.0.2.53\n" + strings.Join(extra, "\n") + "\n"
}

func TestEditsNeedAWriteToken(t *testing.T) {
	e := editServer(t, nil, EditOptions{})
	for _, tc := range []struct {
		method, path string
		hdr          []string
		code         int
	}{
		{"PUT", "/api/v1/zones/example.com.", nil, 401},
		{"PUT", "/api/v1/zones/example.com.", []string{"token", "not-a-token-at-all"}, 401},
		{"PUT", "/api/v1/zones/example.com.", []string{"token", editRO}, 403},
		{"DELETE", "/api/v1/zones/example.com.", nil, 401},
		{"POST", "/api/v1/zones/example.com./rollback?version=1", []string{"token", editRO}, 403},
		{"PUT", "/api/v1/services/api.example.com.", nil, 401},
		{"DELETE", "/api/v1/services/api.example.com.", []string{"token", editRO}, 403},
	} {
		r := e.call(t, tc.method, tc.path, "text/dns", zoneText("9"), tc.hdr...)
		if r.code != tc.code {
			t.Errorf("%s %s %v: %d, want %d (%s)", tc.method, tc.path, tc.hdr, r.code, tc.code, r.body)
		}
	}
	for _, kind := range []string{store.KindZone, store.KindService} {
		if docs, _ := e.store.Docs(context.Background(), kind); len(docs) != 0 {
			t.Errorf("refused calls wrote %v", docs)
		}
	}
	// Reads are open by default.
	wantCode(t, e.call(t, "GET", "/api/v1/zones", "", ""), 200)
}

func TestEditsReadAuth(t *testing.T) {
	e := editServer(t, nil, EditOptions{ReadAuth: true})
	wantCode(t, e.call(t, "GET", "/api/v1/zones", "", ""), 401)
	wantCode(t, e.call(t, "GET", "/api/v1/services/api.example.com.", "", ""), 401)
	wantCode(t, e.call(t, "GET", "/api/v1/zones/example.com.", "", "", "token", editRO), 200)
}

func TestEditZoneRefusedWithLines(t *testing.T) {
	e := editServer(t, nil, EditOptions{})
	var got struct {
		Errors []Problem `json:"errors"`
	}
	r := e.putZone(t, zoneText("9", "www IN A 192.0.2.300", "mail IN MX 10"))
	wantCode(t, r, 400)
	r.json(t, &got)
	if len(got.Errors) != 1 || got.Errors[0].File != "zone example.com. (new)" || got.Errors[0].Line != 5 {
		t.Errorf("errors: %+v, want one at zone example.com. (new):5", got.Errors)
	}

	r = e.putZone(t, zoneText("9", "$INCLUDE /etc/passwd"))
	wantCode(t, r, 400)
	r.json(t, &got)
	if len(got.Errors) != 1 || got.Errors[0].Line != 5 || !strings.Contains(got.Errors[0].Message, "$INCLUDE") {
		t.Errorf("$INCLUDE: %+v", got.Errors)
	}
	if strings.Contains(string(r.body), "root:") {
		t.Errorf("the server read the included file: %s", r.body)
	}

	// JSON records: the error names the record.
	r = e.call(t, "PUT", "/api/v1/zones/example.com.", "application/json",
		`{"records": ["@ 300 IN SOA ns1 hostmaster 9 7200 900 1209600 300", "@ 300 IN NS ns1", "ns1 300 IN A 192.0.2.999"]}`, "token", editRW)
	wantCode(t, r, 400)
	r.json(t, &got)
	if len(got.Errors) != 1 || got.Errors[0].Line != 3 || got.Errors[0].Path != "records[2]" {
		t.Errorf("JSON errors: %+v, want line 3, records[2]", got.Errors)
	}

	// A zone from files is not deleted through the API.
	r = e.call(t, "DELETE", "/api/v1/zones/example.com.", "", "", "token", editRW)
	wantCode(t, r, 409) // from files: not deletable here
	if _, err := e.store.History(context.Background(), store.KindZone, "example.com.", 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refused edits were stored: %v", err)
	}
}

func TestEditZoneTextAndJSON(t *testing.T) {
	e := editServer(t, nil, EditOptions{})
	r := e.call(t, "GET", "/api/v1/zones/example.com.", "", "")
	wantCode(t, r, 200)
	if r.hdr.Get("ETag") != `"0"` || r.hdr.Get("X-Gtm-Source") != "file" || !strings.HasPrefix(r.hdr.Get("Content-Type"), "text/dns") {
		t.Errorf("file zone headers: %v", r.hdr)
	}
	// What GET renders for a file zone can be PUT back as it is.
	fileText := string(r.body)
	if !strings.HasPrefix(fileText, "$ORIGIN example.com.\n") || !strings.Contains(fileText, "ns1.example.com.\t300\tIN\tA\t192.0.2.53") {
		t.Errorf("rendered file zone:\n%s", fileText)
	}

	r = e.call(t, "PUT", "/api/v1/zones/example.com.?comment=add+www", "application/json",
		`{"records": ["@ 300 IN SOA ns1 hostmaster 2030010100 7200 900 1209600 300", "@ 300 IN NS ns1", "ns1 300 IN A 192.0.2.53", "www 60 IN A 192.0.2.80"]}`,
		"token", editRW)
	wantCode(t, r, 200)
	var res ChangeResult
	r.json(t, &res)
	if res.Version != 1 || res.Previous != 0 || res.Source != "api" || res.Serial != 2030010100 || res.SerialWritten != 0 {
		t.Errorf("result: %+v", res)
	}
	if !strings.Contains(res.Diff, "+www 60 IN A 192.0.2.80\n") || !strings.Contains(res.Diff, "-ns1.example.com.\t300\tIN\tA\t192.0.2.53\n") {
		t.Errorf("diff against the rendered file zone:\n%s", res.Diff)
	}

	r = e.call(t, "GET", "/api/v1/zones/example.com.", "", "")
	if r.hdr.Get("ETag") != `"1"` || r.hdr.Get("X-Gtm-Source") != "api" || !strings.HasSuffix(string(r.body), "www 60 IN A 192.0.2.80\n") {
		t.Errorf("GET after PUT: %v\n%s", r.hdr, r.body)
	}
	var doc map[string]any
	e.call(t, "GET", "/api/v1/zones/example.com.", "", "", "Accept", "application/json").json(t, &doc)
	if doc["version"] != float64(1) || doc["by"] != "alice" || doc["comment"] != "add www" || !strings.Contains(doc["text"].(string), "www 60") {
		t.Errorf("JSON GET: %v", doc)
	}

	// The list shows the document and, for services, the file's.
	var zl, sl []listEntry
	e.call(t, "GET", "/api/v1/zones", "", "").json(t, &zl)
	if len(zl) != 1 || zl[0].Origin != "example.com." || zl[0].Source != "api" || zl[0].Version != 1 || zl[0].By != "alice" ||
		zl[0].Serial != 2030010100 || zl[0].Records != 4 || !zl[0].Served {
		t.Errorf("zones: %+v", zl)
	}
	e.call(t, "GET", "/api/v1/services", "", "").json(t, &sl)
	if len(sl) != 1 || sl[0].Name != "api.example.com." || sl[0].Source != "file" || sl[0].Endpoints != 2 || sl[0].Policy != "latency" {
		t.Errorf("services: %+v", sl)
	}

	wantCode(t, e.call(t, "PUT", "/api/v1/zones/example.com.", "image/png", "x", "token", editRW), 415)
	wantCode(t, e.call(t, "GET", "/api/v1/zones/example.org.", "", ""), 404)
}

func TestEditZoneIfMatch(t *testing.T) {
	e := editServer(t, nil, EditOptions{})
	wantCode(t, e.putZone(t, zoneText("2030010100"), "If-Match", `"1"`), 409) // nothing at v1 yet
	wantCode(t, e.putZone(t, zoneText("2030010100"), "If-Match", `"0"`), 200)
	r := e.putZone(t, zoneText("2030010101", "a IN A 192.0.2.1"), "If-Match", `"1"`)
	wantCode(t, r, 200)
	// A writer still holding version 1 is refused and told the current one.
	r = e.putZone(t, zoneText("2030010102", "b IN A 192.0.2.2"), "If-Match", `"1"`)
	wantCode(t, r, 409)
	var c map[string]any
	r.json(t, &c)
	if c["version"] != float64(2) {
		t.Errorf("409 body: %s", r.body)
	}
	wantCode(t, e.call(t, "DELETE", "/api/v1/zones/example.com.", "", "", "token", editRW, "If-Match", `"1"`), 409)
	wantCode(t, e.putZone(t, zoneText("2030010102", "b IN A 192.0.2.2"), "If-Match", "*"), 200)
	d, err := e.store.History(context.Background(), store.KindZone, "example.com.", 0)
	if err != nil || len(d) != 3 || !strings.Contains(string(d[0].Body), "b IN A") {
		t.Fatalf("history: %v %v", d, err)
	}
	// Without If-Match a write is unconditional.
	wantCode(t, e.putZone(t, zoneText("2030010103")), 200)
	wantCode(t, e.putZone(t, zoneText("1"), "If-Match", "four"), 400)
}

func TestEditZoneSerialRises(t *testing.T) {
	e := editServer(t, nil, EditOptions{})
	// Serial 5 is the file's: not greater, so today's YYYYMMDD00 is used,
	// in place, keeping the comment and the layout.
	r := e.putZone(t, zoneText("5", "www IN A 192.0.2.80"))
	wantCode(t, r, 200)
	var res ChangeResult
	r.json(t, &res)
	if res.Serial != 2025061500 || res.SerialWritten != 5 {
		t.Errorf("serial %d (sent %d), want 2025061500 (sent 5)", res.Serial, res.SerialWritten)
	}
	got := e.call(t, "GET", "/api/v1/zones/example.com.", "", "")
	if string(got.body) != zoneText("2025061500", "www IN A 192.0.2.80") {
		t.Errorf("stored:\n%s", got.body)
	}
	// The same serial again: one more.
	res = e.putZone(t, zoneText("2025061500", "www IN A 192.0.2.81")).result(t)
	if res.Serial != 2025061501 || res.SerialWritten != 2025061500 {
		t.Errorf("second edit: serial %d, want 2025061501", res.Serial)
	}
	// A serial that rises is kept; a multi-line SOA is found too.
	multi := "$TTL 300\n@ IN SOA ns1 hostmaster (\n    ; serial below\n    2025070100 ; date\n    7200 900 1209600 300 )\n  IN NS ns1\nns1 IN A 192.0.2.53\n"
	res = e.putZone(t, multi).result(t)
	if res.Serial != 2025070100 || res.SerialWritten != 0 {
		t.Errorf("rising serial: %+v", res)
	}
	res = e.putZone(t, strings.Replace(multi, "2025070100", "7", 1)).result(t)
	got = e.call(t, "GET", "/api/v1/zones/example.com.", "", "")
	if res.Serial != 2025070101 || string(got.body) != strings.Replace(multi, "2025070100", "2025070101", 1) {
		t.Errorf("multi-line SOA: serial %d, stored:\n%s", res.Serial, got.body)
	}
}

func TestSerialHelpers(t *testing.T) {
	for _, tc := range []struct {
		cur, want uint32
	}{
		{5, 2025061500},
		{2025061500, 2025061501},
		{2025061599, 2025061600},
		{3000000000, 3000000001}, // above today: just one more
		{4294967295, 2025061500}, // wraps (RFC 1982): today is above 0
	} {
		if got := zones.NextSerial(tc.cur, editDay); got != tc.want {
			t.Errorf("zones.NextSerial(%d) = %d, want %d", tc.cur, got, tc.want)
		}
	}
	if !zones.SerialGreater(1, 4294967295) || zones.SerialGreater(4294967295, 1) || zones.SerialGreater(7, 7) {
		t.Error("zones.SerialGreater does not follow RFC 1982")
	}
	if _, ok := replaceSerial([]byte("@ IN SOA ns1 h ( 8 1 2 3 4 )\n"), 1, 9, 10); ok {
		t.Error("replaceSerial replaced a serial that does not hold the old value")
	}
	out, ok := replaceSerial([]byte("x A 1.2.3.4\n@ soa ns1 h\\ x 8 1 2 3 4\n"), 2, 8, 10)
	if !ok || string(out) != "x A 1.2.3.4\n@ soa ns1 h\\ x 10 1 2 3 4\n" {
		t.Errorf("replaceSerial: %q %v", out, ok)
	}
}

func TestEditHistoryAndRollback(t *testing.T) {
	e := editServer(t, nil, EditOptions{})
	for i, c := range []string{"first", "second", "third"} {
		wantCode(t, e.putZone(t, zoneText(string(rune('1'+i))+"030010100", "v"+c+" IN A 192.0.2.1"), "X-Gtm-Comment", c), 200)
	}
	var h struct {
		Versions []historyEntry `json:"versions"`
	}
	e.call(t, "GET", "/api/v1/zones/example.com./history", "", "").json(t, &h)
	if len(h.Versions) != 3 {
		t.Fatalf("history: %+v", h)
	}
	for i, v := range h.Versions {
		if v.Version != uint64(3-i) || v.By != "alice" || v.Comment != []string{"third", "second", "first"}[i] || v.At.IsZero() {
			t.Errorf("history[%d]: %+v", i, v)
		}
	}
	if !strings.Contains(h.Versions[0].Diff, "-vsecond IN A 192.0.2.1\n+vthird IN A 192.0.2.1\n") ||
		!strings.HasPrefix(h.Versions[0].Diff, "--- example.com. (v2)\n+++ example.com. (v3)\n@@ -1,5 +1,5 @@\n") {
		t.Errorf("diff v2→v3:\n%s", h.Versions[0].Diff)
	}
	if !strings.Contains(h.Versions[2].Diff, "+vfirst IN A") {
		t.Errorf("v1 diff from nothing:\n%s", h.Versions[2].Diff)
	}
	e.call(t, "GET", "/api/v1/zones/example.com./history?limit=1", "", "").json(t, &h)
	if len(h.Versions) != 1 || h.Versions[0].Diff == "" {
		t.Errorf("limit=1: %+v", h.Versions)
	}

	// Rolling back to v1 writes its text as v4, serial raised above v3's.
	r := e.call(t, "POST", "/api/v1/zones/example.com./rollback?version=1", "", "", "token", editRW)
	wantCode(t, r, 200)
	var res ChangeResult
	r.json(t, &res)
	if res.Version != 4 || res.Serial != 3030010101 || !strings.Contains(res.Diff, "+vfirst") {
		t.Errorf("rollback: %+v", res)
	}
	got := e.call(t, "GET", "/api/v1/zones/example.com.", "", "")
	if string(got.body) != zoneText("3030010101", "vfirst IN A 192.0.2.1") {
		t.Errorf("after rollback:\n%s", got.body)
	}
	e.call(t, "GET", "/api/v1/zones/example.com./history?limit=1", "", "").json(t, &h)
	if h.Versions[0].Comment != "rollback to v1" {
		t.Errorf("rollback comment: %+v", h.Versions[0])
	}
	wantCode(t, e.call(t, "POST", "/api/v1/zones/example.com./rollback?version=9", "", "", "token", editRW), 404)
	wantCode(t, e.call(t, "POST", "/api/v1/zones/example.com./rollback?version=1", "", "", "token", editRW, "If-Match", `"3"`), 409)
	wantCode(t, e.call(t, "GET", "/api/v1/zones/example.org./history", "", ""), 404)
}

func TestEditDeleteFallsBackToFiles(t *testing.T) {
	e := editServer(t, nil, EditOptions{})
	wantCode(t, e.putZone(t, zoneText("2030010100", "www IN A 192.0.2.80")), 200)
	r := e.call(t, "DELETE", "/api/v1/zones/example.com.?comment=undo", "", "", "token", editRW, "If-Match", `"1"`)
	wantCode(t, r, 200)
	var res ChangeResult
	r.json(t, &res)
	if !res.Deleted || res.Version != 2 || res.Source != "file" || !strings.Contains(res.Diff, "-www IN A 192.0.2.80") {
		t.Errorf("delete: %+v", res)
	}
	r = e.call(t, "GET", "/api/v1/zones/example.com.", "", "")
	if r.hdr.Get("X-Gtm-Source") != "file" || r.hdr.Get("ETag") != `"2"` {
		t.Errorf("after delete: %v", r.hdr)
	}
	wantCode(t, e.call(t, "DELETE", "/api/v1/zones/example.com.", "", "", "token", editRW), 409) // files only now

	// A new zone with a service in it cannot go while the service needs it.
	net := "$TTL 60\n@ SOA ns1.example.com. h 1 2 3 4 5\n@ NS ns1.example.com.\n"
	wantCode(t, e.call(t, "PUT", "/api/v1/zones/example.net.", "text/dns", net, "token", editRW), 200)
	wantCode(t, e.call(t, "PUT", "/api/v1/services/web.example.net.", "application/yaml",
		"endpoints:\n  - {name: w, region: us-east, address: 198.51.100.20}\n", "token", editRW), 200)
	r = e.call(t, "DELETE", "/api/v1/zones/example.net.", "", "", "token", editRW)
	wantCode(t, r, 400)
	if !strings.Contains(string(r.body), "web.example.net. is outside every zone served") {
		t.Errorf("delete refused for: %s", r.body)
	}
	wantCode(t, e.call(t, "DELETE", "/api/v1/services/web.example.net.", "", "", "token", editRW), 200)
	wantCode(t, e.call(t, "DELETE", "/api/v1/zones/example.net.", "", "", "token", editRW), 200)
	wantCode(t, e.call(t, "DELETE", "/api/v1/zones/example.net.", "", "", "token", editRW), 404)
}

func TestEditDryRunChangesNothing(t *testing.T) {
	e := editServer(t, nil, EditOptions{})
	r := e.call(t, "PUT", "/api/v1/zones/example.com.?dry_run=1", "text/dns", zoneText("5", "www IN A 192.0.2.80"), "token", editRW)
	wantCode(t, r, 200)
	var res ChangeResult
	r.json(t, &res)
	if !res.DryRun || res.Version != 0 || res.Serial != 2025061500 || !strings.Contains(res.Diff, "+www IN A 192.0.2.80") {
		t.Errorf("zone dry run: %+v", res)
	}
	if _, err := e.store.History(context.Background(), store.KindZone, "example.com.", 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("dry run wrote: %v", err)
	}

	// A service: moving the EU gateway changes the answer in eu-west and
	// in ap-south (nearest to eu-west), not in us-east.
	svc := `name: api.example.com.
endpoints:
  - {name: gw-eu-2, region: eu-west, address: 192.0.2.20}
  - {name: gw-us-1, region: us-east, address: 198.51.100.10}
`
	r = e.call(t, "PUT", "/api/v1/services/api.example.com.?dry_run=true", "application/yaml", svc, "token", editRW)
	wantCode(t, r, 200)
	res = r.result(t)
	want := []RegionChange{
		{Region: "eu-west", Before: []string{"gw-eu-1 192.0.2.10"}, After: []string{"gw-eu-2 192.0.2.20"}},
		{Region: "ap-south", Before: []string{"gw-eu-1 192.0.2.10"}, After: []string{"gw-eu-2 192.0.2.20"}},
	}
	if !slices.EqualFunc(res.ChangedRegions, want, func(a, b RegionChange) bool {
		return a.Region == b.Region && slices.Equal(a.Before, b.Before) && slices.Equal(a.After, b.After)
	}) {
		t.Errorf("changed regions: %+v, want %+v", res.ChangedRegions, want)
	}
	if !strings.Contains(res.Diff, "+  - {name: gw-eu-2") || !strings.Contains(res.Diff, "--- api.example.com. (files)") {
		t.Errorf("service diff:\n%s", res.Diff)
	}
	if docs, _ := e.store.Docs(context.Background(), store.KindService); len(docs) != 0 {
		t.Errorf("dry run wrote %v", docs)
	}
	var sl []listEntry
	e.call(t, "GET", "/api/v1/services", "", "").json(t, &sl)
	if len(sl) != 1 || sl[0].Source != "file" {
		t.Errorf("services after dry run: %+v", sl)
	}
}

func TestEditServiceYAMLAndJSON(t *testing.T) {
	e := editServer(t, nil, EditOptions{})
	// The file's service, rendered, goes back unchanged.
	r := e.call(t, "GET", "/api/v1/services/api.example.com.", "", "")
	wantCode(t, r, 200)
	if !strings.HasPrefix(r.hdr.Get("Content-Type"), "application/yaml") || !strings.Contains(string(r.body), "address: 192.0.2.10") {
		t.Fatalf("rendered service: %v\n%s", r.hdr, r.body)
	}
	r = e.call(t, "PUT", "/api/v1/services/api.example.com.", "application/yaml", string(r.body), "token", editRW)
	wantCode(t, r, 200)
	var res ChangeResult
	r.json(t, &res)
	if res.Version != 1 || len(res.ChangedRegions) != 0 {
		t.Errorf("re-PUT of the rendered service: %+v", res)
	}

	js := `{"name": "api.example.com.", "policy": "failover",
 "endpoints": [{"name": "gw-eu-1", "region": "eu-west", "address": "192.0.2.10", "priority": 1},
               {"name": "gw-us-1", "region": "us-east", "address": "198.51.100.10"}]}`
	r = e.call(t, "PUT", "/api/v1/services/api.example.com.", "application/json", js, "token", editRW, "If-Match", `"1"`)
	wantCode(t, r, 200)
	r.json(t, &res)
	// Failover to priority 0 everywhere: eu-west and ap-south now get us-east.
	if res.Version != 2 || len(res.ChangedRegions) != 2 || res.ChangedRegions[0].After[0] != "gw-us-1 198.51.100.10" {
		t.Errorf("JSON PUT: %+v", res)
	}
	if got := e.call(t, "GET", "/api/v1/services/api.example.com.", "", ""); string(got.body) != js {
		t.Errorf("stored JSON: %s", got.body)
	}

	var bad struct {
		Errors []Problem `json:"errors"`
	}
	r = e.call(t, "PUT", "/api/v1/services/api.example.com.", "application/yaml",
		"ttl: 30\nendpoints:\n  - {name: a, region: mars, address: 192.0.2.1}\n  - {name: b, region: eu-west, adress: 192.0.2.2}\n", "token", editRW)
	wantCode(t, r, 400)
	r.json(t, &bad)
	if len(bad.Errors) == 0 || bad.Errors[0].Line != 4 || bad.Errors[0].File != "service api.example.com. (new)" {
		t.Errorf("YAML errors: %+v", bad.Errors)
	}
	r = e.call(t, "PUT", "/api/v1/services/api.example.com.", "application/yaml",
		"ttl: 30\nendpoints:\n  - {name: a, region: mars, address: 192.0.2.1}\n", "token", editRW)
	wantCode(t, r, 400)
	r.json(t, &bad)
	if len(bad.Errors) != 1 || bad.Errors[0].Line != 3 || bad.Errors[0].Path != "endpoints[0].region" || !strings.Contains(bad.Errors[0].Message, `unknown region "mars"`) {
		t.Errorf("YAML errors: %+v", bad.Errors)
	}
	r = e.call(t, "PUT", "/api/v1/services/api.example.com.", "application/yaml",
		"name: other.example.com.\nendpoints: [{name: a, region: eu-west, address: 192.0.2.1}]\n", "token", editRW)
	wantCode(t, r, 400)
}

func TestUnifiedDiff(t *testing.T) {
	lines := func(n int, change map[int]string) []byte {
		var b bytes.Buffer
		for i := 1; i <= n; i++ {
			if c, ok := change[i]; ok {
				if c != "" {
					b.WriteString(c + "\n")
				}
				continue
			}
			b.WriteString("line" + string(rune('a'+i-1)) + "\n")
		}
		return b.Bytes()
	}
	for _, tc := range []struct {
		name string
		a, b []byte
		want string
	}{
		{"equal", lines(5, nil), lines(5, nil), ""},
		{"from nothing", nil, []byte("x\ny\n"), "@@ -0,0 +1,2 @@\n+x\n+y\n"},
		{"to nothing", []byte("x\n"), nil, "@@ -1 +0,0 @@\n-x\n"},
		{"one change", lines(10, nil), lines(10, map[int]string{5: "five"}),
			"@@ -2,7 +2,7 @@\n lineb\n linec\n lined\n-linee\n+five\n linef\n lineg\n lineh\n"},
		{"two hunks", lines(20, nil), lines(20, map[int]string{2: "", 18: "X"}),
			"@@ -1,5 +1,4 @@\n linea\n-lineb\n linec\n lined\n linee\n@@ -15,6 +14,6 @@\n lineo\n linep\n lineq\n-liner\n+X\n lines\n linet\n"},
	} {
		want := tc.want
		if want != "" {
			want = "--- a\n+++ b\n" + want
		}
		if got := unifiedDiff("a", "b", tc.a, tc.b); got != want {
			t.Errorf("%s:\n%s\nwant:\n%s", tc.name, got, want)
		}
	}
	// Interleaved edits in the middle go through the LCS.
	got := unifiedDiff("a", "b", []byte("a\nb\nc\nd\ne\n"), []byte("a\nc\nb\nd\nx\ne\n"))
	ops := strings.Split(strings.TrimSuffix(got, "\n"), "\n")[3:]
	kept := 0
	for _, op := range ops {
		if op[0] == ' ' {
			kept++
		}
	}
	if kept != 4 { // a, (b or c), d, e: an LCS of length 4
		t.Errorf("LCS diff keeps %d lines, want 4:\n%s", kept, got)
	}
}

// TestEditsOnRedis runs a write, a conflict and the history against a real
// redis-server.
func TestEditsOnRedis(t *testing.T) {
	srv := redistest.Start(t)
	st, err := store.NewRedis(store.RedisOptions{Addrs: []string{srv.Addr}, Prefix: "edits"}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e := editServer(t, st, EditOptions{})
	wantCode(t, e.putZone(t, zoneText("5", "www IN A 192.0.2.80")), 200)
	wantCode(t, e.putZone(t, zoneText("6", "www IN A 192.0.2.81"), "If-Match", `"1"`), 200)
	wantCode(t, e.putZone(t, zoneText("7"), "If-Match", `"1"`), 409)
	var h struct {
		Versions []historyEntry `json:"versions"`
	}
	e.call(t, "GET", "/api/v1/zones/example.com./history", "", "").json(t, &h)
	if len(h.Versions) != 2 || h.Versions[0].By != "alice" || !strings.Contains(h.Versions[0].Diff, "+www IN A 192.0.2.81") {
		t.Errorf("history on Redis: %+v", h.Versions)
	}
	if got := e.call(t, "GET", "/api/v1/zones/example.com.", "", ""); got.hdr.Get("ETag") != `"2"` || !strings.Contains(string(got.body), "2025061501") {
		t.Errorf("GET on Redis: %v\n%s", got.hdr, got.body)
	}
}
