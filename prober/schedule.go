package prober

import (
	"container/heap"
	"context"
	"math/rand/v2"
	"time"
)

// schedSlack lets one wake-up dispatch every probe due within the next
// millisecond. At 10,000 targets a second the ticks are ~100µs apart; the
// slack caps the scheduler at ~1,000 wake-ups a second for no loss that a
// 1s-minimum interval can notice.
const schedSlack = time.Millisecond

// A single scheduler goroutine with a heap of due times feeds a fixed pool
// of workers. One goroutine per target sleeping on its own timer would also
// work, but costs a timer and a stack per target (10,000 at the benchmark)
// and makes the concurrency bound a semaphore that sleeping goroutines pile
// up on; here a slow target simply has its ticks skipped.

// timerHeap orders targets by their next due time.
type timerHeap []*target

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].dueKey < h[j].dueKey }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

// Push and Pop are for container/heap only.
func (h *timerHeap) Push(x any) {
	t := x.(*target)
	t.index = len(*h)
	*h = append(*h, t)
}

func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*h = old[:len(old)-1]
	return t
}

// scheduler decides when each target is due. It is pure (no clock, no
// goroutine) so its timing can be tested with chosen times.
type scheduler struct {
	h   timerHeap
	rnd *rand.Rand
	// epoch is the first adopt's time. Heap keys are nanoseconds since it:
	// comparing int64s instead of time.Time (wall and monotonic parts) was
	// 2% of the prober's CPU at 10,000 targets.
	epoch time.Time
}

// setDue sets t's due time and its heap key.
func (s *scheduler) setDue(t *target, due time.Time) {
	t.due = due
	t.dueKey = int64(due.Sub(s.epoch))
}

// adopt makes list the scheduled set. Targets already scheduled keep their
// ticks; new ones start at a random offset within their first interval so
// that targets added together do not probe in step.
func (s *scheduler) adopt(list []*target, now time.Time) {
	if s.epoch.IsZero() {
		s.epoch = now
	}
	for _, t := range s.h {
		t.index = -1
	}
	h := make(timerHeap, 0, len(list))
	for _, t := range list {
		if t.nominal.IsZero() {
			t.nominal = now.Add(randDuration(s.rnd, t.interval))
			s.setDue(t, t.nominal)
		}
		t.index = len(h)
		h = append(h, t)
	}
	heap.Init(&h)
	s.h = h
}

// next returns the earliest due target, or nil.
func (s *scheduler) next() *target {
	if len(s.h) == 0 {
		return nil
	}
	return s.h[0]
}

// advance moves t, which is due, to its next tick after now, jittered by up
// to t.jitter, and returns how many ticks were missed because the
// scheduler ran late. Ticks stay on the nominal grid so jitter never
// accumulates into drift.
func (s *scheduler) advance(t *target, now time.Time) (missed int) {
	t.nominal = t.nominal.Add(t.interval)
	if behind := now.Sub(t.nominal); behind >= 0 {
		n := int(behind/t.interval) + 1
		t.nominal = t.nominal.Add(time.Duration(n) * t.interval)
		missed = n
	}
	s.setDue(t, t.nominal.Add(randDuration(s.rnd, t.jitter)))
	heap.Fix(&s.h, t.index)
	return missed
}

func randDuration(r *rand.Rand, d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(r.Int64N(int64(d)))
}

// schedule hands due targets to the workers on jobs until ctx ends. A tick
// whose target is still being probed is skipped and counted, so a slow
// target never has more than one probe in flight. When every worker is busy
// the send blocks: the concurrency bound holds, and ticks missed meanwhile
// are counted as late.
func (p *Prober) schedule(ctx context.Context, jobs chan<- *target) {
	s := &scheduler{rnd: p.opts.Rand}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if l := p.takePending(); l != nil {
			s.adopt(l, p.now())
		}
		now := p.now()
		for t := s.next(); t != nil && !t.due.After(now.Add(schedSlack)); t = s.next() {
			if missed := s.advance(t, now); missed > 0 {
				p.metrics.skippedLate.Add(float64(missed))
			}
			if t.running.Load() {
				p.metrics.skippedBusy.Inc()
				continue
			}
			t.running.Store(true)
			select {
			case jobs <- t:
			case <-ctx.Done():
				t.running.Store(false)
				return
			}
			now = p.now()
		}
		wait := time.Hour
		if t := s.next(); t != nil {
			wait = t.due.Sub(now)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-p.wake:
		}
	}
}
