package health

import (
	"testing"
	"time"
)

// TestStatusUntil: Until is when the first fresh result goes stale; until
// then the same inputs evaluate to the same verdicts, and at Until one
// changes. With no fresh result it is zero.
func TestStatusUntil(t *testing.T) {
	e1, e2 := ep("a", "eu", "1"), ep("b", "us", "1")
	cfg := config(checked("svc.", e1, e2))
	rs := append(votes("svc.", "a", t0, Down, Down, Down), votes("svc.", "b", t0.Add(2*time.Second), Up, Up, Up)...)
	now := t0.Add(3 * time.Second)
	st := Evaluate(Input{Config: cfg, Results: rs, Now: now})
	want := t0.Add(StaleIntervals*interval + time.Nanosecond)
	if got := st.Until(); !got.Equal(want) {
		t.Fatalf("Until = %v, want %v (a's results go stale first)", got, want)
	}
	if st.Endpoint("svc.", "a").State != Down {
		t.Fatalf("a is %v, want down", st.Endpoint("svc.", "a").State)
	}
	before := Evaluate(Input{Config: cfg, Results: rs, Now: want.Add(-time.Nanosecond)})
	if before.Endpoint("svc.", "a").State != Down || before.Until() != st.Until() {
		t.Errorf("just before Until: a is %v, Until %v", before.Endpoint("svc.", "a").State, before.Until())
	}
	at := Evaluate(Input{Config: cfg, Results: rs, Now: want})
	if at.Endpoint("svc.", "a").State == Down {
		t.Error("at Until, a's stale votes still mark it down")
	}
	if !at.Until().Equal(t0.Add(2*time.Second + StaleIntervals*interval + time.Nanosecond)) {
		t.Errorf("next Until = %v, want when b's results go stale", at.Until())
	}
	if none := Evaluate(Input{Config: cfg, Results: rs, Now: t0.Add(time.Hour)}); !none.Until().IsZero() {
		t.Errorf("with every result stale, Until = %v, want zero", none.Until())
	}
}
