package prober

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gtm-project/gtm/store"
)

func testBatcher(t *testing.T, sink Sink, batchSize int) *batcher {
	t.Helper()
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	return newBatcher(Options{Sink: sink, FlushInterval: time.Hour, BatchSize: batchSize, FlushTimeout: time.Second},
		zerolog.New(zerolog.NewTestWriter(t)), m)
}

func res(endpoint string, n int) store.ProbeResult {
	return store.ProbeResult{Service: "s", Endpoint: endpoint, RTT: time.Duration(n)}
}

func TestBatcherCarriesLatestPerTargetAfterFailure(t *testing.T) {
	sink := &flakySink{}
	b := testBatcher(t, sink, 100)
	sink.failing.Store(true)
	b.add(res("a", 1))
	b.add(res("b", 1))
	b.add(res("a", 2))
	b.flush(context.Background())
	if sink.failed.Load() != 1 {
		t.Fatalf("sink called %d times, want 1", sink.failed.Load())
	}
	b.add(res("a", 3)) // newer than the carried a
	b.add(res("c", 1))
	sink.failing.Store(false)
	b.flush(context.Background())

	got := map[string]time.Duration{}
	for _, r := range sink.results("") {
		if _, dup := got[r.Endpoint]; dup {
			t.Errorf("%s sent twice", r.Endpoint)
		}
		got[r.Endpoint] = r.RTT
	}
	want := map[string]time.Duration{"a": 3, "b": 1, "c": 1}
	if len(got) != len(want) {
		t.Fatalf("sink got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got result %d, want %d", k, got[k], v)
		}
	}
	b.flush(context.Background())
	if n := len(sink.results("")); n != 3 {
		t.Errorf("an empty flush after success resent: %d results", n)
	}
}

func TestBatcherBoundedWhileSinkStuck(t *testing.T) {
	b := testBatcher(t, SinkFunc(func(context.Context, []store.ProbeResult) error { return errors.New("down") }), 10)
	// 100 targets, 50 rounds, nothing flushed: memory holds about one
	// result per target, not 5,000.
	for round := range 50 {
		for i := range 100 {
			b.add(res(strconv.Itoa(i), round))
		}
	}
	b.mu.Lock()
	n := len(b.pending)
	b.mu.Unlock()
	if n > 2*160 {
		t.Errorf("%d results pending for 100 targets", n)
	}
	b.flush(context.Background())
	if len(b.carry) != 100 {
		t.Errorf("carried %d results, want the latest of each of 100 targets", len(b.carry))
	}
	for k, r := range b.carry {
		if r.RTT != 49 {
			t.Errorf("%s carried round %d, want the latest, 49", k, r.RTT)
		}
	}
}

func TestBatcherFlushesEarlyWhenFull(t *testing.T) {
	sink := &recordSink{}
	b := testBatcher(t, sink, 5)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.run(ctx) }()
	for i := range 5 {
		b.add(res(strconv.Itoa(i), 0))
	}
	// FlushInterval is an hour: only reaching BatchSize can flush now.
	sink.waitFor(t, "", 5*time.Second, "a full batch", func(rs []store.ProbeResult) bool { return len(rs) == 5 })
	b.add(res("last", 0))
	cancel()
	b.stop()
	<-done
	if rs := sink.results(""); len(rs) != 6 {
		t.Errorf("stop flushed %d results in all, want 6", len(rs))
	}
}

// A store.Store is a Sink.
var _ Sink = store.Store(nil)
