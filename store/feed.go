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
	pending map[string]Change
	order   []string // Whats pending, oldest first, so no kind starves
	last    map[string]uint64
	seen    map[string]bool
}

func newFeed() *feed {
	return &feed{
		// Unbuffered: the value is chosen when the reader takes it, so the
		// reader gets the newest pending change, not one queued earlier.
		out:     make(chan Change),
		wake:    make(chan struct{}, 1),
		pending: make(map[string]Change),
		last:    make(map[string]uint64),
		seen:    make(map[string]bool),
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
	f.pending[c.What] = c
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

// peek returns the oldest pending change.
func (f *feed) peek() (Change, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.order) == 0 {
		return Change{}, false
	}
	return f.pending[f.order[0]], true
}

// delivered drops c from pending unless a newer change replaced it while
// it was being handed over.
func (f *feed) delivered(c Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pending[c.What] != c {
		return
	}
	delete(f.pending, c.What)
	for i, w := range f.order {
		if w == c.What {
			f.order = append(f.order[:i], f.order[i+1:]...)
			break
		}
	}
}

// run hands pending changes to the reader until ctx ends, then closes out.
func (f *feed) run(ctx context.Context) {
	defer close(f.out)
	for {
		c, ok := f.peek()
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
		case f.out <- c:
			f.delivered(c)
		case <-f.wake:
			// Something newer may have replaced c: look again.
		}
	}
}
