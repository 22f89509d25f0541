package health

import (
	"strings"
	"sync"
)

// State is the health of an endpoint as seen by one prober, or the verdict
// across probers. The zero value is Unknown, so a missing or fresh state
// never reads as Down (following abh/geodns' tri-state health).
type State uint8

// States of an endpoint.
const (
	Unknown State = iota
	Up
	Down
)

// String returns "unknown", "up" or "down": the strings stored in
// store.ProbeResult.Verdict and used as metric and log values.
func (s State) String() string {
	switch s {
	case Up:
		return "up"
	case Down:
		return "down"
	default:
		return "unknown"
	}
}

// ParseState is the inverse of String; anything else (including "") is
// Unknown. Case is ignored.
func ParseState(s string) State {
	switch s {
	case "up":
		return Up
	case "down":
		return Down
	}
	switch {
	case strings.EqualFold(s, "up"):
		return Up
	case strings.EqualFold(s, "down"):
		return Down
	default:
		return Unknown
	}
}

// Tracker is the rise/fall state machine of one (endpoint, prober), as in
// HAProxy: it starts Unknown; rise consecutive successes make it Up and fall
// consecutive failures make it Down, from Unknown as well as from the other
// state. A single result against the current state changes nothing, so one
// lost packet never flips an endpoint.
//
// A Tracker is safe for concurrent use: a slow probe may overlap the next
// one of the same target.
type Tracker struct {
	mu      sync.Mutex
	rise    int
	fall    int
	state   State
	okRun   int // consecutive successes
	failRun int // consecutive failures
}

// NewTracker returns a Tracker in state Unknown. rise and fall below 1 are
// taken as 1 (a threshold of zero would make the state meaningless).
func NewTracker(rise, fall int) *Tracker {
	return &Tracker{rise: max(rise, 1), fall: max(fall, 1)}
}

// Observe records one probe outcome and returns the state after it, and
// whether this observation changed it.
func (t *Tracker) Observe(ok bool) (state State, changed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	prev := t.state
	if ok {
		t.failRun = 0
		t.okRun++
		if t.okRun >= t.rise {
			t.state = Up
		}
	} else {
		t.okRun = 0
		t.failRun++
		if t.failRun >= t.fall {
			t.state = Down
		}
	}
	return t.state, t.state != prev
}

// State returns the current state without observing anything.
func (t *Tracker) State() State {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state
}

// MarshalText writes the state as "unknown", "up" or "down" (in JSON too).
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
