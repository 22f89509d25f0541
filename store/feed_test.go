package store

import (
	"context"
	"testing"
	"time"
)

func TestFeedCoalescesPerWhat(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFeed()
	go f.run(ctx)
	// Nobody reads while 1000 changes of two kinds arrive: the writer must
	// never block, and the reader then gets the newest of each kind.
	done := make(chan struct{})
	go func() {
		for v := uint64(1); v <= 1000; v++ {
			f.push(Change{What: WhatResults, Version: v})
			if v%10 == 0 {
				f.push(Change{What: WhatConfig, Version: v / 10})
			}
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("push blocked without a reader")
	}
	got := map[string]uint64{}
	for len(got) < 2 || got[WhatResults] != 1000 || got[WhatConfig] != 100 {
		select {
		case c := <-f.out:
			if c.Version < got[c.What] {
				t.Fatalf("%s went back from %d to %d", c.What, got[c.What], c.Version)
			}
			got[c.What] = c.Version
		case <-time.After(2 * time.Second):
			t.Fatalf("latest changes not delivered: %v", got)
		}
	}
	select {
	case c := <-f.out:
		t.Fatalf("extra change %+v after the latest", c)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestFeedCoalescingKeepsUrgent(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFeed()
	// Nobody reads yet: an urgent change followed by a plain one must come
	// out as one change, the newest version, still urgent.
	f.push(Change{What: WhatResults, Version: 1, Urgent: true})
	f.push(Change{What: WhatResults, Version: 2})
	go f.run(ctx)
	select {
	case c := <-f.out:
		if c != (Change{What: WhatResults, Version: 2, Urgent: true}) {
			t.Fatalf("got %+v, want version 2, urgent", c)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("nothing delivered")
	}
	// Once delivered, the next plain change is plain again.
	f.push(Change{What: WhatResults, Version: 3})
	select {
	case c := <-f.out:
		if c.Urgent || c.Version != 3 {
			t.Fatalf("got %+v, want version 3, not urgent", c)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("nothing delivered")
	}
}

func TestFeedPushIfNew(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFeed()
	go f.run(ctx)
	f.pushIfNew(Change{What: WhatDrains, Version: 3})
	if c := <-f.out; c.Version != 3 {
		t.Fatalf("got %+v", c)
	}
	f.pushIfNew(Change{What: WhatDrains, Version: 3}) // already delivered: silent
	f.pushIfNew(Change{What: WhatDrains, Version: 0}) // a regression is news
	if c := <-f.out; c.Version != 0 {
		t.Fatalf("got %+v, want the regression to version 0", c)
	}
}

func TestFeedClosesWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := newFeed()
	go f.run(ctx)
	f.push(Change{What: WhatResults, Version: 1})
	cancel()
	deadline := time.After(2 * time.Second)
	for {
		select {
		case _, ok := <-f.out:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("feed not closed after ctx ended")
		}
	}
}
