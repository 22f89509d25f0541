package store

import (
	"context"
	"sync"
)

// feed delivers Changes to one subscriber without ever blocking the
// writer: pending changes are coalesced per What (the newest replaces an
// undelivered older one), so a slow reader loses intermediate changes but
// always gets the latest of each kind.
type feed struct {
	out  chan Change
	wake chan struct{}

	mu      sync.Mutex
	pending map[string]queued
	order   []string // Whats pending, oldest first, so no kind starves
	last    map[string]uint64
	seen    map[string]bool
	// Urgency survives coalescing: a change is handed over as urgent when
	// an urgent one was queued after the last change of its What that was
	// delivered (seq numbers every queued change).
	seq       uint64
	urgentSeq map[string]uint64
	doneSeq   map[string]uint64
}

// queued is a pending change and its place in the feed's sequence.
type queued struct {
	c   Change
	seq uint64
}

func newFeed() *feed {
	return &feed{
		// Unbuffered: the value is chosen when the reader takes it, so the
		// reader gets the newest pending change, not one queued earlier.
		out:       make(chan Change),
		wake:      make(chan struct{}, 1),
		pending:   make(map[string]queued),
		last:      make(map[string]uint64),
		seen:      make(map[string]bool),
		urgentSeq: make(map[string]uint64),
		doneSeq:   make(map[string]uint64),
	}
}

// push queues c, replacing an undelivered change of the same What.
func (f *feed) push(c Change) {
	f.mu.Lock()
	f.queue(c)
	f.mu.Unlock()
	f.signal()
}

// pushIfNew queues c unless a change with the same What and Version was
// already queued: the safety net uses it so that it only speaks when a
// message was missed.
func (f *feed) pushIfNew(c Change) {
	f.mu.Lock()
	if f.seen[c.What] && f.last[c.What] == c.Version {
		f.mu.Unlock()
		return
	}
	f.queue(c)
	f.mu.Unlock()
	f.signal()
}

func (f *feed) queue(c Change) {
	if _, ok := f.pending[c.What]; !ok {
		f.order = append(f.order, c.What)
	}
	f.seq++
	if c.Urgent {
		f.urgentSeq[c.What] = f.seq
	}
	f.pending[c.What] = queued{c, f.seq}
	f.last[c.What] = c.Version
	f.seen[c.What] = true
}

func (f *feed) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// lastVersions copies the version last queued per What.
func (f *feed) lastVersions() map[string]uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]uint64, len(f.last))
	for w, v := range f.last {
		out[w] = v
	}
	return out
}

// peek returns the oldest pending change, urgent if any change it
// replaced since the last delivery was.
func (f *feed) peek() (queued, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.order) == 0 {
		return queued{}, false
	}
	q := f.pending[f.order[0]]
	q.c.Urgent = f.urgentSeq[q.c.What] > f.doneSeq[q.c.What]
	return q, true
}

// delivered records q as handed over and drops it from pending unless a
// newer change replaced it meanwhile.
func (f *feed) delivered(q queued) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := q.c.What
	f.doneSeq[w] = q.seq
	if f.pending[w].seq != q.seq {
		return
	}
	delete(f.pending, w)
	for i, x := range f.order {
		if x == w {
			f.order = append(f.order[:i], f.order[i+1:]...)
			break
		}
	}
}

// run hands pending changes to the reader until ctx ends, then closes out.
func (f *feed) run(ctx context.Context) {
	defer close(f.out)
	for {
		q, ok := f.peek()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-f.wake:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case f.out <- q.c:
			f.delivered(q)
		case <-f.wake:
			// Something newer may have replaced c: look again.
		}
	}
}
