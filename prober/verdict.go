package prober

import "github.com/gtm-project/gtm/health"

// The rise/fall verdict is health's state machine (health.Tracker, HAProxy
// semantics), run here in the prober so that the verdict travels with each
// result and every node reading the store sees the same per-prober vote.
// The prober keeps one Tracker per target; a Reload keeps it for targets
// whose check did not change.

func newTracker(rise, fall int) *health.Tracker { return health.NewTracker(rise, fall) }

// verdict records one outcome and returns the verdict for the result
// ("unknown", "up" or "down") and whether it moved to or from down: only
// those changes alter answers (unknown counts as usable), so only they are
// flushed and published at once.
func verdict(tr *health.Tracker, ok bool) (string, bool) {
	prev := tr.State()
	st, changed := tr.Observe(ok)
	return st.String(), changed && (st == health.Down || prev == health.Down)
}
