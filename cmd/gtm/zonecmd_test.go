package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gtm-project/gtm/api"
	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

const zcToken = "zc-rw-token-0123456789"

const zcConfig = `
node: {region: eu-west, id: zone-cmd-test}
regions:
  eu-west: {lat: 50, lon: 8}
  us-east: {lat: 40, lon: -74}
zones:
  - {origin: example.com., file: example.com.zone}
services:
  - name: api.example.com.
    endpoints:
      - {name: gw-eu-1, region: eu-west, address: 192.0.2.10}
      - {name: gw-us-1, region: us-east, address: 198.51.100.10}
`

const zcZone = "$ORIGIN example.com.\n$TTL 300\n@ IN SOA ns1 hostmaster ( 5 7200 900 1209600 300 )\n  IN NS ns1\nns1 IN A 192.0.2.53\n"

// zcEditor overlays every document in the store on the files, as the
// wiring in serve does.
type zcEditor struct {
	base *zones.Set
	docs store.Store
}

func (e *zcEditor) edits(ctx context.Context, replace *zones.Edit) ([]zones.Edit, error) {
	var out []zones.Edit
	for _, kind := range []string{store.KindZone, store.KindService} {
		docs, err := e.docs.Docs(ctx, kind)
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			if replace == nil || replace.Kind != d.Kind || dns.CanonicalName(replace.Name) != d.Name {
				out = append(out, zones.Edit{Kind: d.Kind, Name: d.Name, Body: d.Body, Version: d.Version})
			}
		}
	}
	if replace != nil && !replace.Deleted {
		out = append(out, *replace)
	}
	return out, nil
}

func (e *zcEditor) Effective() *zones.Set {
	edits, err := e.edits(context.Background(), nil)
	if err != nil {
		return e.base
	}
	if set, err := zones.Overlay(e.base, edits); err == nil {
		return set
	}
	return e.base
}

func (e *zcEditor) Validate(ctx context.Context, edit zones.Edit) (*zones.Set, error) {
	edits, err := e.edits(ctx, &edit)
	if err != nil {
		return nil, err
	}
	return zones.Overlay(e.base, edits)
}

// zcServer runs the edit API on 127.0.0.1:0 over a memory store and
// returns its URL, the store and a directory for files to apply.
func zcServer(t *testing.T) (string, store.Store, string) {
	t.Helper()
	dir := t.TempDir()
	zcWrite(t, dir, "gtm.yaml", zcConfig)
	zcWrite(t, dir, "example.com.zone", zcZone)
	zcWrite(t, dir, "tokens", zcToken+" rw carol\n")
	base, err := zones.Load(filepath.Join(dir, "gtm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	toks, err := api.LoadTokens(filepath.Join(dir, "tokens"))
	if err != nil {
		t.Fatal(err)
	}
	st := store.NewMemory(time.Now)
	srv := api.New("127.0.0.1:0", prometheus.NewRegistry(), nil, zerolog.Nop())
	srv.Tokens = toks
	srv.HandleEdits(st, &zcEditor{base: base, docs: st}, api.EditOptions{
		Now: func() time.Time { return time.Date(2025, 6, 15, 0, 0, 0, 0, time.UTC) },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("api: %v", err)
		}
	})
	select {
	case <-srv.Started():
	case err := <-done:
		t.Fatal(err)
	}
	return "http://" + srv.Bound().String(), st, t.TempDir()
}

func zcWrite(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// zcRun runs the command line in-process, as main does, against apiURL
// with the read-write token.
func zcRun(t *testing.T, apiURL string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	args = append(args, "--api", apiURL, "--token", zcToken)
	var out, errOut bytes.Buffer
	ctx := context.Background()
	code = run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func zcOK(t *testing.T, apiURL string, args ...string) string {
	t.Helper()
	code, stdout, stderr := zcRun(t, apiURL, args...)
	if code != 0 {
		t.Fatalf("gtm %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
	}
	return stdout
}

func TestZoneCommands(t *testing.T) {
	u, st, dir := zcServer(t)
	ctx := context.Background()

	out := zcOK(t, u, "zone", "list")
	if !strings.Contains(out, "ORIGIN") || !regexpLine(out, `example.com.  +file  +0  +5  +3  +-  +-`) {
		t.Errorf("zone list:\n%s", out)
	}
	if out := zcOK(t, u, "zone", "get", "example.com"); !strings.Contains(out, "ns1.example.com.\t300\tIN\tA\t192.0.2.53") {
		t.Errorf("zone get:\n%s", out)
	}

	// The name comes from $ORIGIN; the serial is raised; the diff shown.
	f := zcWrite(t, dir, "edit.txt", zcZone+"www IN A 192.0.2.80\n")
	out = zcOK(t, u, "zone", "apply", "-f", f, "--dry-run")
	if !strings.HasPrefix(out, "zone example.com.: dry run, nothing written (current version 0); serial 2025061500 (raised from 5)\n") ||
		!strings.Contains(out, "+www IN A 192.0.2.80\n") {
		t.Errorf("dry run:\n%s", out)
	}
	if _, err := st.History(ctx, store.KindZone, "example.com.", 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("dry run wrote: %v", err)
	}
	out = zcOK(t, u, "zone", "apply", "-f", f, "--comment", "add www")
	if !strings.HasPrefix(out, "zone example.com.: written: version 1 (was 0); serial 2025061500 (raised from 5)\n") {
		t.Errorf("apply:\n%s", out)
	}
	d, err := st.History(ctx, store.KindZone, "example.com.", 0)
	if err != nil || len(d) != 1 || d[0].By != "carol" || d[0].Comment != "add www" {
		t.Fatalf("stored: %+v %v", d, err)
	}

	// A stale --if-match and a bad file fail with exit 1, writing nothing.
	f2 := zcWrite(t, dir, "example.com.zone", zcZone+"www IN A 192.0.2.81\nbad IN A 192.0.2.300\nmx IN MX x\n")
	code, _, stderr := zcRun(t, u, "zone", "apply", "-f", f2, "--if-match", "0")
	if code != 1 || !strings.Contains(stderr, "409 Conflict") {
		t.Errorf("stale if-match: exit %d\n%s", code, stderr)
	}
	code, _, stderr = zcRun(t, u, "zone", "apply", "-f", f2, "--if-match", "1")
	if code != 1 || !strings.HasPrefix(stderr, "zone example.com. (new):7: ") || !strings.Contains(stderr, "1 problem(s); nothing was written") {
		t.Errorf("bad zone: exit %d\n%s", code, stderr)
	}
	zcWrite(t, dir, "example.com.zone", zcZone+"www IN A 192.0.2.81\n")
	zcOK(t, u, "zone", "apply", "-f", f2, "--if-match", "1", "--comment", "move www")

	out = zcOK(t, u, "zone", "history", "example.com.")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !regexpLine(lines[0], `^v2 +\S+Z  carol +move www$`) || !regexpLine(lines[1], `^v1 +\S+Z  carol +add www$`) {
		t.Errorf("history:\n%s", out)
	}
	if out := zcOK(t, u, "zone", "history", "example.com.", "--patch", "--limit", "1"); !strings.Contains(out, "-www IN A 192.0.2.80\n+www IN A 192.0.2.81\n") {
		t.Errorf("history --patch:\n%s", out)
	}

	out = zcOK(t, u, "zone", "rollback", "example.com.", "1")
	if !strings.HasPrefix(out, "zone example.com.: rolled back to v1: version 3 (was 2); serial 2025061502 (raised from 2025061500)\n") {
		t.Errorf("rollback:\n%s", out)
	}
	out = zcOK(t, u, "zone", "delete", "example.com.", "--if-match", "3")
	if !strings.HasPrefix(out, "zone example.com.: deleted: version 4 (was 3); served from the config files again\n") {
		t.Errorf("delete:\n%s", out)
	}
	code, _, stderr = zcRun(t, u, "zone", "delete", "example.com.")
	if code != 1 || !strings.Contains(stderr, "defined in the config files") {
		t.Errorf("delete of a file zone: exit %d\n%s", code, stderr)
	}
}

func TestServiceCommands(t *testing.T) {
	u, st, dir := zcServer(t)
	out := zcOK(t, u, "service", "list")
	if !regexpLine(out, `^api.example.com.  +file  +0  +latency  +2 `) {
		t.Errorf("service list:\n%s", out)
	}
	// Moving the EU gateway changes eu-west's answer only.
	f := zcWrite(t, dir, "api.yaml", `name: api.example.com.
endpoints:
  - {name: gw-eu-2, region: eu-west, address: 192.0.2.20}
  - {name: gw-us-1, region: us-east, address: 198.51.100.10}
`)
	out = zcOK(t, u, "service", "apply", "-f", f, "--dry-run")
	if !strings.Contains(out, "clients whose answer changes, by region:\n  eu-west: gw-eu-1 192.0.2.10 -> gw-eu-2 192.0.2.20\n") || strings.Contains(out, "us-east:") {
		t.Errorf("service dry run:\n%s", out)
	}
	if docs, _ := st.Docs(context.Background(), store.KindService); len(docs) != 0 {
		t.Errorf("dry run wrote %v", docs)
	}
	zcOK(t, u, "service", "apply", "-f", f)
	if out := zcOK(t, u, "service", "get", "api.example.com."); !strings.Contains(out, "gw-eu-2") {
		t.Errorf("service get:\n%s", out)
	}

	bad := zcWrite(t, dir, "bad.json", `{"name": "api.example.com.",
 "endpoints": [{"name": "a", "region": "mars", "address": "192.0.2.1"}]}`)
	code, _, stderr := zcRun(t, u, "service", "apply", "-f", bad)
	want := `service api.example.com. (new):2: endpoints[0].region: unknown region "mars" (not under regions:)` + "\n"
	if code != 1 || !strings.HasPrefix(stderr, want) {
		t.Errorf("bad service: exit %d\n%s\nwant first line:\n%s", code, stderr, want)
	}
	noName := zcWrite(t, dir, "noname.yaml", "endpoints: [{name: a, region: eu-west, address: 192.0.2.1}]\n")
	if code, _, stderr := zcRun(t, u, "service", "apply", "-f", noName); code != 1 || !strings.Contains(stderr, "give --name") {
		t.Errorf("no name: exit %d\n%s", code, stderr)
	}
	zcOK(t, u, "service", "apply", "-f", noName, "--name", "web.example.com")
	zcOK(t, u, "service", "delete", "web.example.com")
	if code, _, _ := zcRun(t, u, "service", "history", "nothing.example.com."); code != 1 {
		t.Errorf("history of nothing: exit %d", code)
	}
}

func TestZoneCommandUsageAndAuth(t *testing.T) {
	u, _, dir := zcServer(t)
	for _, args := range [][]string{{"zone", "frobnicate"}, {"zone", "get"}, {"zone", "apply"}, {"service", "rollback", "x."}} {
		if code, _, stderr := zcRun(t, u, args...); code != 2 || !strings.Contains(stderr, "usage: gtm ") {
			t.Errorf("%v: exit %d\n%s", args, code, stderr)
		}
	}
	f := zcWrite(t, dir, "example.com.zone", zcZone)
	var out, errOut bytes.Buffer
	err := runZone(context.Background(), []string{"apply", "-f", f, "--api", u, "--token", ""}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized") {
		t.Errorf("without a token: %v", err)
	}
}

// regexpLine reports whether some line of s matches pattern.
func regexpLine(s, pattern string) bool {
	re := regexp.MustCompile(pattern)
	for _, l := range strings.Split(s, "\n") {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}
