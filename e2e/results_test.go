//go:build e2e && linux

package e2e

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"
)

// result is one assertion of a scenario, with its timing.
type result struct {
	scenario string
	what     string
	took     time.Duration // 0: not a timing
	bound    time.Duration // 0: no bound
	slack    time.Duration // tolerance over bound (GTM_E2E_BOUND_SLACK)
	pass     bool
	note     string
}

// results collects the run's assertions and measured RTTs for the
// summary table and RESULTS.md.
type results struct {
	mu   sync.Mutex
	rows []result
	rtt  map[string]map[string]string // client -> region -> "measured (truth)"
}

func (rs *results) add(r result) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.rows = append(rs.rows, r)
}

func (rs *results) setRTT(client, region, cell string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.rtt == nil {
		rs.rtt = map[string]map[string]string{}
	}
	if rs.rtt[client] == nil {
		rs.rtt[client] = map[string]string{}
	}
	rs.rtt[client][region] = cell
}

// record adds a result and logs it as it happens.
func (w *world) record(r result) {
	w.res.add(r)
	verdict := "PASS"
	if !r.pass {
		verdict = "FAIL"
	}
	w.t.Logf("[%s] %s: %s%s%s", verdict, r.scenario, r.what, timing(r), note(r))
}

func timing(r result) string {
	s := ""
	if r.took > 0 {
		s = " in " + ms(r.took)
	}
	if r.bound > 0 {
		s += " (bound " + bound(r) + ")"
	}
	return s
}

func bound(r result) string {
	if r.slack > 0 {
		return ms(r.bound) + " + " + ms(r.slack) + " slack"
	}
	return ms(r.bound)
}

func note(r result) string {
	if r.note == "" {
		return ""
	}
	return " — " + r.note
}

func ms(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// summary renders every result as a Markdown table, logs it and writes
// RESULTS.md beside the suite.
func (w *world) summary() {
	rs := w.res
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "# e2e results\n\nRun %s on %s/%s, %d CPUs, total %s (world start to summary).\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(),
		time.Since(w.start).Round(100*time.Millisecond))
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Fprintf(&b, "Load average at the end (1, 5, 15 min): %s.\n\n", strings.Join(strings.Fields(string(la))[:3], ", "))
	}
	fmt.Fprintf(&b, "Checks: interval %ds, rise %d, fall %d, timeout 300ms; latency map: interval 10s, rebuilt every 30s.\n\n",
		checkInterval, checkRise, checkFall)
	b.WriteString("| scenario | assertion | took | bound | result | note |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rs.rows {
		took, bnd, v := "", "", "pass"
		if r.took > 0 {
			took = ms(r.took)
		}
		if r.bound > 0 {
			bnd = bound(r)
		}
		if !r.pass {
			v = "**FAIL**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.scenario, r.what, took, bnd, v, strings.ReplaceAll(r.note, "|", "/"))
	}
	if len(rs.rtt) > 0 {
		b.WriteString("\nRTT the latency map learned from each region to each client network (truth: twice the WAN's one-way delay):\n\n| client |")
		for _, r := range w.tp.regions {
			fmt.Fprintf(&b, " %s |", r.name)
		}
		b.WriteString("\n| --- |")
		for range w.tp.regions {
			b.WriteString(" --- |")
		}
		b.WriteString("\n")
		for _, c := range w.tp.clients {
			fmt.Fprintf(&b, "| %s |", c.name)
			for _, r := range w.tp.regions {
				fmt.Fprintf(&b, " %s |", rs.rtt[c.name][r.name])
			}
			b.WriteString("\n")
		}
	}
	w.t.Logf("summary:\n%s", b.String())
	if err := os.WriteFile("RESULTS.md", []byte(b.String()), 0o644); err != nil {
		w.t.Errorf("writing RESULTS.md: %v", err)
	}
}
