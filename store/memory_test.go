package store

import (
	"context"
	"testing"
	"time"
)

func TestMemoryConformance(t *testing.T) {
	clock := newFakeClock()
	runConformance(t, backend{
		open: func(t *testing.T) (Store, Store) {
			m := NewMemory(clock.Now, WithMinResultTTL(suiteMinTTL))
			t.Cleanup(func() { _ = m.Close() })
			return m, m
		},
		advance: clock.Advance,
	})
}

func TestMemoryDefaultTTL(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)
	ctx := context.Background()
	r := result("s.", "e", "p", true, time.Millisecond)
	r.Interval = time.Second // 3 s < the 15 s floor
	if err := m.PutResults(ctx, []ProbeResult{r}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(DefaultMinResultTTL - time.Millisecond)
	if rs, _ := m.Results(ctx); len(rs) != 1 {
		t.Fatalf("result gone before %v", DefaultMinResultTTL)
	}
	clock.Advance(time.Millisecond)
	if rs, _ := m.Results(ctx); len(rs) != 0 {
		t.Fatalf("result still there after %v", DefaultMinResultTTL)
	}
}

func TestMemoryCanceledContext(t *testing.T) {
	m := NewMemory(nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.PutResults(ctx, []ProbeResult{{}}); err == nil {
		t.Error("PutResults ignored a canceled ctx")
	}
	if _, err := m.Results(ctx); err == nil {
		t.Error("Results ignored a canceled ctx")
	}
}

func TestMemoryStoredDocsAreCopies(t *testing.T) {
	m := NewMemory(nil)
	ctx := context.Background()
	body := []byte("original")
	d, err := m.PutDoc(ctx, KindZone, "z.", body, DocMeta{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	body[0], d.Body[0] = 'X', 'Y'
	got, _ := m.Doc(ctx, KindZone, "z.")
	if string(got.Body) != "original" {
		t.Fatalf("stored body changed through a caller's slice: %q", got.Body)
	}
}
