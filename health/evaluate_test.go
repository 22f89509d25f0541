package health

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gtm-project/gtm/store"
)

func TestEvaluateQuorum(t *testing.T) {
	cfg := config(checked("api.example.com.", ep("gw-1", "eu-west", "a")))
	now := t0.Add(time.Minute)
	tests := []struct {
		name   string
		states []State
		want   State
	}{
		{"1 prober up decides alone", []State{Up}, Up},
		{"1 prober down decides alone", []State{Down}, Down},
		{"1 prober unknown", []State{Unknown}, Unknown},
		{"2 probers both down", []State{Down, Down}, Down},
		{"2 probers split keeps it up", []State{Up, Down}, Up},
		{"2 probers down and undecided: undecided abstains", []State{Down, Unknown}, Down},
		{"3 probers 2 down is a quorum", []State{Down, Up, Down}, Down},
		{"3 probers 1 down is not", []State{Up, Down, Up}, Up},
		{"3 probers all unknown", []State{Unknown, Unknown, Unknown}, Unknown},
		{"5 probers 3 down", []State{Down, Up, Down, Up, Down}, Down},
		{"5 probers 2 down", []State{Down, Up, Down, Up, Up}, Up},
		{"5 probers 2 down 1 up 2 undecided", []State{Down, Up, Down, Unknown, Unknown}, Down},
		{"5 probers 2 down 2 up 1 undecided", []State{Down, Up, Down, Up, Unknown}, Up},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := Evaluate(Input{Config: cfg, Results: votes("api.example.com.", "gw-1", now.Add(-time.Second), tt.states...), Now: now})
			e := st.Endpoint("api.example.com.", "gw-1")
			if e.State != tt.want {
				t.Fatalf("State = %v (%s), want %v", e.State, e.Reason, tt.want)
			}
			if len(e.Votes) != len(tt.states) {
				t.Fatalf("%d votes listed, want %d", len(e.Votes), len(tt.states))
			}
			if want := tt.want != Down; st.Usable("api.example.com.", "gw-1") != want {
				t.Errorf("Usable = %v, want %v", !want, want)
			}
			if e.Reason == "" {
				t.Error("no reason given")
			}
		})
	}
}

func TestEvaluateStaleResultsDoNotVote(t *testing.T) {
	cfg := config(checked("s.", ep("e1", "eu", "a")))
	now := t0.Add(time.Hour)
	fresh := now.Add(-2 * interval)
	stale := now.Add(-3*interval - time.Millisecond)

	// Two stale downs and one fresh up: only the up votes.
	rs := []store.ProbeResult{
		res("p1", "r1", "s.", "e1", Down, stale),
		res("p2", "r2", "s.", "e1", Down, stale),
		res("p3", "r3", "s.", "e1", Up, fresh),
	}
	e := Evaluate(Input{Config: cfg, Results: rs, Now: now}).Endpoint("s.", "e1")
	if e.State != Up {
		t.Fatalf("State = %v (%s), want up: stale downs must not vote", e.State, e.Reason)
	}
	var freshVotes int
	for _, v := range e.Votes {
		if v.Fresh {
			freshVotes++
		}
	}
	if freshVotes != 1 || len(e.Votes) != 3 {
		t.Errorf("votes = %+v, want 3 listed and 1 fresh", e.Votes)
	}

	// Exactly three intervals old is still fresh.
	rs = []store.ProbeResult{res("p1", "r1", "s.", "e1", Down, now.Add(-3*interval))}
	if e := Evaluate(Input{Config: cfg, Results: rs, Now: now}).Endpoint("s.", "e1"); e.State != Down {
		t.Errorf("a result 3 intervals old: State = %v, want down", e.State)
	}

	// Everything stale: unknown, which is usable.
	rs = []store.ProbeResult{res("p1", "r1", "s.", "e1", Down, stale)}
	st := Evaluate(Input{Config: cfg, Results: rs, Now: now})
	if e := st.Endpoint("s.", "e1"); e.State != Unknown || !strings.Contains(e.Reason, "no fresh") {
		t.Errorf("all stale: State = %v (%s), want unknown, no fresh results", e.State, e.Reason)
	}
	if !st.Usable("s.", "e1") || st.AllDown("s.") {
		t.Error("an endpoint with only stale results must stay usable")
	}

	// The result's own interval wins over the check's: 1s interval, 4s old.
	r := res("p1", "r1", "s.", "e1", Down, now.Add(-4*time.Second))
	r.Interval = time.Second
	if e := Evaluate(Input{Config: cfg, Results: []store.ProbeResult{r}, Now: now}).Endpoint("s.", "e1"); e.State != Unknown {
		t.Errorf("result with 1s interval 4s old: State = %v, want unknown (stale)", e.State)
	}
	// Without one, the check's interval applies: 5s, so 14s old is fresh.
	r = res("p1", "r1", "s.", "e1", Down, now.Add(-14*time.Second))
	r.Interval = 0
	if e := Evaluate(Input{Config: cfg, Results: []store.ProbeResult{r}, Now: now}).Endpoint("s.", "e1"); e.State != Down {
		t.Errorf("result without interval 14s old: State = %v, want down (fresh at 5s)", e.State)
	}
	// A result from the future (clock skew between nodes) votes.
	rs = []store.ProbeResult{res("p1", "r1", "s.", "e1", Down, now.Add(2*time.Second))}
	if e := Evaluate(Input{Config: cfg, Results: rs, Now: now}).Endpoint("s.", "e1"); e.State != Down {
		t.Errorf("result from the future: State = %v, want down", e.State)
	}
}

func TestEvaluateNewestResultPerProberWins(t *testing.T) {
	cfg := config(checked("s.", ep("e1", "eu", "a")))
	now := t0
	rs := []store.ProbeResult{
		res("p1", "r1", "s.", "e1", Down, now.Add(-2*time.Second)),
		res("p1", "r1", "s.", "e1", Up, now.Add(-time.Second)),
		res("p1", "r1", "s.", "e1", Down, now.Add(-3*time.Second)),
	}
	e := Evaluate(Input{Config: cfg, Results: rs, Now: now}).Endpoint("s.", "e1")
	if e.State != Up || len(e.Votes) != 1 || !e.Votes[0].At.Equal(now.Add(-time.Second)) {
		t.Fatalf("State = %v, votes %+v; want up from the newest result only", e.State, e.Votes)
	}
}

func TestEvaluateVerdictFallsBackToOK(t *testing.T) {
	cfg := config(checked("s.", ep("e1", "eu", "a"), ep("e2", "eu", "a")))
	r1 := res("p1", "r1", "s.", "e1", Up, t0)
	r1.Verdict, r1.OK = "", false
	r2 := res("p1", "r1", "s.", "e2", Up, t0)
	r2.Verdict, r2.OK = "", true
	st := Evaluate(Input{Config: cfg, Results: []store.ProbeResult{r1, r2}, Now: t0})
	if got := st.Endpoint("s.", "e1").State; got != Down {
		t.Errorf("no verdict, OK=false: %v, want down", got)
	}
	if got := st.Endpoint("s.", "e2").State; got != Up {
		t.Errorf("no verdict, OK=true: %v, want up", got)
	}
}

func TestEvaluateImpairedByControlTargets(t *testing.T) {
	cfg := config(checked("s.", ep("e1", "eu", "a"), ep("e2", "us", "a")))
	now := t0
	at := now.Add(-time.Second)
	base := []store.ProbeResult{
		res("p1", "r1", "s.", "e1", Down, at), // p1 is cut off
		res("p2", "r2", "s.", "e1", Down, at),
		res("p3", "r3", "s.", "e1", Up, at),
		res("p1", "r1", "s.", "e2", Up, at),
		res("p2", "r2", "s.", "e2", Up, at),
		res("p3", "r3", "s.", "e2", Up, at),
	}
	// Without control results p1 votes, and 2 of 3 take e1 down.
	if e := Evaluate(Input{Config: cfg, Results: base, Now: now}).Endpoint("s.", "e1"); e.State != Down {
		t.Fatalf("baseline: e1 %v (%s), want down", e.State, e.Reason)
	}

	tests := []struct {
		name     string
		control  []store.ProbeResult
		impaired bool
		e1       State
	}{
		{"all control targets fail", []store.ProbeResult{
			control("p1", "r1", "198.51.100.1:443", false, at),
			control("p1", "r1", "203.0.113.1:443", false, at),
		}, true, Up},
		{"one control target still answers", []store.ProbeResult{
			control("p1", "r1", "198.51.100.1:443", false, at),
			control("p1", "r1", "203.0.113.1:443", true, at),
		}, false, Down},
		{"only stale control results fail", []store.ProbeResult{
			control("p1", "r1", "198.51.100.1:443", false, now.Add(-time.Hour)),
		}, false, Down},
		{"the newest control result per target counts", []store.ProbeResult{
			control("p1", "r1", "198.51.100.1:443", true, at.Add(-time.Second)),
			control("p1", "r1", "198.51.100.1:443", false, at),
		}, true, Up},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := Evaluate(Input{Config: cfg, Results: append(slices.Clone(base), tt.control...), Now: now})
			e := st.Endpoint("s.", "e1")
			if e.State != tt.e1 {
				t.Errorf("e1 = %v (%s), want %v", e.State, e.Reason, tt.e1)
			}
			ps := st.Probers()
			if len(ps) != 3 || ps[0].ID != "p1" {
				t.Fatalf("Probers() = %+v, want p1, p2, p3", ps)
			}
			if ps[0].Impaired != tt.impaired {
				t.Errorf("p1 impaired = %v (%s), want %v", ps[0].Impaired, ps[0].Reason, tt.impaired)
			}
			if tt.impaired && !strings.Contains(ps[0].Reason, "control targets") {
				t.Errorf("p1 reason %q does not mention control targets", ps[0].Reason)
			}
			if ps[1].Impaired || ps[2].Impaired {
				t.Errorf("p2/p3 impaired: %+v", ps[1:])
			}
			for _, v := range e.Votes {
				if v.Prober == "p1" && v.Impaired != tt.impaired {
					t.Errorf("p1's vote Impaired = %v, want %v", v.Impaired, tt.impaired)
				}
			}
		})
	}
}

// twoRegions has 2 checked endpoints in each of two regions and a static
// service, whose endpoints never count toward rule (b).
func twoRegions() (cfgSvc []string, in Input) {
	cfg := config(
		checked("api.", ep("eu-1", "eu", "a"), ep("eu-2", "eu", "b"), ep("us-1", "us", "a"), ep("us-2", "us", "b")),
		static("www.", ep("eu-www", "eu", "a")),
	)
	return []string{"eu-1", "eu-2", "us-1", "us-2"}, Input{Config: cfg, Now: t0}
}

func TestEvaluateImpairedBySeeingEverythingDown(t *testing.T) {
	eps, in := twoRegions()
	at := t0.Add(-time.Second)
	var rs []store.ProbeResult
	for _, e := range eps {
		rs = append(rs, res("p-blind", "ap", "api.", e, Down, at)) // sees everything down
		rs = append(rs, res("p-eu", "eu", "api.", e, Up, at))
		v := Up
		if e == "eu-1" { // a real outage, seen by one good prober
			v = Down
		}
		rs = append(rs, res("p-us", "us", "api.", e, v, at))
	}
	in.Results = rs
	st := Evaluate(in)

	var blind ProberStatus
	for _, p := range st.Probers() {
		if p.ID == "p-blind" {
			blind = p
		} else if p.Impaired {
			t.Errorf("%s impaired: %s", p.ID, p.Reason)
		}
	}
	if !blind.Impaired || !strings.Contains(blind.Reason, "eu 2/2") || blind.Region != "ap" {
		t.Fatalf("p-blind = %+v, want impaired with per-region counts", blind)
	}
	// Counted with p-blind, eu-1 would be down 2 of 3. Set aside, 1 of 2.
	if e := st.Endpoint("api.", "eu-1"); e.State != Up || !strings.Contains(e.Reason, "impaired") {
		t.Errorf("eu-1 = %v (%s), want up with the impaired prober set aside", e.State, e.Reason)
	}
	for _, e := range eps[1:] {
		if got := st.Endpoint("api.", e).State; got != Up {
			t.Errorf("%s = %v, want up", e, got)
		}
	}

	t.Run("everyone sees everything down: a real outage", func(t *testing.T) {
		_, in := twoRegions()
		for _, e := range eps {
			in.Results = append(in.Results, votes("api.", e, at, Down, Down, Down)...)
		}
		st := Evaluate(in)
		for _, p := range st.Probers() {
			if p.Impaired {
				t.Errorf("%s impaired in a global outage: %s", p.ID, p.Reason)
			}
		}
		if !st.AllDown("api.") || st.Region("us").Out != true {
			t.Errorf("AllDown = %v, us out = %v; want a real outage to show", st.AllDown("api."), st.Region("us").Out)
		}
		if st.Region("eu").Out {
			t.Error("eu is out, but its static endpoint is usable")
		}
	})

	t.Run("a single prober decides alone", func(t *testing.T) {
		_, in := twoRegions()
		for _, e := range eps {
			in.Results = append(in.Results, res("p1", "eu", "api.", e, Down, at))
		}
		st := Evaluate(in)
		if ps := st.Probers(); len(ps) != 1 || ps[0].Impaired {
			t.Fatalf("Probers() = %+v, want one, not impaired", ps)
		}
		if !st.AllDown("api.") {
			t.Error("a lone prober seeing everything down must take the service down")
		}
	})

	t.Run("half down in one region is not blindness", func(t *testing.T) {
		_, in := twoRegions()
		for _, e := range eps {
			v := Down
			if e == "us-2" { // us: 1 of 2 down is not more than half
				v = Up
			}
			in.Results = append(in.Results, res("p1", "eu", "api.", e, v, at), res("p2", "us", "api.", e, Up, at))
		}
		for _, p := range Evaluate(in).Probers() {
			if p.Impaired {
				t.Errorf("%s impaired: %s", p.ID, p.Reason)
			}
		}
	})

	t.Run("one region only: rule (b) does not apply", func(t *testing.T) {
		in := Input{Config: config(checked("api.", ep("eu-1", "eu", "a"), ep("eu-2", "eu", "b"))), Now: t0}
		for _, e := range []string{"eu-1", "eu-2"} {
			in.Results = append(in.Results, res("p1", "eu", "api.", e, Down, at), res("p2", "us", "api.", e, Up, at))
		}
		for _, p := range Evaluate(in).Probers() {
			if p.Impaired {
				t.Errorf("%s impaired with one region: %s", p.ID, p.Reason)
			}
		}
	})
}

func TestEvaluateAllProbersImpairedLeavesUnknown(t *testing.T) {
	cfg := config(checked("s.", ep("e1", "eu", "a")))
	at := t0.Add(-time.Second)
	rs := []store.ProbeResult{
		res("p1", "r1", "s.", "e1", Down, at),
		control("p1", "r1", "198.51.100.1:443", false, at),
	}
	st := Evaluate(Input{Config: cfg, Results: rs, Now: t0})
	e := st.Endpoint("s.", "e1")
	if e.State != Unknown || !strings.Contains(e.Reason, "only impaired") || !e.Usable() {
		t.Errorf("e1 = %v (%s) usable %v; want unknown and usable", e.State, e.Reason, e.Usable())
	}
}

func TestEvaluateUnknownIsUsable(t *testing.T) {
	cfg := config(checked("s.", ep("e1", "eu", "a"), ep("e2", "us", "a")))
	// A fresh start: no results at all.
	st := Evaluate(Input{Config: cfg, Now: t0})
	for _, name := range []string{"e1", "e2"} {
		e := st.Endpoint("s.", name)
		if e.State != Unknown || !e.Usable() || e.Reason != "no results" {
			t.Errorf("%s = %+v, want unknown, usable, no results", name, e)
		}
	}
	if st.AllDown("s.") || st.Region("eu").Out || st.Zone("us", "a").Out {
		t.Error("nothing known must not put the service, a region or a zone out")
	}
	if s, _ := st.Service("s."); s.Usable != 2 || s.Static {
		t.Errorf("Service = %+v, want 2 usable, not static", s)
	}
}

func TestEvaluateStaticService(t *testing.T) {
	cfg := config(static("www.", ep("w1", "eu", "a"), ep("w2", "us", "a")))
	// A stray result claiming down must not matter: static is always up.
	rs := []store.ProbeResult{res("p1", "eu", "www.", "w1", Down, t0)}
	st := Evaluate(Input{Config: cfg, Results: rs, Now: t0})
	for _, name := range []string{"w1", "w2"} {
		if e := st.Endpoint("www.", name); e.State != Up || !e.Usable() {
			t.Errorf("%s = %v (%s), want up", name, e.State, e.Reason)
		}
	}
	if s, ok := st.Service("www."); !ok || !s.Static || s.AllDown || !s.FailOpen {
		t.Errorf("Service = %+v, want static, not all down, fail open by default", s)
	}
}

func TestEvaluateDrains(t *testing.T) {
	cfg := config(
		checked("api.", ep("eu-1", "eu", "a"), ep("eu-2", "eu", "b"), ep("us-1", "us", "a"), ep("us-2", "us", "b")),
		checked("web.", ep("eu-1", "eu", "a"), ep("us-1", "us", "a")),
	)
	at := t0.Add(-time.Second)
	var rs []store.ProbeResult
	for _, s := range cfg.Services {
		for _, e := range s.Endpoints {
			v := Up
			if e.Name == "us-1" {
				v = Down
			}
			rs = append(rs, res("p1", "eu", s.Name, e.Name, v, at))
		}
	}
	tests := []struct {
		name    string
		drain   store.Drain
		drained []string // service/endpoint
		region  string   // region expected out
		zones   []string // region/zone expected out (us/a always is: us-1 is down)
	}{
		{"endpoint drain applies in every service",
			store.Drain{Kind: store.DrainEndpoint, Name: "eu-1", By: "alice", Reason: "maintenance"},
			[]string{"api./eu-1", "web./eu-1"}, "", []string{"eu/a", "us/a"}},
		{"zone drain",
			store.Drain{Kind: store.DrainZone, Name: "eu/b", By: "bob"},
			[]string{"api./eu-2"}, "", []string{"eu/b", "us/a"}},
		{"region drain",
			store.Drain{Kind: store.DrainRegion, Name: "eu"},
			[]string{"api./eu-1", "api./eu-2", "web./eu-1"}, "eu", []string{"eu/a", "eu/b", "us/a"}},
		{"drain of a down endpoint keeps its state shown",
			store.Drain{Kind: store.DrainEndpoint, Name: "us-1"},
			[]string{"api./us-1", "web./us-1"}, "", []string{"us/a"}},
		{"unknown kind is ignored",
			store.Drain{Kind: "galaxy", Name: "eu"},
			nil, "", []string{"us/a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := Evaluate(Input{Config: cfg, Results: rs, Drains: []store.Drain{tt.drain}, Now: t0})
			for _, s := range st.Services() {
				for _, e := range s.Endpoints {
					want := slices.Contains(tt.drained, e.Service+"/"+e.Endpoint)
					if e.Drained != want {
						t.Errorf("%s/%s drained = %v, want %v", e.Service, e.Endpoint, e.Drained, want)
					}
					if want {
						if !strings.Contains(e.DrainReason, tt.drain.Name) || !strings.Contains(e.DrainReason, tt.drain.By) {
							t.Errorf("%s/%s drain reason %q", e.Service, e.Endpoint, e.DrainReason)
						}
						if st.Usable(e.Service, e.Endpoint) {
							t.Errorf("%s/%s drained yet usable", e.Service, e.Endpoint)
						}
					}
					wantState := Up
					if e.Endpoint == "us-1" {
						wantState = Down
					}
					if e.State != wantState {
						t.Errorf("%s/%s state %v, want %v (drains do not change health)", e.Service, e.Endpoint, e.State, wantState)
					}
				}
			}
			for _, r := range st.Regions() {
				if want := r.Name == tt.region; r.Out != want {
					t.Errorf("region %s out = %v, want %v (%s)", r.Name, r.Out, want, r.Reason)
				}
				if want := tt.drain.Kind == store.DrainRegion && r.Name == tt.drain.Name; r.Drained != want {
					t.Errorf("region %s drained = %v, want %v", r.Name, r.Drained, want)
				}
			}
			for _, z := range st.Zones() {
				if want := slices.Contains(tt.zones, z.Key()); z.Out != want {
					t.Errorf("zone %s out = %v, want %v (%s)", z.Key(), z.Out, want, z.Reason)
				}
				if want := tt.drain.Kind == store.DrainZone && z.Key() == tt.drain.Name; z.Drained != want {
					t.Errorf("zone %s drained = %v, want %v", z.Key(), z.Drained, want)
				}
			}
		})
	}
}

func TestEvaluateRegionZoneAndAllDown(t *testing.T) {
	cfg := config(
		checked("api.", ep("eu-1", "eu", "a"), ep("eu-2", "eu", "b"), ep("us-1", "us", "a")),
		checked("solo.", ep("solo-1", "eu", "a")),
	)
	at := t0.Add(-time.Second)
	rs := []store.ProbeResult{
		res("p1", "eu", "api.", "eu-1", Down, at),
		res("p1", "eu", "api.", "eu-2", Up, at),
		res("p1", "eu", "api.", "us-1", Down, at),
		res("p1", "eu", "solo.", "solo-1", Down, at),
	}
	st := Evaluate(Input{Config: cfg, Results: rs, Now: t0})
	if r := st.Region("us"); !r.Out || r.Down != 1 || !strings.Contains(r.Reason, "no usable") {
		t.Errorf("us = %+v, want out", r)
	}
	if r := st.Region("eu"); r.Out || r.Endpoints != 3 || r.Usable != 1 {
		t.Errorf("eu = %+v, want up with 1 of 3 usable", r)
	}
	if z := st.Zone("eu", "a"); !z.Out || z.Endpoints != 2 {
		t.Errorf("eu/a = %+v, want out (eu-1 and solo-1 down)", z)
	}
	if z := st.Zone("eu", "b"); z.Out {
		t.Errorf("eu/b = %+v, want up", z)
	}
	if st.AllDown("api.") {
		t.Error("api. has eu-2 up, yet AllDown")
	}
	if !st.AllDown("solo.") {
		t.Error("solo. has its only endpoint down, yet not AllDown")
	}
	if st.AllDown("nosuch.") || !st.Usable("nosuch.", "x") || st.Region("mars").Out || st.Zone("eu", "z").Out {
		t.Error("unknown names must read as usable and not out")
	}
}

func TestNilStatusIsUsable(t *testing.T) {
	var st *Status
	if !st.Usable("s.", "e") || st.AllDown("s.") || st.Region("eu").Out || st.Zone("eu", "a").Out {
		t.Fatal("a nil Status must read as everything usable")
	}
	if e := st.Endpoint("s.", "e"); e.State != Unknown || e.Service != "s." || e.Endpoint != "e" {
		t.Errorf("Endpoint = %+v", e)
	}
	if st.Probers() != nil || st.Services() != nil || st.Regions() != nil || st.Zones() != nil || !st.At().IsZero() {
		t.Error("a nil Status must list nothing")
	}
	if _, ok := st.Service("s."); ok {
		t.Error("Service on nil reported ok")
	}
	// A nil config gives an empty, non-nil Status.
	if got := Evaluate(Input{Now: t0}); got == nil || len(got.Services()) != 0 {
		t.Errorf("Evaluate with nil config = %+v", got)
	}
}

func TestEvaluateIgnoresUnconfiguredEndpoints(t *testing.T) {
	cfg := config(checked("s.", ep("e1", "eu", "a")))
	rs := []store.ProbeResult{res("p1", "eu", "s.", "gone", Down, t0), res("p1", "eu", "old.", "e1", Down, t0)}
	st := Evaluate(Input{Config: cfg, Results: rs, Now: t0})
	if e := st.Endpoint("s.", "e1"); e.State != Unknown || len(e.Votes) != 0 {
		t.Errorf("e1 = %+v, want unknown with no votes", e)
	}
	if ps := st.Probers(); len(ps) != 1 || ps[0].Fresh != 0 || !ps[0].LastSeen.Equal(t0) {
		t.Errorf("Probers() = %+v, want p1 seen at t0 with no counted results", ps)
	}
}

// TestEvaluateDeterministic shuffles results and drains: every node must
// compute the same Status whatever order its store returns.
func TestEvaluateDeterministic(t *testing.T) {
	in := benchInput(20, 5)
	in.Results = append(in.Results,
		control("p0", "r0", "198.51.100.1:443", false, in.Now),
		res("p1", "r1", "svc0.", "ep0", Down, in.Now.Add(-time.Second)), // duplicate, older
	)
	in.Drains = []store.Drain{
		{Kind: store.DrainZone, Name: "r1/a", By: "x", At: t0},
		{Kind: store.DrainZone, Name: "r1/a", By: "y", At: t0},
		{Kind: store.DrainEndpoint, Name: "ep3"},
	}
	want := Evaluate(in)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		sh := in
		sh.Results = slices.Clone(in.Results)
		sh.Drains = slices.Clone(in.Drains)
		rng.Shuffle(len(sh.Results), func(i, j int) { sh.Results[i], sh.Results[j] = sh.Results[j], sh.Results[i] })
		rng.Shuffle(len(sh.Drains), func(i, j int) { sh.Drains[i], sh.Drains[j] = sh.Drains[j], sh.Drains[i] })
		if got := Evaluate(sh); !reflect.DeepEqual(got, want) {
			t.Fatal("a shuffled input gave a different Status")
		}
	}
}
