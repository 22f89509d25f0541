//go:build e2e && linux

package e2e

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// serviceName is the traffic-managed name the clients ask for.
const serviceName = "api.example.com"

// obs is one answer a client got, stamped halfway between the query and
// the answer: when the node gave it, give or take half a round trip.
type obs struct {
	at         time.Time
	sent, done time.Time // the query's whole life
	ans        string    // gateway names, or "error: ..."
}

// watch is one client network asking one DNS node, without pause, for
// the whole run: the record every scenario is judged on.
type watch struct {
	client *clientNet
	node   *region

	mu   sync.Mutex
	hist []obs
}

func (wa *watch) String() string { return wa.client.name + "->" + wa.node.name }

func (wa *watch) add(o obs) {
	wa.mu.Lock()
	wa.hist = append(wa.hist, o)
	wa.mu.Unlock()
}

// since returns the answers that arrived at or after t.
func (wa *watch) since(t time.Time) []obs {
	wa.mu.Lock()
	defer wa.mu.Unlock()
	i := len(wa.hist)
	for i > 0 && !wa.hist[i-1].at.Before(t) {
		i--
	}
	return append([]obs(nil), wa.hist[i:]...)
}

func (wa *watch) latest() obs {
	wa.mu.Lock()
	defer wa.mu.Unlock()
	if len(wa.hist) == 0 {
		return obs{ans: "(nothing yet)"}
	}
	return wa.hist[len(wa.hist)-1]
}

// run asks until ctx ends: a query, its answer recorded, 5 ms, again.
func (wa *watch) run(ctx context.Context, tp *topology, r *resolver) {
	defer r.Close()
	for ctx.Err() == nil {
		sent := time.Now()
		ans, err := r.query(serviceName, 500*time.Millisecond)
		// The node answered about halfway through the round trip.
		done := time.Now()
		o := obs{at: sent.Add(done.Sub(sent) / 2), sent: sent, done: done}
		if err != nil {
			o.ans = "error: " + err.Error()
		} else {
			o.ans = tp.names(ans)
		}
		wa.add(o)
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// converged says how long the world took to settle and which watch
// settled last.
type converged struct {
	took    time.Duration
	slowest *watch
	each    map[*watch]time.Duration // when each watch settled
}

// detail lists each watch's settling time, slowest first.
func (c converged) detail() string {
	ws := make([]*watch, 0, len(c.each))
	for wa := range c.each {
		ws = append(ws, wa)
	}
	slices.SortFunc(ws, func(a, b *watch) int { return cmp.Compare(c.each[b], c.each[a]) })
	parts := make([]string, len(ws))
	for i, wa := range ws {
		parts[i] = fmt.Sprintf("%s %s", wa, ms(c.each[wa]))
	}
	return strings.Join(parts, ", ")
}

// waitFor waits until every watch answers want(watch), and has kept doing
// so for hold, and returns how long after the call the last of them
// started to: the time the world took to converge. It fails when that is
// over limit.
func waitFor(ws []*watch, want func(*watch) string, limit, hold time.Duration) (converged, error) {
	t0 := time.Now()
	for {
		now := time.Now()
		done, last := true, t0
		var slowest *watch
		each := map[*watch]time.Duration{}
		for _, wa := range ws {
			hs := wa.since(t0)
			w := want(wa)
			i := len(hs)
			for i > 0 && hs[i-1].ans == w {
				i--
			}
			if i == len(hs) {
				done = false
				continue
			}
			if now.Sub(hs[i].at) < hold {
				done = false
			}
			each[wa] = hs[i].at.Sub(t0)
			if !hs[i].at.Before(last) {
				last, slowest = hs[i].at, wa
			}
		}
		c := converged{took: last.Sub(t0), slowest: slowest, each: each}
		if done {
			if c.took > limit {
				return c, fmt.Errorf("converged after %s (%s last), over the %s bound", c.took.Round(time.Millisecond), slowest, limit)
			}
			return c, nil
		}
		if now.Sub(t0) > limit+hold+2*time.Second {
			return converged{took: now.Sub(t0)}, fmt.Errorf("not converged after %s:\n%s", now.Sub(t0).Round(time.Millisecond), state(ws, want))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// state lists each watch's latest answer and what was wanted.
func state(ws []*watch, want func(*watch) string) string {
	var b strings.Builder
	for _, wa := range ws {
		o := wa.latest()
		fmt.Fprintf(&b, "  %-14s latest %q at %s, want %q\n", wa, o.ans, o.at.Format("15:04:05.000"), want(wa))
	}
	return b.String()
}

// badIn counts the answers in [from, to] that ok rejects, across ws,
// leaving out those skip selects; it returns the count, the total judged
// and a few examples.
func badIn(ws []*watch, from, to time.Time, ok, skip func(*watch, obs) bool) (bad, total int, ex []string) {
	for _, wa := range ws {
		for _, o := range wa.since(from) {
			if o.at.After(to) {
				break
			}
			if skip != nil && skip(wa, o) {
				continue
			}
			total++
			if !ok(wa, o) {
				bad++
				if len(ex) < 5 {
					ex = append(ex, fmt.Sprintf("%s at +%s: %q", wa, o.at.Sub(from).Round(time.Millisecond), o.ans))
				}
			}
		}
	}
	return bad, total, ex
}

// is accepts an answer equal to want's.
func is(want func(*watch) string) func(*watch, obs) bool {
	return func(wa *watch, o obs) bool { return o.ans == want(wa) }
}

// answered accepts any answer that is not an error.
func answered(_ *watch, o obs) bool { return !strings.HasPrefix(o.ans, "error") }

// firstAt is when wa first answered cond at or after t (zero: never).
func firstAt(wa *watch, t time.Time, cond func(string) bool) time.Time {
	for _, o := range wa.since(t) {
		if cond(o.ans) {
			return o.at
		}
	}
	return time.Time{}
}
