package api

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/net/html"
)

// uiNow is the fixed instant the sample data is rendered for.
var uiNow = time.Date(2026, 3, 4, 3, 0, 0, 0, time.UTC)

// uiSample is a night with trouble: us-east out, ap-southeast drained, one
// prober impaired, and a reason carrying markup that must come out escaped.
func uiSample() UIData {
	ago := func(d time.Duration) time.Time { return uiNow.Add(-d) }
	vote := func(prober, src, verdict string, ok bool, rtt time.Duration, errText string) UIVote {
		return UIVote{Prober: prober, Source: src, Verdict: verdict, OK: ok, Fresh: true, RTT: rtt, At: ago(2 * time.Second), Err: errText}
	}
	return UIData{
		Node: "dns-eu-1", Region: "eu-west", Build: "v1.2.3", ConfigVersion: "42", SnapshotVersion: 1337,
		HealthAt: ago(time.Second), Now: uiNow, StoreBackend: "redis",
		Regions: []UIRegion{
			{Name: "ap-southeast", Drained: true, Out: true, Reason: "drained by alice: <script>alert(1)</script>", Since: ago(time.Hour),
				Counts: UICounts{Endpoints: 1, Usable: 0, Up: 1, Drained: 1}},
			{Name: "eu-west", Since: ago(48 * time.Hour), Counts: UICounts{Endpoints: 2, Usable: 2, Up: 2}},
			{Name: "us-east", Out: true, Reason: "no usable endpoint", Since: ago(90 * time.Second),
				Counts: UICounts{Endpoints: 1, Down: 1}},
		},
		Zones: []UIZone{
			{Region: "eu-west", Zone: "1", Counts: UICounts{Endpoints: 2, Usable: 2, Up: 2}},
			{Region: "us-east", Zone: "1", Out: true, Counts: UICounts{Endpoints: 1, Down: 1}},
		},
		Services: []UIService{
			{Name: "api.example.com.", Policy: "latency", FailOpen: true, Usable: 2, Endpoints: []UIEndpoint{
				{Name: "gw-eu-1", Region: "eu-west", Zone: "1", Address: "203.0.113.10", State: "up", Since: ago(48 * time.Hour), Votes: []UIVote{
					vote("p-eu-1", "eu-west", "up", true, 10*time.Millisecond, ""),
					vote("p-us-1", "us-east", "up", true, 70*time.Millisecond, ""),
				}},
				{Name: "gw-eu-2", Region: "eu-west", Zone: "1", Address: "203.0.113.11", State: "up", Since: ago(48 * time.Hour), Votes: []UIVote{
					vote("p-eu-1", "eu-west", "up", true, 30*time.Millisecond, ""),
					{Prober: "p-us-1", Source: "us-east", Verdict: "up", OK: true, Fresh: false, RTT: 900 * time.Millisecond, At: ago(time.Minute)},
				}},
				{Name: "gw-us-1", Region: "us-east", Zone: "1", Address: "198.51.100.10", State: "down",
					Reason: "down for 2 of 2 fresh probers", Since: ago(90 * time.Second), Votes: []UIVote{
						vote("p-eu-1", "eu-west", "down", false, 2*time.Second, "dial tcp 198.51.100.10:443: connect: i/o timeout"),
						vote("p-us-1", "us-east", "down", false, 0, "connection refused"),
					}},
				{Name: "gw-ap-1", Region: "ap-southeast", Zone: "1", Address: "192.0.2.10", State: "up", Drained: true,
					DrainReason: "region ap-southeast by alice", Since: ago(time.Hour), Votes: []UIVote{
						vote("p-eu-1", "eu-west", "up", true, 180*time.Millisecond, ""),
						{Prober: "p-us-1", Source: "us-east", Verdict: "up", OK: true, Fresh: true, Impaired: true, RTT: 5 * time.Millisecond, At: ago(time.Second)},
					}},
			}},
			{Name: "static.example.com.", Policy: "weighted", Static: true, FailOpen: true, Usable: 1, Endpoints: []UIEndpoint{
				{Name: "stable", Region: "eu-west", Zone: "2", Address: "203.0.113.30", State: "up"},
			}},
		},
		Probers: []UIProber{
			{ID: "p-eu-1", Region: "eu-west", LastSeen: ago(2 * time.Second), Fresh: 4},
			{ID: "p-us-1", Region: "us-east", Impaired: true, Reason: "3 of 3 control targets fail", LastSeen: ago(time.Second),
				Since: ago(5 * time.Minute), Fresh: 3, Stale: 1, ControlFailed: 3, ControlTotal: 3},
		},
		Transitions: []UITransition{
			{At: ago(time.Hour), Kind: "region", Region: "ap-southeast", From: "undrained", To: "drained", Reason: "alice: maintenance"},
			{At: ago(90 * time.Second), Kind: "endpoint", Service: "api.example.com.", Endpoint: "gw-us-1", Region: "us-east", From: "up", To: "down", Reason: "3 failures", Lasted: 48 * time.Hour},
			{At: ago(5 * time.Minute), Kind: "prober", Prober: "p-us-1", Source: "us-east", From: "recovered", To: "impaired"},
		},
	}
}

// uiServer serves HandleUI for data on a real loopback HTTP server.
func uiServer(t *testing.T, data func() UIData) *httptest.Server {
	t.Helper()
	s := New("127.0.0.1:0", nil, nil, zerolog.Nop())
	s.HandleUI(data)
	ts := httptest.NewServer(s.Mux)
	t.Cleanup(ts.Close)
	return ts
}

func uiGet(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// uiAttrs parses page and returns, for each element carrying attribute
// key, its attributes and its text.
func uiAttrs(t *testing.T, page, key string) []uiElem {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var out []uiElem
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			e := uiElem{attr: map[string]string{}}
			for _, a := range n.Attr {
				e.attr[a.Key] = a.Val
			}
			if _, ok := e.attr[key]; ok {
				e.text = uiText(n)
				out = append(out, e)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

type uiElem struct {
	attr map[string]string
	text string
}

func uiText(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func TestUIShowsRegionsEndpointsAndStates(t *testing.T) {
	ts := uiServer(t, uiSample)
	resp, page := uiGet(t, ts.URL+"/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, page)
	}

	regions := map[string]string{}
	for _, e := range uiAttrs(t, page, "id") {
		if name, ok := strings.CutPrefix(e.attr["id"], "region-"); ok {
			regions[name] = e.attr["data-state"]
		}
	}
	wantRegions := map[string]string{"eu-west": "up", "us-east": "out", "ap-southeast": "drained"}
	if fmt.Sprint(regions) != fmt.Sprint(wantRegions) {
		t.Errorf("regions %v, want %v", regions, wantRegions)
	}

	type ep struct{ state, drained string }
	eps := map[string]ep{}
	for _, e := range uiAttrs(t, page, "data-endpoint") {
		eps[e.attr["data-service"]+" "+e.attr["data-endpoint"]] = ep{e.attr["data-state"], e.attr["data-drained"]}
	}
	wantEps := map[string]ep{
		"api.example.com. gw-eu-1":   {"up", ""},
		"api.example.com. gw-eu-2":   {"up", ""},
		"api.example.com. gw-us-1":   {"down", ""},
		"api.example.com. gw-ap-1":   {"up", "true"},
		"static.example.com. stable": {"up", ""},
	}
	if fmt.Sprint(eps) != fmt.Sprint(wantEps) {
		t.Errorf("endpoints %v, want %v", eps, wantEps)
	}

	// The health matrix: a cell per (endpoint, prober region) with the
	// prober's verdict and RTT.
	var cells []string
	for _, e := range uiAttrs(t, page, "data-prober") {
		cells = append(cells, e.attr["data-prober"]+"="+e.attr["data-verdict"]+" "+e.text)
	}
	got := strings.Join(cells, "\n")
	for _, want := range []string{
		"p-eu-1=up up 10.0 ms",
		"p-us-1=up up 70.0 ms",
		"p-us-1=up up 900 ms stale",
		"p-eu-1=down down fail dial tcp 198.51.100.10:443: connect: i/…",
		"p-us-1=up up 5.0 ms impaired",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("health matrix lacks %q; cells:\n%s", want, got)
		}
	}

	for _, want := range []string{
		"dns-eu-1", "v1.2.3", `id="config-version">42<`, `id="snapshot-version">1337<`,
		"region us-east OUT: no usable endpoint",
		"prober p-us-1 (us-east) impaired: 3 of 3 control targets fail",
		"static (no check, always up)",
		`<meta http-equiv="refresh" content="5">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>") {
		t.Error("a reason's <script> reached the page unescaped")
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the escaped reason is missing")
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
}

func TestUIRTTMatrixIsMedianOfFreshSuccesses(t *testing.T) {
	ts := uiServer(t, uiSample)
	_, page := uiGet(t, ts.URL+"/")
	got := map[string]string{}
	for _, e := range uiAttrs(t, page, "data-from") {
		got[e.attr["data-from"]+">"+e.attr["data-to"]] = e.text
	}
	want := map[string]string{
		// 10 and 30 ms: the median of two is their mean.
		"eu-west>eu-west": "20.0 ms",
		// 70 ms; the stale 900 ms does not count.
		"us-east>eu-west": "70.0 ms",
		// Failed probes say nothing about RTT.
		"eu-west>us-east":      "–",
		"us-east>us-east":      "–",
		"eu-west>ap-southeast": "180 ms",
		// The impaired prober's 5 ms does not count.
		"us-east>ap-southeast": "–",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("RTT matrix\n got %v\nwant %v", got, want)
	}
}

func TestUITransitionsNewestFirstAndBounded(t *testing.T) {
	d := uiSample()
	ts := uiServer(t, func() UIData { return d })
	_, page := uiGet(t, ts.URL+"/")
	var order []string
	for _, e := range uiAttrs(t, page, "data-kind") {
		order = append(order, e.attr["data-kind"]+":"+e.attr["data-to"])
	}
	if want := "[endpoint:down prober:impaired region:drained]"; fmt.Sprint(order) != want {
		t.Errorf("transitions %v, want %s", order, want)
	}
	if !strings.Contains(page, "api.example.com. / gw-us-1") || !strings.Contains(page, "2d00h") {
		t.Error("endpoint transition lacks its subject or how long the old state lasted")
	}

	d.Transitions = nil
	for i := range MaxUITransitions + 20 {
		d.Transitions = append(d.Transitions, UITransition{At: uiNow.Add(time.Duration(i) * time.Second), Kind: "zone", Region: "r", Zone: fmt.Sprint(i), To: "down"})
	}
	_, page = uiGet(t, ts.URL+"/")
	if n := len(uiAttrs(t, page, "data-kind")); n != MaxUITransitions {
		t.Errorf("%d transitions shown, want %d", n, MaxUITransitions)
	}
	if !strings.Contains(page, "r/69") || strings.Contains(page, ">r/0<") {
		t.Error("the newest transitions should be kept, the oldest dropped")
	}
}

func TestUIAllWellAndEmpty(t *testing.T) {
	healthy := UIData{Node: "n1", Now: uiNow, HealthAt: uiNow,
		Regions:  []UIRegion{{Name: "eu-west", Counts: UICounts{Endpoints: 1, Usable: 1, Up: 1}}},
		Services: []UIService{{Name: "a.example.", Usable: 1, Endpoints: []UIEndpoint{{Name: "e1", Region: "eu-west", State: "up"}}}},
	}
	ts := uiServer(t, func() UIData { return healthy })
	_, page := uiGet(t, ts.URL+"/")
	if !strings.Contains(page, "All 1 regions up · 1 of 1 endpoints usable") || !strings.Contains(page, "<title>OK · gtm n1</title>") {
		t.Errorf("healthy page lacks the all-well banner:\n%s", page)
	}

	ts = uiServer(t, func() UIData { return UIData{} })
	resp, page := uiGet(t, ts.URL+"/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("empty data: status %d", resp.StatusCode)
	}
	for _, want := range []string{"no health computed yet", "No regions with endpoints.", "No services configured.", "No prober has reported.", "No transitions"} {
		if !strings.Contains(page, want) {
			t.Errorf("empty page lacks %q", want)
		}
	}
}

func TestUIRefreshAndRoutes(t *testing.T) {
	ts := uiServer(t, uiSample)
	_, page := uiGet(t, ts.URL+"/?refresh=0")
	if strings.Contains(page, `http-equiv="refresh"`) {
		t.Error("refresh=0 still refreshes")
	}
	_, page = uiGet(t, ts.URL+"/?refresh=30")
	if !strings.Contains(page, `content="30"`) {
		t.Error("refresh=30 not applied")
	}
	for _, bad := range []string{"x", "-1", "3601"} {
		if resp, _ := uiGet(t, ts.URL+"/?refresh="+bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("refresh=%s: status %d, want 400", bad, resp.StatusCode)
		}
	}
	if resp, _ := uiGet(t, ts.URL+"/nothing-here"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/nothing-here: status %d, want 404 (the page is only at /)", resp.StatusCode)
	}
	resp, err := http.Post(ts.URL+"/", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: status %d, want 405", resp.StatusCode)
	}
}

func TestUIFormatting(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{fmtRTT(0), ""},
		{fmtRTT(250 * time.Microsecond), "0.25 ms"},
		{fmtRTT(12345 * time.Microsecond), "12.3 ms"},
		{fmtRTT(1500 * time.Millisecond), "1500 ms"},
		{fmtDur(-time.Second), "0s"},
		{fmtDur(59 * time.Second), "59s"},
		{fmtDur(61 * time.Second), "1m01s"},
		{fmtDur(3*time.Hour + 20*time.Minute), "3h20m"},
		{fmtDur(52 * time.Hour), "2d04h"},
		{fmtAgo(uiNow, time.Time{}), ""},
		{fmtAgo(uiNow, uiNow.Add(-90*time.Second)), "1m30s ago"},
		{fmtUTC(time.Time{}), "never"},
		{truncate(5, "abcdef"), "abcd…"},
		{truncate(5, "abcde"), "abcde"},
		{median([]time.Duration{3, 1, 2}).String(), "2ns"},
		{median(nil).String(), "0s"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
