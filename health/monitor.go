package health

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// RecentSize is how many transitions Monitor keeps for the status page.
const RecentSize = 100

// Monitor is the stateful side of health for one node: it evaluates each
// new Input, compares the Status with the previous one, carries Since times
// over for unchanged states, and logs, counts and keeps every transition.
// Update is meant for one goroutine (the snapshot builder); Current and
// Recent may be called from any.
type Monitor struct {
	log zerolog.Logger
	now func() time.Time
	m   *metrics

	cur atomic.Pointer[Status]

	mu     sync.Mutex
	prev   *Status
	recent [RecentSize]Transition
	next   int // index the next transition goes to
	count  int // transitions kept, up to RecentSize
}

// NewMonitor returns a Monitor that logs to log and registers its metrics
// on reg (nil: unregistered). now supplies Input.Now when an Input leaves it
// zero; nil means time.Now.
func NewMonitor(log zerolog.Logger, reg prometheus.Registerer, now func() time.Time) *Monitor {
	if now == nil {
		now = time.Now
	}
	return &Monitor{log: log, now: now, m: newMetrics(reg)}
}

// Update evaluates in and returns the new Status with the transitions since
// the previous Update. The first Update reports every endpoint that is not
// Unknown, every drain, every region or zone that is out and every impaired
// prober, as transitions from the zero state.
func (m *Monitor) Update(in Input) (*Status, []Transition) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if in.Now.IsZero() {
		in.Now = m.now()
	}
	st := Evaluate(in)
	ts := diff(m.prev, st)
	m.m.set(m.prev, st)
	for _, t := range ts {
		t.log(m.log)
		m.m.transitions.WithLabelValues(string(t.Kind), t.To).Inc()
		m.recent[m.next] = t
		m.next = (m.next + 1) % RecentSize
		m.count = min(m.count+1, RecentSize)
	}
	m.prev = st
	m.cur.Store(st)
	return st, ts
}

// Current returns the latest Status, or nil before the first Update (which
// every Status method reads as "everything unknown and usable").
func (m *Monitor) Current() *Status { return m.cur.Load() }

// Recent returns up to RecentSize latest transitions, oldest first.
func (m *Monitor) Recent() []Transition {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Transition, 0, m.count)
	start := (m.next - m.count + RecentSize) % RecentSize
	for i := range m.count {
		out = append(out, m.recent[(start+i)%RecentSize])
	}
	return out
}

// diff compares st with prev (nil before the first Update), sets Since in
// st where a state carried over, and returns the transitions: probers first
// (they explain what follows), then endpoints in config order, zones and
// regions, each sorted. st is not yet published, so writing it is safe.
func diff(prev, st *Status) []Transition {
	var ts []Transition
	now := st.at
	lasted := func(since time.Time) time.Duration {
		if since.IsZero() {
			return 0
		}
		return now.Sub(since)
	}

	for i := range st.probers {
		p := &st.probers[i]
		was, ok := prev.prober(p.ID)
		if ok && was.Impaired == p.Impaired {
			p.Since = was.Since
			continue
		}
		if !ok && !p.Impaired {
			continue
		}
		t := Transition{At: now, Kind: KindProber, Prober: p.ID, Source: p.Region,
			From: ToRecovered, To: ToImpaired, Reason: p.Reason, Lasted: lasted(was.Since)}
		if !p.Impaired {
			t.From, t.To, t.Reason = ToImpaired, ToRecovered, "control targets reachable and view agrees with other probers"
		}
		ts = append(ts, t)
	}

	for si := range st.services {
		for ei := range st.services[si].Endpoints {
			e := &st.services[si].Endpoints[ei]
			was := prev.Endpoint(e.Service, e.Endpoint) // zero (Unknown, not drained) when new
			known := prev.isConfigured(e.Service, e.Endpoint)
			base := Transition{At: now, Kind: KindEndpoint, Service: e.Service, Endpoint: e.Endpoint,
				Region: e.Region, Zone: e.Zone}
			if was.State == e.State && known {
				e.Since = was.Since
			} else if was.State != e.State {
				t := base
				t.From, t.To, t.Reason, t.Lasted = was.State.String(), e.State.String(), e.Reason, lasted(was.Since)
				ts = append(ts, t)
			}
			if was.Drained != e.Drained {
				t := base
				t.From, t.To, t.Reason = ToUndrained, ToDrained, e.DrainReason
				if !e.Drained {
					t.From, t.To, t.Reason = ToDrained, ToUndrained, "drain lifted ("+was.DrainReason+")"
				}
				ts = append(ts, t)
			}
		}
	}

	for _, z := range st.Zones() {
		k := zoneKey{z.Region, z.Zone}
		cur := st.zones[k]
		was, ok := prev.zone(k)
		if t, moved := outTransition(KindZone, was, ok, &cur.Since, cur.Out, cur.Reason, now); moved {
			t.Region, t.Zone = z.Region, z.Zone
			ts = append(ts, t)
		}
		st.zones[k] = cur
	}
	for _, r := range st.Regions() {
		cur := st.regions[r.Name]
		was, ok := prev.region(r.Name)
		if t, moved := outTransition(KindRegion, was, ok, &cur.Since, cur.Out, cur.Reason, now); moved {
			t.Region = r.Name
			ts = append(ts, t)
		}
		st.regions[r.Name] = cur
	}
	return ts
}

// outState is the part of RegionStatus and ZoneStatus a transition needs.
type outState struct {
	out   bool
	since time.Time
}

// outTransition compares a region's or zone's Out with its previous value,
// carrying since over when unchanged. A new region or zone starts from "up",
// the zero value.
func outTransition(kind Kind, was outState, known bool, since *time.Time, out bool, reason string, now time.Time) (Transition, bool) {
	if known && was.out == out {
		*since = was.since
		return Transition{}, false
	}
	if !known && !out {
		return Transition{}, false
	}
	t := Transition{At: now, Kind: kind, From: Down.String(), To: Up.String(), Reason: reason}
	if out {
		t.From, t.To = Up.String(), Down.String()
	}
	if known {
		t.Lasted = now.Sub(was.since)
	}
	return t, true
}
