package health

import "testing"

func TestTracker(t *testing.T) {
	type step struct {
		ok      bool
		want    State
		changed bool
	}
	tests := []struct {
		name       string
		rise, fall int
		steps      []step
	}{
		{"starts unknown, rises after rise successes", 2, 3, []step{
			{true, Unknown, false}, {true, Up, true}, {true, Up, false},
		}},
		{"falls from unknown after fall failures", 2, 3, []step{
			{false, Unknown, false}, {false, Unknown, false}, {false, Down, true}, {false, Down, false},
		}},
		{"one failure does not take an up endpoint down", 2, 3, []step{
			{true, Unknown, false}, {true, Up, true}, {false, Up, false}, {false, Up, false},
			{true, Up, false}, {false, Up, false}, {false, Up, false}, {false, Down, true},
		}},
		{"a success resets the failure run", 1, 2, []step{
			{false, Unknown, false}, {true, Up, true}, {false, Up, false}, {true, Up, false}, {false, Up, false}, {false, Down, true},
		}},
		{"recovers after rise successes in a row", 2, 2, []step{
			{false, Unknown, false}, {false, Down, true}, {true, Down, false}, {false, Down, false},
			{true, Down, false}, {true, Up, true},
		}},
		{"mixed results from unknown stay unknown", 2, 2, []step{
			{true, Unknown, false}, {false, Unknown, false}, {true, Unknown, false}, {false, Unknown, false},
		}},
		{"thresholds of one follow every result", 1, 1, []step{
			{true, Up, true}, {false, Down, true}, {true, Up, true}, {true, Up, false},
		}},
		{"zero thresholds are taken as one", 0, 0, []step{
			{false, Down, true}, {true, Up, true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(tt.rise, tt.fall)
			if got := tr.State(); got != Unknown {
				t.Fatalf("initial state = %v, want unknown", got)
			}
			for i, s := range tt.steps {
				got, changed := tr.Observe(s.ok)
				if got != s.want || changed != s.changed {
					t.Fatalf("step %d Observe(%v) = (%v, %v), want (%v, %v)", i, s.ok, got, changed, s.want, s.changed)
				}
				if tr.State() != got {
					t.Fatalf("step %d State() = %v, want %v", i, tr.State(), got)
				}
			}
		})
	}
}

func TestStateStrings(t *testing.T) {
	for _, s := range []State{Unknown, Up, Down} {
		if got := ParseState(s.String()); got != s {
			t.Errorf("ParseState(%q) = %v, want %v", s.String(), got, s)
		}
	}
	for in, want := range map[string]State{"UP": Up, "Down": Down, "": Unknown, "maybe": Unknown} {
		if got := ParseState(in); got != want {
			t.Errorf("ParseState(%q) = %v, want %v", in, got, want)
		}
	}
	if got := State(9).String(); got != "unknown" {
		t.Errorf("State(9).String() = %q, want unknown", got)
	}
	var zero State
	if zero != Unknown {
		t.Error("the zero State is not Unknown")
	}
}
