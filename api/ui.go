package api

import (
	"bytes"
	"cmp"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// The status page is rendered on the server from one html/template (which
// escapes every value), with inline CSS and no JavaScript: it must work in
// any browser, behind any proxy, with nothing to build.
//
//go:embed templates/status.html
var uiFiles embed.FS

// UIData is what the status page shows. The caller fills it from the
// current health status and config for each request; api does not import
// health, so these are plain view types. Zero values are safe: an empty
// UIData renders a page saying nothing is known yet.
type UIData struct {
	// Node is this node's id and Region its region.
	Node   string
	Region string
	// Build is the gtm version (`gtm version`).
	Build string
	// ConfigVersion identifies the configuration serving (a counter, a
	// hash); SnapshotVersion is the routing snapshot answering DNS.
	ConfigVersion   string
	SnapshotVersion uint64
	// HealthAt is when the health shown was computed; zero means never.
	HealthAt time.Time
	// Now is the time the page is rendered for; ages ("12s ago") are
	// relative to it. Zero means the wall clock.
	Now time.Time
	// StoreBackend is "memory" or "redis"; StoreError, when not empty, says
	// why the store is unreachable (the page then shows it as down).
	StoreBackend string
	StoreError   string
	// SnapshotError, when not empty, says why state.snapshot_path cannot
	// be written; SnapshotCorrupt lists snapshots found unreadable at
	// start and moved aside, until an operator removes them.
	SnapshotError   string
	SnapshotCorrupt []string

	// Regions, sorted as the caller likes (health sorts by name).
	Regions []UIRegion
	// Zones are the availability zones, shown under their region.
	Zones []UIZone
	// Services in config order, each with its endpoints in config order.
	Services []UIService
	// Probers that have results in the store.
	Probers []UIProber
	// Transitions are recent changes of state, in any order: the page sorts
	// them newest first and shows at most MaxUITransitions.
	Transitions []UITransition
}

// MaxUITransitions bounds the transitions the page lists.
const MaxUITransitions = 50

// UICounts tallies endpoints by state. Its fields match health.Counts, so
// the caller can convert one with api.UICounts(c).
type UICounts struct {
	Endpoints int
	Usable    int
	Up        int
	Down      int
	Unknown   int
	Drained   int
}

// UIRegion is one region's state.
type UIRegion struct {
	Name string
	// Out is true when none of the region's endpoints is usable.
	Out bool
	// Drained is true when the region itself is drained.
	Drained bool
	Reason  string
	Since   time.Time
	Counts  UICounts
}

// UIZone is one availability zone's state.
type UIZone struct {
	Region  string
	Zone    string
	Out     bool
	Drained bool
	Reason  string
	Since   time.Time
	Counts  UICounts
}

// UIService is one traffic-managed name.
type UIService struct {
	Name string
	// Policy is latency, geo, failover or weighted (from the config; empty
	// hides it).
	Policy string
	// Static services have no check; their endpoints are always up.
	Static   bool
	FailOpen bool
	// AllDown is true when no endpoint is usable.
	AllDown   bool
	Usable    int
	Endpoints []UIEndpoint
}

// UIEndpoint is one endpoint of a service.
type UIEndpoint struct {
	Name   string
	Region string
	Zone   string
	// Address is the endpoint's IP (from the config; empty hides it).
	Address string
	// State is the verdict across probers: "up", "down" or "unknown".
	State string
	// Drained is true when a drain takes the endpoint out of answers;
	// State still shows the health underneath.
	Drained     bool
	DrainReason string
	// Reason explains State in words.
	Reason string
	Since  time.Time
	// Votes are the latest result of every prober on this endpoint.
	Votes []UIVote
}

// Usable reports whether routing may answer the endpoint, by the rule of
// health.EndpointStatus.Usable: not drained and not down.
func (e UIEndpoint) Usable() bool { return !e.Drained && e.State != "down" }

// UIVote is one prober's latest word on one endpoint.
type UIVote struct {
	Prober string
	// Source is the prober's region: the column of the health matrix.
	Source string
	// Verdict is the prober's rise/fall state: "up", "down" or "unknown".
	Verdict string
	// OK is the raw outcome of the latest probe.
	OK bool
	// Fresh is false when the result is too old to vote.
	Fresh bool
	// Impaired is true when the prober's votes are set aside.
	Impaired bool
	RTT      time.Duration
	At       time.Time
	Err      string
}

// UIProber is one prober's own state. Its fields match
// health.ProberStatus, so the caller can convert one with api.UIProber(p).
type UIProber struct {
	ID       string
	Region   string
	Impaired bool
	Reason   string
	LastSeen time.Time
	Since    time.Time
	Fresh    int
	Stale    int
	// ControlFailed of ControlTotal fresh control-target results failed.
	ControlFailed int
	ControlTotal  int
}

// UITransition is one change of state (health.Transition with Kind as a
// string).
type UITransition struct {
	At       time.Time
	Kind     string
	Service  string
	Endpoint string
	Region   string
	Zone     string
	Prober   string
	Source   string
	From     string
	To       string
	Reason   string
	Lasted   time.Duration
}

// HandleUI serves the status page at GET / from data, called once per
// request. The page refreshes itself every 5 s; ?refresh=N changes that
// (0 stops it, for reading a page that keeps still).
func (s *Server) HandleUI(data func() UIData) {
	tmpl := template.Must(template.New("status.html").Funcs(uiFuncs()).ParseFS(uiFiles, "templates/status.html"))
	s.Mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		refresh := 5
		if q := r.URL.Query().Get("refresh"); q != "" {
			n, err := strconv.Atoi(q)
			if err != nil || n < 0 || n > 3600 {
				http.Error(w, "refresh: want seconds between 0 and 3600", http.StatusBadRequest)
				return
			}
			refresh = n
		}
		v := buildUIView(data(), refresh)
		// Render to a buffer first so a template error is a clean 500, not
		// half a page.
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, v); err != nil {
			s.Log.Error().Err(err).Msg("status page")
			http.Error(w, "status page: "+err.Error(), http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		// No scripts, no frames, no outside requests: only the inline style.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		_, _ = w.Write(buf.Bytes())
	})
}

// uiView is UIData arranged for the template.
type uiView struct {
	UIData
	Refresh int
	// Problems are one-line alerts shown at the top in red; Notices are
	// states an operator chose (drains), shown in amber. Neither means all
	// is well.
	Problems, Notices []string
	// RegionsUp, RegionsOut, RegionsDrained and ProbersOK summarise.
	RegionsUp, RegionsOut, RegionsDrained, ProbersOK int
	// Usable and Total count endpoints over all services.
	Usable, Total int
	// Columns are the prober regions of the health matrix.
	Columns  []string
	Services []uiService
	// ZonesByRegion maps a region to its zones.
	ZonesByRegion map[string][]UIZone
	RTT           uiRTT
}

type uiService struct {
	UIService
	Rows []uiRow
}

type uiRow struct {
	UIEndpoint
	// Cells line up with uiView.Columns: the votes from that prober region.
	Cells [][]UIVote
}

// uiRTT is the median probe RTT from each prober region (Rows) to the
// endpoints of each region (Cols).
type uiRTT struct {
	Rows, Cols []string
	Cells      [][]uiRTTCell
}

type uiRTTCell struct {
	Median time.Duration
	N      int
}

func buildUIView(d UIData, refresh int) uiView {
	if d.Now.IsZero() {
		d.Now = time.Now()
	}
	v := uiView{UIData: d, Refresh: refresh, ZonesByRegion: map[string][]UIZone{}}

	for _, z := range d.Zones {
		v.ZonesByRegion[z.Region] = append(v.ZonesByRegion[z.Region], z)
	}

	// Columns: every prober region that voted or reported, sorted.
	cols := map[string]bool{}
	for _, p := range d.Probers {
		cols[p.Region] = true
	}
	for _, s := range d.Services {
		for _, e := range s.Endpoints {
			for _, vt := range e.Votes {
				cols[vt.Source] = true
			}
		}
	}
	for c := range cols {
		v.Columns = append(v.Columns, c)
	}
	slices.Sort(v.Columns)

	// Endpoint regions in the order the caller gave the regions, then any
	// region only an endpoint names.
	var epRegions []string
	seenRegion := map[string]bool{}
	addRegion := func(r string) {
		if !seenRegion[r] {
			seenRegion[r] = true
			epRegions = append(epRegions, r)
		}
	}
	for _, r := range d.Regions {
		addRegion(r.Name)
	}
	samples := map[[2]string][]time.Duration{} // [prober region, endpoint region]
	for _, s := range d.Services {
		sv := uiService{UIService: s}
		for _, e := range s.Endpoints {
			v.Total++
			if e.Usable() {
				v.Usable++
			}
			addRegion(e.Region)
			row := uiRow{UIEndpoint: e, Cells: make([][]UIVote, len(v.Columns))}
			for _, vt := range e.Votes {
				i, _ := slices.BinarySearch(v.Columns, vt.Source)
				row.Cells[i] = append(row.Cells[i], vt)
				// Only answers that count: a failed, stale or impaired
				// probe's RTT says nothing about the path.
				if vt.OK && vt.Fresh && !vt.Impaired {
					k := [2]string{vt.Source, e.Region}
					samples[k] = append(samples[k], vt.RTT)
				}
			}
			sv.Rows = append(sv.Rows, row)
		}
		v.Services = append(v.Services, sv)
	}

	v.RTT.Cols = epRegions
	for _, src := range v.Columns {
		cells := make([]uiRTTCell, len(epRegions))
		for j, dst := range epRegions {
			xs := samples[[2]string{src, dst}]
			cells[j] = uiRTTCell{Median: median(xs), N: len(xs)}
		}
		v.RTT.Rows = append(v.RTT.Rows, src)
		v.RTT.Cells = append(v.RTT.Cells, cells)
	}

	v.Transitions = slices.Clone(d.Transitions)
	slices.SortStableFunc(v.Transitions, func(a, b UITransition) int { return b.At.Compare(a.At) })
	if len(v.Transitions) > MaxUITransitions {
		v.Transitions = v.Transitions[:MaxUITransitions]
	}

	for _, r := range d.Regions {
		switch regionState(r) {
		case "up":
			v.RegionsUp++
		case "out":
			v.RegionsOut++
		default:
			v.RegionsDrained++
		}
	}
	for _, p := range d.Probers {
		if !p.Impaired {
			v.ProbersOK++
		}
	}
	v.Problems, v.Notices = uiProblems(d)
	return v
}

// uiProblems lists what an operator must look at first, worst first, and
// the drains in force (chosen, so notices rather than problems).
func uiProblems(d UIData) (problems, notices []string) {
	if d.StoreError != "" {
		problems = append(problems, "store ("+cmp.Or(d.StoreBackend, "?")+") unreachable: "+d.StoreError)
	}
	if d.SnapshotError != "" {
		problems = append(problems, "state snapshot not written (edits get 503 with the memory store): "+d.SnapshotError)
	}
	for _, f := range d.SnapshotCorrupt {
		problems = append(problems, "state snapshot was corrupt at start and moved to "+f+": remove the file to acknowledge")
	}
	if d.HealthAt.IsZero() {
		problems = append(problems, "no health computed yet: every endpoint counts as usable")
	}
	for _, s := range d.Services {
		if s.AllDown {
			what := "answering nothing"
			if s.FailOpen {
				what = "failing open (answering every endpoint)"
			}
			problems = append(problems, "service "+s.Name+": no usable endpoint, "+what)
		}
	}
	for _, r := range d.Regions {
		switch {
		case r.Drained:
			notices = append(notices, "region "+r.Name+" drained"+suffix(r.Reason))
		case r.Out:
			problems = append(problems, "region "+r.Name+" OUT"+suffix(r.Reason))
		}
	}
	for _, z := range d.Zones {
		switch {
		case z.Drained:
			notices = append(notices, "zone "+z.Region+"/"+z.Zone+" drained"+suffix(z.Reason))
		case z.Out:
			problems = append(problems, "zone "+z.Region+"/"+z.Zone+" out"+suffix(z.Reason))
		}
	}
	for _, p := range d.Probers {
		if p.Impaired {
			problems = append(problems, "prober "+p.ID+" ("+p.Region+") impaired"+suffix(p.Reason))
		}
	}
	return problems, notices
}

func suffix(reason string) string {
	if reason == "" {
		return ""
	}
	return ": " + reason
}

func median(xs []time.Duration) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// uiFuncs are the template's helpers; each returns plain text, which
// html/template escapes.
func uiFuncs() template.FuncMap {
	return template.FuncMap{
		"rtt":      fmtRTT,
		"dur":      fmtDur,
		"ago":      fmtAgo,
		"utc":      fmtUTC,
		"trunc":    truncate,
		"subject":  transitionSubject,
		"regionSt": regionState,
		"zoneSt":   func(z UIZone) string { return regionState(UIRegion{Out: z.Out, Drained: z.Drained}) },
		"proberSt": func(p UIProber) string {
			if p.Impaired {
				return "impaired"
			}
			return "ok"
		},
		"stateOr": func(s string) string { return cmp.Or(s, "unknown") },
	}
}

// transitionSubject names what a transition is about: "svc / endpoint",
// "region/zone", a region or a prober.
func transitionSubject(t UITransition) string {
	switch {
	case t.Endpoint != "":
		return t.Service + " / " + t.Endpoint
	case t.Prober != "":
		if t.Source != "" {
			return t.Prober + " (" + t.Source + ")"
		}
		return t.Prober
	case t.Kind == "zone" && t.Zone != "":
		return t.Region + "/" + t.Zone
	}
	return t.Region
}

// truncate shortens s to n runes, marking the cut; the full text goes in a
// title attribute beside it.
func truncate(n int, s string) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// regionState is the one word for a region: a drain is the operator's
// intent and says more than "out", which a drain also causes.
func regionState(r UIRegion) string {
	switch {
	case r.Drained:
		return "drained"
	case r.Out:
		return "out"
	}
	return "up"
}

// fmtRTT prints a round-trip time with three significant digits at most.
func fmtRTT(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case d <= 0:
		return ""
	case ms < 1:
		return fmt.Sprintf("%.2f ms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

// fmtDur prints a coarse duration: "45s", "12m", "3h20m", "2d4h".
func fmtDur(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// fmtAgo prints how long before now t was; "" for a zero t.
func fmtAgo(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fmtDur(now.Sub(t)) + " ago"
}

func fmtUTC(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}
