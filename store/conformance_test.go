package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// backend opens Stores for the conformance suite.
type backend struct {
	// open returns two Stores over one fresh, isolated state: two client
	// instances for Redis (as two nodes would have), the same Memory
	// twice.
	open func(t *testing.T) (a, b Store)
	// advance moves the Store's clock past a TTL: the fake clock for
	// Memory; nothing for Redis, whose expiry runs on the server's real
	// clock (the suite then polls).
	advance func(d time.Duration)
}

// suiteMinTTL is the MinResultTTL every suite Store gets: short enough for
// the expiry test to wait for in real time.
const suiteMinTTL = 300 * time.Millisecond

// fakeClock is a settable clock for Memory.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, %s: %v", timeout, what, err)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, bounded by the deadline
	}
}

// waitChange reads ch until a Change of what with at least version min
// arrives.
func waitChange(t *testing.T, ch <-chan Change, what string, min uint64, timeout time.Duration) Change {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case c, ok := <-ch:
			if !ok {
				t.Fatalf("feed closed while waiting for %s >= %d", what, min)
			}
			if (what == anyWhat || c.What == what) && c.Version >= min {
				return c
			}
		case <-timer.C:
			t.Fatalf("no %s change with version >= %d within %v", what, min, timeout)
		}
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func result(service, endpoint, prober string, ok bool, rtt time.Duration) ProbeResult {
	return ProbeResult{
		Service: service, Endpoint: endpoint, Target: "203.0.113.10:443", Kind: "https",
		Source: "eu-west", Prober: prober, OK: ok, RTT: rtt, Connect: rtt / 3, TTFB: rtt / 2,
		Class: ErrNone, At: time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC),
		Interval: 10 * time.Second, Verdict: "up",
	}
}

func sameResults(t *testing.T, got, want []ProbeResult) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d results, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.At.Equal(w.At) {
			t.Errorf("result %d At = %v, want %v", i, g.At, w.At)
		}
		g.At, w.At = time.Time{}, time.Time{}
		if g != w {
			t.Errorf("result %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

// runConformance is the contract every Store meets.
func runConformance(t *testing.T, b backend) {
	t.Run("ResultsLatestPerProber", func(t *testing.T) {
		a, o := b.open(t)
		ctx := ctxT(t)
		if rs, err := a.Results(ctx); err != nil || len(rs) != 0 {
			t.Fatalf("empty store: Results = %v, %v", rs, err)
		}
		r1 := result("api.example.com.", "gw-eu-1", "p-eu", true, 10*time.Millisecond)
		r2 := result("api.example.com.", "gw-eu-1", "p-us", false, 0)
		r2.Class, r2.Err, r2.Verdict, r2.Source = ErrTimeout, "i/o timeout", "down", "us-east"
		r3 := result("api.example.com.", "gw-us-1", "p-eu", true, 80*time.Millisecond)
		if err := a.PutResults(ctx, []ProbeResult{r1, r2, r3}); err != nil {
			t.Fatal(err)
		}
		// A newer result of the same (service, endpoint, prober) replaces
		// the old one, whoever writes it.
		r1b := r1
		r1b.RTT, r1b.At = 12*time.Millisecond, r1.At.Add(time.Second)
		if err := o.PutResults(ctx, []ProbeResult{r1b}); err != nil {
			t.Fatal(err)
		}
		got, err := a.Results(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sameResults(t, got, []ProbeResult{r1b, r2, r3})
		if err := a.PutResults(ctx, nil); err != nil {
			t.Fatalf("empty PutResults: %v", err)
		}
	})

	t.Run("ResultsExpire", func(t *testing.T) {
		a, o := b.open(t)
		ctx := ctxT(t)
		short := result("api.example.com.", "gw-eu-1", "p-eu", true, time.Millisecond)
		short.Interval = 10 * time.Millisecond // TTL = suiteMinTTL
		long := result("api.example.com.", "gw-us-1", "p-eu", true, time.Millisecond)
		long.Interval = time.Minute // TTL = 3 min
		other := result("api.example.com.", "gw-us-1", "p-dead", true, time.Millisecond)
		other.Interval = 10 * time.Millisecond
		if err := a.PutResults(ctx, []ProbeResult{short, long, other}); err != nil {
			t.Fatal(err)
		}
		if rs, err := o.Results(ctx); err != nil || len(rs) != 3 {
			t.Fatalf("before expiry: %d results, %v; want 3", len(rs), err)
		}
		b.advance(suiteMinTTL + time.Millisecond)
		eventually(t, 3*time.Second, "short-lived results expire", func() error {
			rs, err := o.Results(ctx)
			if err != nil {
				return err
			}
			if len(rs) != 1 || rs[0].Endpoint != "gw-us-1" || rs[0].Prober != "p-eu" {
				return fmt.Errorf("results %+v, want only gw-us-1 by p-eu", rs)
			}
			return nil
		})
	})

	t.Run("Drains", func(t *testing.T) {
		a, o := b.open(t)
		ctx := ctxT(t)
		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		d1 := Drain{Kind: DrainEndpoint, Name: "gw-eu-1", By: "alice", Reason: "maintenance", At: at}
		d2 := Drain{Kind: DrainRegion, Name: "us-east", At: at}
		d3 := Drain{Kind: DrainZone, Name: "eu-west/1", At: at}
		for _, d := range []Drain{d2, d1, d3} {
			if err := a.SetDrain(ctx, d, true); err != nil {
				t.Fatal(err)
			}
		}
		// Setting again updates in place.
		d1.Reason = "still maintenance"
		if err := o.SetDrain(ctx, d1, true); err != nil {
			t.Fatal(err)
		}
		got, err := o.Drains(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []Drain{d1, d2, d3} // sorted by kind, then name
		if len(got) != 3 {
			t.Fatalf("drains %+v, want %+v", got, want)
		}
		for i := range want {
			if !got[i].At.Equal(want[i].At) {
				t.Errorf("drain %d At %v", i, got[i].At)
			}
			got[i].At = want[i].At
			if got[i] != want[i] {
				t.Errorf("drain %d = %+v, want %+v", i, got[i], want[i])
			}
		}
		if err := a.SetDrain(ctx, Drain{Kind: DrainRegion, Name: "us-east"}, false); err != nil {
			t.Fatal(err)
		}
		if err := a.SetDrain(ctx, Drain{Kind: DrainRegion, Name: "nowhere"}, false); err != nil {
			t.Fatalf("removing an absent drain: %v", err)
		}
		got, err = o.Drains(ctx)
		if err != nil || len(got) != 2 || got[0].Name != "gw-eu-1" || got[1].Name != "eu-west/1" {
			t.Fatalf("after removal: %+v, %v", got, err)
		}
	})

	t.Run("DocsVersionsAndConflicts", func(t *testing.T) {
		a, o := b.open(t)
		ctx := ctxT(t)
		v0, err := a.ConfigVersion(ctx)
		if err != nil || v0 != 0 {
			t.Fatalf("fresh ConfigVersion = %d, %v", v0, err)
		}
		if _, err := a.Doc(ctx, KindZone, "example.com."); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing doc: %v, want ErrNotFound", err)
		}
		if _, err := a.PutDoc(ctx, KindZone, "example.com.", []byte("x"), DocMeta{}, 3); !errors.Is(err, ErrConflict) {
			t.Fatalf("conditional create of a missing doc: %v, want ErrConflict", err)
		}
		d1, err := a.PutDoc(ctx, KindZone, "example.com.", []byte("$ORIGIN example.com.\n"), DocMeta{By: "alice", Comment: "first"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if d1.Version != 1 || d1.ConfigVersion != 1 || d1.By != "alice" || d1.Comment != "first" || d1.At.IsZero() {
			t.Fatalf("first write: %+v", d1)
		}
		d2, err := o.PutDoc(ctx, KindZone, "example.com.", []byte("v2"), DocMeta{By: "bob"}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if d2.Version != 2 || d2.ConfigVersion != 2 {
			t.Fatalf("second write: %+v", d2)
		}
		// A writer that read version 1 loses.
		_, err = a.PutDoc(ctx, KindZone, "example.com.", []byte("stale"), DocMeta{}, 1)
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("stale write: %v, want ErrConflict", err)
		}
		if v, _ := a.ConfigVersion(ctx); v != 2 {
			t.Fatalf("a refused write moved ConfigVersion to %d", v)
		}
		got, err := a.Doc(ctx, KindZone, "example.com.")
		if err != nil || string(got.Body) != "v2" || got.Version != 2 || got.By != "bob" {
			t.Fatalf("Doc = %+v, %v", got, err)
		}
		// Other kinds and names are separate documents with their own versions.
		s1, err := a.PutDoc(ctx, KindService, "api.example.com.", []byte("svc"), DocMeta{}, 0)
		if err != nil || s1.Version != 1 || s1.ConfigVersion != 3 {
			t.Fatalf("service: %+v, %v", s1, err)
		}
		if _, err := a.PutDoc(ctx, KindZone, "a.example.", []byte("a"), DocMeta{}, 0); err != nil {
			t.Fatal(err)
		}
		zs, err := o.Docs(ctx, KindZone)
		if err != nil || len(zs) != 2 || zs[0].Name != "a.example." || zs[1].Name != "example.com." || string(zs[1].Body) != "v2" {
			t.Fatalf("Docs(zone) = %+v, %v", zs, err)
		}
		if none, err := o.Docs(ctx, "nothing"); err != nil || len(none) != 0 {
			t.Fatalf("Docs(unknown kind) = %+v, %v", none, err)
		}
		if v, _ := o.ConfigVersion(ctx); v != 4 {
			t.Fatalf("ConfigVersion = %d, want 4", v)
		}
		if _, err := a.PutDoc(ctx, "Bad Kind", "x", nil, DocMeta{}, 0); err == nil {
			t.Fatal("a kind with spaces was accepted")
		}
	})

	t.Run("DocHistoryAndDelete", func(t *testing.T) {
		a, o := b.open(t)
		ctx := ctxT(t)
		const writes = HistoryDepth + 5
		for i := 1; i <= writes; i++ {
			if _, err := a.PutDoc(ctx, KindZone, "z.", []byte(fmt.Sprint(i)), DocMeta{Comment: fmt.Sprint("edit ", i)}, uint64(i-1)); err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
		}
		h, err := o.History(ctx, KindZone, "z.", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != HistoryDepth || h[0].Version != writes || string(h[0].Body) != fmt.Sprint(writes) ||
			h[HistoryDepth-1].Version != writes-HistoryDepth+1 {
			t.Fatalf("history: %d entries, newest v%d, oldest v%d", len(h), h[0].Version, h[len(h)-1].Version)
		}
		if h[1].Comment != fmt.Sprint("edit ", writes-1) {
			t.Fatalf("history[1] comment %q", h[1].Comment)
		}
		h3, err := o.History(ctx, KindZone, "z.", 3)
		if err != nil || len(h3) != 3 || h3[2].Version != writes-2 {
			t.Fatalf("History(limit 3) = %d entries, %v", len(h3), err)
		}
		if _, err := o.History(ctx, KindZone, "never.", 0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("history of a missing doc: %v", err)
		}

		if err := o.DeleteDoc(ctx, KindZone, "z.", DocMeta{By: "carol"}, 1); !errors.Is(err, ErrConflict) {
			t.Fatalf("stale delete: %v, want ErrConflict", err)
		}
		cvBefore, _ := a.ConfigVersion(ctx)
		if err := o.DeleteDoc(ctx, KindZone, "z.", DocMeta{By: "carol"}, writes); err != nil {
			t.Fatal(err)
		}
		if cv, _ := a.ConfigVersion(ctx); cv != cvBefore+1 {
			t.Fatalf("delete moved ConfigVersion %d -> %d", cvBefore, cv)
		}
		if _, err := a.Doc(ctx, KindZone, "z."); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted doc: %v, want ErrNotFound", err)
		}
		if ds, _ := a.Docs(ctx, KindZone); len(ds) != 0 {
			t.Fatalf("deleted doc listed: %+v", ds)
		}
		if err := a.DeleteDoc(ctx, KindZone, "z.", DocMeta{}, 0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second delete: %v, want ErrNotFound", err)
		}
		if err := a.DeleteDoc(ctx, KindZone, "never.", DocMeta{}, 0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("delete of a missing doc: %v, want ErrNotFound", err)
		}
		h, _ = a.History(ctx, KindZone, "z.", 1)
		if len(h) != 1 || !h[0].Deleted || h[0].Version != writes+1 || h[0].By != "carol" {
			t.Fatalf("tombstone: %+v", h)
		}
		// Re-creating continues the versions, so old readers cannot be
		// confused by a version they saw before the delete.
		d, err := a.PutDoc(ctx, KindZone, "z.", []byte("again"), DocMeta{}, writes+1)
		if err != nil || d.Version != writes+2 || d.Deleted {
			t.Fatalf("re-create: %+v, %v", d, err)
		}
	})

	t.Run("RestoreDocs", func(t *testing.T) {
		a, _ := b.open(t)
		ctx := ctxT(t)
		for _, w := range []struct{ kind, name, body string }{
			{KindZone, "example.com.", "v1"}, {KindZone, "example.com.", "v2"},
			{KindService, "api.example.com.", "s1"}, {KindZone, "gone.example.", "g"},
		} {
			if _, err := a.PutDoc(ctx, w.kind, w.name, []byte(w.body), DocMeta{By: "alice"}, 0); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.DeleteDoc(ctx, KindZone, "gone.example.", DocMeta{}, 0); err != nil {
			t.Fatal(err)
		}
		held := docsOf(t, a)
		tomb, _ := a.History(ctx, KindZone, "gone.example.", 1)
		held = append(held, tomb...)
		seen, _ := a.ConfigVersion(ctx) // 5

		// An emptied store where someone already wrote an older version of
		// one document and a new one.
		e, e2 := b.open(t)
		if _, err := e.PutDoc(ctx, KindZone, "example.com.", []byte("written to the empty store"), DocMeta{}, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := e.PutDoc(ctx, KindZone, "new.example.", []byte("n"), DocMeta{}, 0); err != nil {
			t.Fatal(err)
		}
		if err := e.RestoreDocs(ctx, held); err != nil {
			t.Fatal(err)
		}
		cv, err := e2.ConfigVersion(ctx)
		if err != nil || cv <= seen {
			t.Fatalf("ConfigVersion after restore %d (%v), want > %d", cv, err, seen)
		}
		z, err := e2.Doc(ctx, KindZone, "example.com.")
		if err != nil || string(z.Body) != "v2" || z.Version != 2 || z.By != "alice" {
			t.Fatalf("restored zone: %+v, %v", z, err)
		}
		if n, err := e2.Doc(ctx, KindZone, "new.example."); err != nil || string(n.Body) != "n" {
			t.Fatalf("a doc the restore did not hold was lost: %+v, %v", n, err)
		}
		if _, err := e2.Doc(ctx, KindZone, "gone.example."); !errors.Is(err, ErrNotFound) {
			t.Fatalf("restored tombstone: %v, want ErrNotFound", err)
		}
		s, err := e2.Doc(ctx, KindService, "api.example.com.")
		if err != nil || string(s.Body) != "s1" {
			t.Fatalf("restored service: %+v, %v", s, err)
		}
		// Writes continue from the restored versions.
		if _, err := e2.PutDoc(ctx, KindZone, "example.com.", []byte("v3"), DocMeta{}, 2); err != nil {
			t.Fatalf("write after restore: %v", err)
		}
		// A second restore of the same (now older) documents changes nothing.
		before, _ := e2.ConfigVersion(ctx)
		if err := e2.RestoreDocs(ctx, held); err != nil {
			t.Fatal(err)
		}
		after, _ := e2.ConfigVersion(ctx)
		z, _ = e2.Doc(ctx, KindZone, "example.com.")
		if after != before || string(z.Body) != "v3" {
			t.Fatalf("idle restore: version %d -> %d, body %q", before, after, z.Body)
		}
	})

	t.Run("CookieSecretsSharedAndRotated", func(t *testing.T) {
		a, o := b.open(t)
		ctx := ctxT(t)
		const rotate = 300 * time.Millisecond
		cur, prev, err := a.CookieSecrets(ctx, time.Hour)
		if err != nil || len(cur) != CookieSecretLen || prev != nil {
			t.Fatalf("first call: %x, %x, %v; want a new secret and no previous one", cur, prev, err)
		}
		// Every node gets the same secret, concurrently too.
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, p, err := o.CookieSecrets(ctx, time.Hour)
				if err != nil || !slices.Equal(c, cur) || p != nil {
					errs <- fmt.Errorf("other node: %x, %x, %v; want %x", c, p, err, cur)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		// Older than rotate: one caller rotates, every caller sees the new
		// pair, the old secret as the previous one.
		b.advance(rotate + time.Millisecond)
		var rotated []byte
		eventually(t, 3*time.Second, "the secret rotates", func() error {
			c, p, err := o.CookieSecrets(ctx, rotate)
			if err != nil {
				return err
			}
			if slices.Equal(c, cur) {
				return errors.New("not rotated yet")
			}
			if !slices.Equal(p, cur) || len(c) != CookieSecretLen {
				return fmt.Errorf("rotated to %x with previous %x, want previous %x", c, p, cur)
			}
			rotated = c
			return nil
		})
		c, p, err := a.CookieSecrets(ctx, time.Hour)
		if err != nil || !slices.Equal(c, rotated) || !slices.Equal(p, cur) {
			t.Errorf("after rotation, the other node: %x, %x, %v; want %x, %x", c, p, err, rotated, cur)
		}
	})

	t.Run("SubscribeSeesOtherClient", func(t *testing.T) {
		a, o := b.open(t)
		ctx := ctxT(t)
		subCtx, cancel := context.WithCancel(ctx)
		ch := a.Subscribe(subCtx)
		// First: one Change per What with the current versions.
		seen := map[string]bool{}
		for len(seen) < 3 {
			seen[waitChange(t, ch, anyWhat, 0, 5*time.Second).What] = true
		}
		if err := o.PutResults(ctx, []ProbeResult{result("s.", "e", "p", true, time.Millisecond)}); err != nil {
			t.Fatal(err)
		}
		waitChange(t, ch, WhatResults, 1, time.Second)
		if err := o.SetDrain(ctx, Drain{Kind: DrainRegion, Name: "eu-west"}, true); err != nil {
			t.Fatal(err)
		}
		waitChange(t, ch, WhatDrains, 1, time.Second)
		d, err := o.PutDoc(ctx, KindZone, "example.com.", []byte("z"), DocMeta{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if c := waitChange(t, ch, WhatConfig, 1, time.Second); c.Version != d.ConfigVersion {
			t.Fatalf("config change version %d, want %d", c.Version, d.ConfigVersion)
		}
		cancel()
		eventually(t, 3*time.Second, "feed closes when ctx ends", func() error {
			if _, ok := <-ch; ok {
				return errors.New("still open")
			}
			return nil
		})
	})

	t.Run("SubscribeUrgentVerdictChange", func(t *testing.T) {
		a, o := b.open(t)
		ctx := ctxT(t)
		ch := a.Subscribe(ctx)
		waitChange(t, ch, WhatResults, 0, 5*time.Second)
		plain := result("s.", "e", "p", true, time.Millisecond)
		if err := o.PutResults(ctx, []ProbeResult{plain}); err != nil {
			t.Fatal(err)
		}
		if c := waitChange(t, ch, WhatResults, 1, time.Second); c.Urgent {
			t.Fatalf("a write without a verdict change came as urgent: %+v", c)
		}
		changed := result("s.", "e2", "p", false, time.Millisecond)
		changed.Verdict, changed.Changed = "down", true
		if err := o.PutResults(ctx, []ProbeResult{plain, changed}); err != nil {
			t.Fatal(err)
		}
		if c := waitChange(t, ch, WhatResults, 2, time.Second); !c.Urgent {
			t.Fatalf("a write holding a verdict change came as %+v, want urgent", c)
		}
		rs, err := a.Results(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Endpoint == "e2" && !r.Changed {
				t.Errorf("stored result lost Changed: %+v", r)
			}
		}
	})

	t.Run("SubscribeSlowReaderGetsLatest", func(t *testing.T) {
		a, o := b.open(t)
		ctx := ctxT(t)
		ch := a.Subscribe(ctx)
		waitChange(t, ch, WhatConfig, 0, 5*time.Second)
		var last Doc
		for i := range 20 {
			d, err := o.PutDoc(ctx, KindZone, "z.", []byte(fmt.Sprint(i)), DocMeta{}, 0)
			if err != nil {
				t.Fatal(err)
			}
			last = d
		}
		// Not reading meanwhile must not lose the newest version.
		waitChange(t, ch, WhatConfig, last.ConfigVersion, 2*time.Second)
	})
}

// anyWhat makes waitChange accept every What.
const anyWhat = "*"

func docsOf(t *testing.T, s Store) []Doc {
	t.Helper()
	var out []Doc
	for _, k := range []string{KindZone, KindService} {
		ds, err := s.Docs(ctxT(t), k)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ds...)
	}
	return slices.Clip(out)
}
