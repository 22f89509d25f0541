//go:build e2e && linux

package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Bounds from the checks (issue 7): an endpoint goes down after fall
// failures and comes back after rise successes, one interval apart; a
// second covers the probe timeout, the store write and the change feed.
// GTM_E2E_BOUND_SLACK (a duration) widens these two for a CI that must
// not flake while a node far from Redis can take a few hundred ms more
// (README.md); a result over the spec bound is then reported as such.
const (
	downBound = time.Duration(checkInterval*checkFall)*time.Second + time.Second
	upBound   = time.Duration(checkInterval*checkRise)*time.Second + time.Second
	editBound = time.Second
)

// TestMultiRegion builds the world once and runs the scenarios in order;
// each leaves the world as it found it (its cleanup restores links and
// gateways even when it fails).
func TestMultiRegion(t *testing.T) {
	w := newWorld(t)
	defer w.summary()
	steps := []struct {
		name string
		f    func(*testing.T)
	}{
		{"1 steady state", w.scenarioSteady},
		{"2 gateway down", w.scenarioGatewayDown},
		{"3 region cut off", w.scenarioRegionCut},
		{"4+6 primary cut off", w.scenarioPrimaryCut},
		{"5 prober partitioned", w.scenarioProberPartition},
		{"7 zone edit", w.scenarioZoneEdit},
	}
	for i, s := range steps {
		if !t.Run(s.name, s.f) && i == 0 {
			t.Fatal("the world never reached its steady state; the other scenarios would mean nothing")
		}
	}
}

// check records an assertion and fails t when it does not hold.
func (w *world) check(t *testing.T, r result, err error) {
	t.Helper()
	r.pass = err == nil
	if err == nil && r.slack > 0 && r.took > r.bound {
		r.note = strings.TrimSpace(r.note + fmt.Sprintf(" over the spec bound by %s (within GTM_E2E_BOUND_SLACK)", ms(r.took-r.bound)))
	}
	if err != nil {
		r.note = strings.TrimSpace(strings.Join([]string{r.note, firstLine(err.Error())}, " "))
	}
	w.record(r)
	if err != nil {
		t.Errorf("%s: %s: %v", r.scenario, r.what, err)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// mustCtl calls the WAN control API or stops the scenario.
func (w *world) mustCtl(t *testing.T, path string) {
	t.Helper()
	if err := w.ctl(path); err != nil {
		t.Fatal(err)
	}
}

// scenarioSteady: every client network is answered its lowest-RTT region
// by every node, once the latency map has measured the WAN; for tokyo
// that contradicts geography, which is what the nodes answered before.
func (w *world) scenarioSteady(t *testing.T) {
	const sc = "1 steady state"
	c, err := waitFor(w.watches, w.steady, 150*time.Second, 3*time.Second)
	w.check(t, result{scenario: sc, what: "every client network gets its lowest-RTT region from every node",
		took: c.took, note: "from the nodes' start; the latency map is measured every 10s and rebuilt every 30s"}, err)
	if err != nil {
		t.FailNow()
	}

	// Tokyo first got the nearest region by distance, then the lowest RTT.
	tokyo := w.watchesWhere(func(wa *watch) bool { return wa.client.name == "tokyo" })
	geoNear := regionAnswer(w.tp.region("ap"))
	for _, wa := range tokyo {
		at := firstAt(wa, w.start, func(a string) bool { return a == geoNear })
		learned := firstAt(wa, w.start, func(a string) bool { return a == w.steady(wa) })
		if !at.IsZero() && at.Before(learned) {
			w.t.Logf("%s: answered ap (distance) from +%s, us (latency) from +%s", wa, ms(at.Sub(w.start)), ms(learned.Sub(w.start)))
		}
	}

	// Explain on every node: reason latency, the chosen region the WAN's
	// closest; the learned RTT at least the WAN's round trip.
	var errs []string
	for _, node := range w.tp.regions {
		for _, c := range w.tp.clients {
			ex, err := w.explain(node, c)
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			best := c.byRTT(w.tp.regions)[0]
			if ex.Reason != "latency" || ex.Chosen != best.name {
				errs = append(errs, fmt.Sprintf("node %s, client %s: chose %s by %s, want %s by latency", node.name, c.name, ex.Chosen, ex.Reason, best.name))
			}
			nearest, nearKM := "", 0.0
			for _, g := range ex.Groups {
				truth := 2 * c.delay[g.Group]
				if g.RTTMS == nil {
					errs = append(errs, fmt.Sprintf("node %s, client %s: no RTT for region %s", node.name, c.name, g.Group))
					continue
				}
				if *g.RTTMS < truth {
					errs = append(errs, fmt.Sprintf("node %s, client %s: RTT to %s %.1fms below the WAN's %gms", node.name, c.name, g.Group, *g.RTTMS, truth))
				}
				if node == w.tp.regions[0] {
					w.res.setRTT(c.name, g.Group, fmt.Sprintf("%.1f ms (%g)", *g.RTTMS, truth))
				}
				if g.DistanceKM != nil && (nearest == "" || *g.DistanceKM < nearKM) {
					nearest, nearKM = g.Group, *g.DistanceKM
				}
			}
			if c.name == "tokyo" && (nearest != "ap" || ex.Chosen == nearest) {
				errs = append(errs, fmt.Sprintf("node %s: tokyo's nearest region is %s and chosen %s: the world should make geography and RTT disagree", node.name, nearest, ex.Chosen))
			}
		}
	}
	var err2 error
	if len(errs) > 0 {
		err2 = fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	w.check(t, result{scenario: sc, what: "explain on every node: chosen by latency; tokyo's lowest RTT (us) is not its nearest region (ap)"}, err2)
}

// explanation is the part of /api/v1/explain the suite reads.
type explanation struct {
	Services []serviceExplanation `json:"services"`
}

type serviceExplanation struct {
	Chosen string `json:"chosen"`
	Reason string `json:"reason"`
	Groups []struct {
		Group      string   `json:"group"`
		RTTMS      *float64 `json:"rtt_ms"`
		DistanceKM *float64 `json:"distance_km"`
	} `json:"groups"`
}

// explain asks node how it answers client c (as its resolver, with ECS
// when c sends it).
func (w *world) explain(node *region, c *clientNet) (serviceExplanation, error) {
	q := url.Values{"name": {serviceName + "."}, "client": {c.addr().String()}}
	if c.ecs {
		q.Set("ecs", c.prefix().String())
	}
	code, body, err := w.api(node, "GET", "/api/v1/explain?"+q.Encode(), "")
	if err != nil || code != 200 {
		return serviceExplanation{}, fmt.Errorf("explain on %s for %s: %d %v %s", node.name, c.name, code, err, body)
	}
	var ex explanation
	if err := json.Unmarshal(body, &ex); err != nil || len(ex.Services) == 0 {
		return serviceExplanation{}, fmt.Errorf("explain on %s for %s: %v: %s", node.name, c.name, err, body)
	}
	return ex.Services[0], nil
}

// scenarioGatewayDown: a stopped gateway leaves every node's answers
// within interval × fall + 1 s, and returns after rise.
func (w *world) scenarioGatewayDown(t *testing.T) {
	const sc = "2 gateway down"
	eu := w.tp.region("eu")
	g := eu.gateways()[1]
	stopped := "/gateway/stop?addr=" + g.addrPort().String()
	started := "/gateway/start?addr=" + g.addrPort().String()
	t.Cleanup(func() { _ = w.ctl(started) })
	// The clients answered eu: every node, each of those clients.
	ws := w.watchesWhere(func(wa *watch) bool { return wa.client.byRTT(w.tp.regions)[0] == eu })

	t0 := time.Now()
	w.mustCtl(t, stopped)
	c, err := waitFor(ws, func(*watch) string { return regionAnswer(eu, g.name) }, downBound+w.slack, time.Second)
	w.check(t, result{scenario: sc, what: fmt.Sprintf("%s stopped: no node answers it (%d client/node pairs)", g.name, len(ws)),
		took: c.took, bound: downBound, slack: w.slack}, err)
	t.Logf("settled: %s", c.detail())
	// Nobody anywhere answered it after the bound.
	bad := 0
	for _, wa := range w.watches {
		for _, o := range wa.since(t0.Add(downBound + w.slack)) {
			if strings.Contains(o.ans, g.name) {
				bad++
			}
		}
	}
	if bad > 0 {
		w.check(t, result{scenario: sc, what: "no answer holds the stopped gateway after the bound"}, fmt.Errorf("%d answers did", bad))
	}

	w.mustCtl(t, started)
	c, err = waitFor(ws, w.steady, upBound+w.slack, time.Second)
	w.check(t, result{scenario: sc, what: g.name + " restarted: answered again by every node", took: c.took, bound: upBound, slack: w.slack}, err)
}

// scenarioRegionCut: a region whose WAN links are all dropped leaves the
// answers of every other node within interval × fall + 1 s (its clients
// get their next-closest region), and returns after rise once restored.
func (w *world) scenarioRegionCut(t *testing.T) {
	const sc = "3 region cut off"
	us := w.tp.region("us")
	cut, restore := "/cut?a="+us.name+"&b=*", "/restore?a="+us.name+"&b=*"
	t.Cleanup(func() { _ = w.ctl(restore) })
	elsewhere := func(wa *watch) bool { return wa.node != us }
	moved := w.watchesWhere(func(wa *watch) bool { return elsewhere(wa) && wa.client.byRTT(w.tp.regions)[0] == us })
	others := w.watchesWhere(func(wa *watch) bool { return elsewhere(wa) && wa.client.byRTT(w.tp.regions)[0] != us })
	next := func(wa *watch) string { return regionAnswer(wa.client.byRTT(w.tp.regions)[1]) }

	t0 := time.Now()
	w.mustCtl(t, cut)
	c, err := waitFor(moved, next, downBound+w.slack, time.Second)
	var who []string
	for _, wa := range moved {
		who = append(who, fmt.Sprintf("%s: %s", wa, wa.client.byRTT(w.tp.regions)[1].name))
	}
	w.check(t, result{scenario: sc, what: "region us cut off: every other node answers the next-closest region",
		took: c.took, bound: downBound, slack: w.slack, note: strings.Join(who, ", ")}, err)
	t.Logf("settled: %s", c.detail())
	bad, total, ex := badIn(others, t0, time.Now(), is(w.steady), nil)
	var err2 error
	if bad > 0 {
		err2 = fmt.Errorf("%d of %d answers changed: %s", bad, total, strings.Join(ex, "; "))
	}
	w.check(t, result{scenario: sc, what: "clients of other regions keep their answers meanwhile",
		note: fmt.Sprintf("%d answers", total)}, err2)

	w.mustCtl(t, restore)
	c, err = waitFor(w.watches, w.steady, upBound+w.slack, time.Second)
	w.check(t, result{scenario: sc, what: "restored: every node answers us again to its clients", took: c.took, bound: upBound, slack: w.slack}, err)
}

// scenarioPrimaryCut: with the primary region (and Redis) cut off, the
// other nodes answer every query as before; an edit made meanwhile on
// the primary reaches them when it returns. Scenario 6 runs inside: a
// node restarted while Redis is unreachable answers from its snapshot
// within 1 s.
func (w *world) scenarioPrimaryCut(t *testing.T) {
	const sc = "4 primary cut off"
	eu, ap := w.tp.region(primary), w.tp.region("ap")
	cut, restore := "/cut?a="+eu.name+"&b=*", "/restore?a="+eu.name+"&b=*"
	t.Cleanup(func() { _ = w.ctl(restore) })
	ws := w.watchesWhere(func(wa *watch) bool { return wa.node != eu })
	// Keep the cut short: the primary's latency figures expire 30 s after
	// their last write, and a region without figures ranks below the
	// measured ones (see README.md).
	const window = 8 * time.Second

	t0 := time.Now()
	w.mustCtl(t, cut)

	// An edit on the primary, whose node still reaches Redis.
	rec := "primary-edit 60 IN A 192.0.2.44"
	if err := w.editZone(eu, rec); err != nil {
		t.Fatal(err)
	}
	took, err := w.untilAnswered([]*region{eu}, "primary-edit.example.com", "192.0.2.44", editBound)
	w.check(t, result{scenario: sc, what: "edit on the primary's API while cut off: answered by the primary", took: took, bound: editBound}, err)

	// Scenario 6: restart ap's node while Redis is unreachable.
	time.Sleep(time.Second)
	killed := time.Now()
	var ready time.Time
	w.restartNode(t, ap, func(started, listening time.Time, first string, at time.Time, err error) {
		ready = at
		tokyo := &watch{client: w.tp.client("tokyo"), node: ap}
		byLatency := w.steady(tokyo)
		byDistance := regionAnswer(w.tp.region("ap")) // scenario 1 checked ap is tokyo's nearest
		r := result{scenario: "6 restart without Redis", what: "ap's node restarted with Redis unreachable: answers tokyo from its snapshot",
			took: at.Sub(started), bound: time.Second}
		phases := fmt.Sprintf("from process start (listening after %s); ", ms(listening.Sub(started)))
		var e error
		switch {
		case err != nil:
			e = err
		case at.Sub(started) > time.Second:
			e = fmt.Errorf("first answer after %s, %s", ms(at.Sub(started)), phases)
		case first == byLatency:
			r.note = phases + "answered " + first + ", the same as before the restart: the snapshot holds the latency map"
		case first == byDistance:
			e = fmt.Errorf("first answer %s is by distance: the latency map was not restored from the snapshot", first)
		default:
			e = fmt.Errorf("first answer %q: neither %q (latency) nor %q (distance)", first, byLatency, byDistance)
		}
		w.check(t, r, e)
	})

	for time.Since(t0) < window {
		time.Sleep(100 * time.Millisecond)
	}
	end := time.Now()
	gap := func(wa *watch, o obs) bool { // queries alive while ap's node was down on purpose (scenario 6)
		return wa.node == ap && !o.done.Before(killed) && (ready.IsZero() || o.sent.Before(ready))
	}
	fails, total, ex := badIn(ws, t0, end, answered, gap)
	var err2 error
	if fails > 0 {
		err2 = fmt.Errorf("%d of %d queries failed: %s", fails, total, strings.Join(ex, "; "))
	}
	w.check(t, result{scenario: sc, what: fmt.Sprintf("nodes us and ap answer every query for %s", window),
		note: fmt.Sprintf("%d queries, %d failed", total, fails)}, err2)
	changed, judged, ex := badIn(ws, t0, end, is(w.steady), gap)
	err2 = nil
	if changed > 0 {
		err2 = fmt.Errorf("%d of %d answers changed: %s", changed, judged, strings.Join(ex, "; "))
	}
	w.check(t, result{scenario: sc, what: "with the last configuration and health: no answer changed",
		note: fmt.Sprintf("%d answers, the restarted node's included", judged)}, err2)

	w.mustCtl(t, restore)
	took, err = w.untilAnswered([]*region{w.tp.region("us"), ap}, "primary-edit.example.com", "192.0.2.44", 15*time.Second)
	w.check(t, result{scenario: sc, what: "restored: the edit made meanwhile is answered by us and ap", took: took, bound: 15 * time.Second}, err)
	c, err := waitFor(w.watches, w.steady, 60*time.Second, 2*time.Second)
	w.check(t, result{scenario: sc, what: "restored: every node back to the steady answers", took: c.took,
		note: fmt.Sprintf("last: %s", c.slowest)}, err)
}

// restartNode kills region r's node and starts it again, then polls it
// from the client network tokyo until it answers; report gets the
// process start, when it logged "dns listening", the first answer and
// when it came.
func (w *world) restartNode(t *testing.T, r *region, report func(started, listening time.Time, first string, at time.Time, err error)) {
	t.Helper()
	w.node(r.name).kill()
	tokyo := w.tp.client("tokyo")
	res, err := newResolver(nsPrefix+tokyo.name, tokyo.addr().String(), r.nodeAP(), tokyo.prefix())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	type first struct {
		ans  []string
		at   time.Time
		fail map[string]int
		err  error
	}
	done := make(chan first, 1)
	// Poll from before the process starts, every 5 ms, so the first
	// answer is seen within a few ms of being given.
	go func() {
		ans, at, fails, err := res.firstAnswer(serviceName, 5*time.Millisecond, 5*time.Second)
		done <- first{ans, at, fails, err}
	}()
	p := w.startNodeNoWait(r)
	f := <-done
	m, err := p.waitLog(10*time.Second, "dns listening", 0)
	if err != nil {
		t.Fatalf("%v\n%s", err, p.tail(30))
	}
	listening, _ := m["_read"].(time.Time)
	var seen []string
	for e, n := range f.fail {
		seen = append(seen, fmt.Sprintf("%d× %s", n, e))
	}
	slices.Sort(seen)
	if len(seen) == 0 {
		seen = []string{"no failure"}
	}
	t.Logf("restart of %s: before the first answer: %s", r.name, strings.Join(seen, ", "))
	report(p.started, listening, w.tp.names(f.ans), f.at, f.err)
}

// startNodeNoWait starts region r's node and returns at once.
func (w *world) startNodeNoWait(r *region) *proc {
	p, err := launch("gtm-"+r.name, w.dir+"/gtm-"+r.name+".log", nsPrefix+r.dnsSite(), w.gtm,
		"serve", "--config", w.dir+"/gtm-"+r.name+".yaml", "--log-level", "info")
	if err != nil {
		w.t.Fatalf("start gtm-%s: %v", r.name, err)
	}
	w.t.Cleanup(p.stop)
	w.track(p)
	w.mu.Lock()
	w.nodes[r.name] = p
	w.mu.Unlock()
	return p
}

// editZone adds rec to example.com. through node's API (the whole zone
// is PUT: the base zone and every record added so far).
func (w *world) editZone(node *region, rec string) error {
	w.extra = append(w.extra, rec)
	body := baseZone + strings.Join(w.extra, "\n") + "\n"
	code, b, err := w.api(node, "PUT", "/api/v1/zones/example.com.", body)
	if err != nil || code/100 != 2 {
		return fmt.Errorf("PUT zone on %s: %d %v %s", node.name, code, err, b)
	}
	return nil
}

// untilAnswered polls each node (from inside its own namespace, so no
// WAN delay is counted) until name answers addr, and returns the longest
// wait.
func (w *world) untilAnswered(nodes []*region, name, addr string, limit time.Duration) (time.Duration, error) {
	t0 := time.Now()
	var mu sync.Mutex
	var worst time.Duration
	var errs []string
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() {
			res, err := w.localResolver(n)
			if err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
				return
			}
			defer res.Close()
			for {
				ans, err := res.query(name, 200*time.Millisecond)
				took := time.Since(t0)
				if err == nil && slices.Equal(ans, []string{addr}) {
					mu.Lock()
					worst = max(worst, took)
					mu.Unlock()
					return
				}
				if took > limit+2*time.Second {
					mu.Lock()
					errs = append(errs, fmt.Sprintf("node %s: %s answers %v %v after %s", n.name, name, ans, err, ms(took)))
					mu.Unlock()
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return time.Since(t0), fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	if worst > limit {
		return worst, fmt.Errorf("answered after %s, over the %s bound", ms(worst), ms(limit))
	}
	return worst, nil
}

// scenarioProberPartition: the ap prober loses every endpoint but keeps
// Redis; quorum and the impaired check keep every endpoint up and every
// answer the same.
func (w *world) scenarioProberPartition(t *testing.T) {
	const sc = "5 prober partitioned"
	ap := w.tp.region("ap")
	var gws []string
	for _, r := range w.tp.regions {
		gws = append(gws, r.gwSite())
	}
	pair := "?a=" + ap.dnsSite() + "&b=" + strings.Join(gws, ",")
	t.Cleanup(func() { _ = w.ctl("/restore" + pair) })
	const window = 10 * time.Second

	t0 := time.Now()
	w.mustCtl(t, "/cut"+pair)
	var impairedAt time.Duration
	var downSeen []string
	for time.Since(t0) < window {
		for _, n := range w.tp.regions {
			m, err := w.metrics(n)
			if err != nil {
				continue // a scrape can fail; the answers are what counts
			}
			for _, l := range m {
				if strings.HasPrefix(l, "gtm_endpoint_up{") && strings.HasSuffix(l, " 0") && !slices.Contains(downSeen, l) {
					downSeen = append(downSeen, n.name+": "+l)
				}
				if impairedAt == 0 && strings.HasPrefix(l, "gtm_prober_impaired{") && strings.Contains(l, `source="ap"`) && strings.HasSuffix(l, " 1") {
					impairedAt = time.Since(t0)
				}
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	bad, total, ex := badIn(w.watches, t0, time.Now(), is(w.steady), nil)
	var err error
	if bad > 0 || len(downSeen) > 0 {
		err = fmt.Errorf("%d of %d answers changed (%s); endpoints down: %v", bad, total, strings.Join(ex, "; "), downSeen)
	}
	note := fmt.Sprintf("%d answers; ap prober impaired after %s", total, ms(impairedAt))
	if impairedAt == 0 {
		note = fmt.Sprintf("%d answers; ap prober never reported impaired", total)
	}
	w.check(t, result{scenario: sc, what: fmt.Sprintf("ap's prober cut from every gateway for %s: no endpoint down, no answer changed", window),
		note: note}, err)
	w.mustCtl(t, "/restore"+pair)
}

// metrics scrapes node's /metrics, one line per sample.
func (w *world) metrics(node *region) ([]string, error) {
	code, b, err := w.api(node, "GET", "/metrics", "")
	if err != nil || code != 200 {
		return nil, fmt.Errorf("metrics of %s: %d %v", node.name, code, err)
	}
	return strings.Split(string(b), "\n"), nil
}

// scenarioZoneEdit: an edit through one node's API is answered by every
// node within 1 s, five times from different nodes.
func (w *world) scenarioZoneEdit(t *testing.T) {
	const sc = "7 zone edit"
	order := []string{"us", "ap", "eu", "us", "ap"}
	var tooks []time.Duration
	for i, rn := range order {
		r := w.tp.region(rn)
		name := fmt.Sprintf("edit7-%d", i)
		addr := fmt.Sprintf("198.51.100.%d", i+1)
		t0 := time.Now()
		if err := w.editZone(r, name+" 60 IN A "+addr); err != nil {
			t.Fatal(err)
		}
		put := time.Since(t0)
		took, err := w.untilAnswered(w.tp.regions, name+".example.com", addr, editBound)
		tooks = append(tooks, took)
		w.check(t, result{scenario: sc, what: fmt.Sprintf("edit %d through %s's API answered by every node", i+1, rn),
			took: took, bound: editBound, note: "PUT took " + ms(put)}, err)
	}
	slices.Sort(tooks)
	w.t.Logf("zone edit to every node: median %s, max %s", ms(tooks[len(tooks)/2]), ms(tooks[len(tooks)-1]))
}
