package health

import (
	"time"

	"github.com/rs/zerolog"
)

// Kind says what a Transition is about.
type Kind string

// Kinds of transition; also the "kind" label of
// gtm_health_transitions_total.
const (
	KindEndpoint Kind = "endpoint"
	KindRegion   Kind = "region"
	KindZone     Kind = "zone"
	KindProber   Kind = "prober"
)

// Transition targets (the To and From values) besides the State strings
// "up", "down" and "unknown", which endpoints, regions and zones use.
const (
	ToDrained   = "drained"
	ToUndrained = "undrained"
	ToImpaired  = "impaired"
	ToRecovered = "recovered"
)

// Transition is one change of state, as logged and counted by Monitor.
type Transition struct {
	At   time.Time
	Kind Kind
	// Service and Endpoint are set for endpoint transitions.
	Service  string
	Endpoint string
	// Region is set for endpoint, region and zone transitions; Zone for
	// zone transitions (and endpoints that have one).
	Region string
	Zone   string
	// Prober and Source (its region) are set for prober transitions.
	Prober string
	Source string
	From   string
	To     string
	Reason string
	// Lasted is how long the previous state held, when known.
	Lasted time.Duration
}

// Message is the log message of the transition: "endpoint down", "region
// out", "region back", "prober impaired".
func (t Transition) Message() string {
	switch t.Kind {
	case KindRegion, KindZone:
		if t.To == Down.String() {
			return string(t.Kind) + " out"
		}
		return string(t.Kind) + " back"
	}
	return string(t.Kind) + " " + t.To
}

// bad reports whether the transition loses capacity, which is logged as a
// warning.
func (t Transition) bad() bool {
	return t.To == Down.String() || t.To == ToImpaired
}

// log writes t with typed fields under stable keys: kind, service,
// endpoint, region, zone, prober, source, from, to, reason, lasted, at.
func (t Transition) log(l zerolog.Logger) {
	ev := l.Info()
	if t.bad() {
		ev = l.Warn()
	}
	ev = ev.Str("kind", string(t.Kind))
	for _, f := range [...]struct{ k, v string }{
		{"service", t.Service}, {"endpoint", t.Endpoint}, {"region", t.Region},
		{"zone", t.Zone}, {"prober", t.Prober}, {"source", t.Source},
	} {
		if f.v != "" {
			ev = ev.Str(f.k, f.v)
		}
	}
	ev = ev.Str("from", t.From).Str("to", t.To).Str("reason", t.Reason)
	if t.Lasted > 0 {
		ev = ev.Dur("lasted", t.Lasted)
	}
	ev.Time("at", t.At).Msg(t.Message())
}
