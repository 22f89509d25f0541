package prober

import (
	"math/rand/v2"
	"testing"
	"time"
)

func schedTargets(n int, interval, jitter time.Duration) []*target {
	ts := make([]*target, n)
	for i := range ts {
		ts[i] = &target{key: string(rune('a' + i%26)), interval: interval, jitter: jitter, index: -1}
	}
	return ts
}

func TestSchedulerStartOffsetsSpread(t *testing.T) {
	s := &scheduler{rnd: rand.New(rand.NewPCG(1, 2))}
	now := time.Unix(1000, 0)
	ts := schedTargets(200, time.Second, 100*time.Millisecond)
	s.adopt(ts, now)
	buckets := map[int]int{}
	for _, tg := range ts {
		off := tg.due.Sub(now)
		if off < 0 || off >= time.Second {
			t.Fatalf("start offset %s outside [0, interval)", off)
		}
		buckets[int(off/(100*time.Millisecond))]++
	}
	// 200 targets over 10 buckets of 100ms: every bucket gets some, none
	// gets most, so probes do not fire in step.
	for b := range 10 {
		if buckets[b] == 0 || buckets[b] > 60 {
			t.Errorf("bucket %d holds %d of 200 start offsets: not spread (%v)", b, buckets[b], buckets)
		}
	}
}

func TestSchedulerTicksOnGridWithJitter(t *testing.T) {
	s := &scheduler{rnd: rand.New(rand.NewPCG(3, 4))}
	now := time.Unix(1000, 0)
	interval, jitter := time.Second, 200*time.Millisecond
	ts := schedTargets(1, interval, jitter)
	s.adopt(ts, now)
	tg := ts[0]
	first := tg.nominal
	var sawJitter bool
	for i := 1; i <= 1000; i++ {
		now = tg.due // fire exactly when due
		if missed := s.advance(tg, now); missed != 0 {
			t.Fatalf("tick %d: %d missed when on time", i, missed)
		}
		wantNominal := first.Add(time.Duration(i) * interval)
		if !tg.nominal.Equal(wantNominal) {
			t.Fatalf("tick %d: nominal %s drifted from %s", i, tg.nominal, wantNominal)
		}
		j := tg.due.Sub(tg.nominal)
		if j < 0 || j >= jitter {
			t.Fatalf("tick %d: jitter %s outside [0, %s)", i, j, jitter)
		}
		if j > jitter/2 {
			sawJitter = true
		}
	}
	if !sawJitter {
		t.Error("jitter never exceeded half its bound in 1000 ticks: not random per tick")
	}
}

func TestSchedulerLateTicksCounted(t *testing.T) {
	s := &scheduler{rnd: rand.New(rand.NewPCG(5, 6))}
	now := time.Unix(1000, 0)
	ts := schedTargets(1, time.Second, 0)
	s.adopt(ts, now)
	tg := ts[0]
	start := tg.nominal
	// The scheduler was stuck for 3.5 intervals past the due tick.
	late := tg.due.Add(3500 * time.Millisecond)
	if missed := s.advance(tg, late); missed != 3 {
		t.Errorf("missed %d ticks, want 3", missed)
	}
	if !tg.due.After(late) || !tg.nominal.Equal(start.Add(4*time.Second)) {
		t.Errorf("next tick %s (nominal %s) is not the first grid tick after %s", tg.due, tg.nominal, late)
	}
}

func TestSchedulerOrderAndAdoptKeepsTicks(t *testing.T) {
	s := &scheduler{rnd: rand.New(rand.NewPCG(7, 8))}
	now := time.Unix(1000, 0)
	ts := schedTargets(50, time.Second, 100*time.Millisecond)
	s.adopt(ts, now)
	prev := now
	for range 500 {
		tg := s.next()
		if tg.due.Before(prev) {
			t.Fatalf("heap gave %s after %s", tg.due, prev)
		}
		prev = tg.due
		s.advance(tg, tg.due)
	}
	kept := ts[:10]
	due := make([]time.Time, len(kept))
	for i, tg := range kept {
		due[i] = tg.due
	}
	added := schedTargets(5, time.Second, 0)
	s.adopt(append(append([]*target{}, kept...), added...), prev)
	if len(s.h) != 15 {
		t.Fatalf("heap holds %d targets, want 15", len(s.h))
	}
	for i, tg := range kept {
		if !tg.due.Equal(due[i]) {
			t.Errorf("kept target %d moved from %s to %s", i, due[i], tg.due)
		}
	}
	for _, tg := range ts[10:] {
		if tg.index != -1 {
			t.Errorf("dropped target still indexed at %d", tg.index)
		}
	}
	for _, tg := range added {
		if tg.due.Before(prev) || !tg.due.Before(prev.Add(time.Second)) {
			t.Errorf("added target due %s, want within the interval after %s", tg.due, prev)
		}
	}
}
