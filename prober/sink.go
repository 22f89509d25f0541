package prober

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/gtm-project/gtm/store"
)

// Sink receives probe results in batches. store.Store satisfies it. A Sink
// must not keep rs after PutResults returns: the prober reuses the slice.
type Sink interface {
	PutResults(ctx context.Context, rs []store.ProbeResult) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, rs []store.ProbeResult) error

// PutResults calls f.
func (f SinkFunc) PutResults(ctx context.Context, rs []store.ProbeResult) error { return f(ctx, rs) }

// batcher collects results from the workers and writes them to the Sink
// from one goroutine, every FlushInterval or once BatchSize results wait.
// Workers only append under a mutex, so a slow or failing Sink never slows
// probing; what it costs is memory, bounded by compacting to the latest
// result per target.
type batcher struct {
	sink     Sink
	log      zerolog.Logger
	metrics  *metrics
	every    time.Duration
	size     int
	timeout  time.Duration
	errLog   rate.Sometimes
	kick     chan struct{}
	stopping chan struct{}
	stopOnce sync.Once

	mu      sync.Mutex
	pending []store.ProbeResult
	// compactAt is the length at which pending is compacted next; it grows
	// with the number of distinct targets so compaction stays amortised.
	compactAt int

	// Owned by the flushing goroutine.
	spare []store.ProbeResult
	carry map[string]store.ProbeResult // latest per key of failed flushes
}

func newBatcher(opts Options, log zerolog.Logger, m *metrics) *batcher {
	return &batcher{
		sink:    opts.Sink,
		log:     log,
		metrics: m,
		every:   opts.FlushInterval,
		size:    opts.BatchSize,
		timeout: opts.FlushTimeout,
		// One line per 10s is enough to tell an operator the store is
		// unreachable; the error counter says how often.
		errLog:    rate.Sometimes{First: 1, Interval: 10 * time.Second},
		kick:      make(chan struct{}, 1),
		stopping:  make(chan struct{}),
		compactAt: 16 * opts.BatchSize,
		carry:     map[string]store.ProbeResult{},
	}
}

// add queues r for the next flush. It never blocks on the Sink.
func (b *batcher) add(r store.ProbeResult) {
	b.mu.Lock()
	b.pending = append(b.pending, r)
	n := len(b.pending)
	if n >= b.compactAt {
		// The Sink is stuck: only the latest result per target matters to
		// the store, so keep those.
		b.pending = latestPerKey(b.pending)
		b.compactAt = max(b.compactAt, 2*len(b.pending))
	}
	b.mu.Unlock()
	if n >= b.size {
		b.kickNow()
	}
}

// kickNow asks for a flush without waiting for the next tick.
func (b *batcher) kickNow() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// run flushes until stop is called, then flushes once more with a fresh
// timeout so the last results are not lost on shutdown. Once ctx ends it
// only waits for stop: the workers may still be adding their last results.
func (b *batcher) run(ctx context.Context) {
	tick := time.NewTicker(b.every)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			b.flush(ctx)
		case <-b.kick:
			b.flush(ctx)
		case <-ctx.Done():
			<-b.stopping
			b.flush(context.WithoutCancel(ctx))
			return
		case <-b.stopping:
			b.flush(context.WithoutCancel(ctx))
			return
		}
	}
}

// stop asks run to make its last flush and return. Run calls it after the
// workers stopped, so that flush holds every result.
func (b *batcher) stop() { b.stopOnce.Do(func() { close(b.stopping) }) }

func (b *batcher) flush(ctx context.Context) {
	b.mu.Lock()
	batch := b.pending
	b.pending = b.spare[:0]
	b.mu.Unlock()

	if len(b.carry) > 0 {
		// Results that failed before go first; a newer result of the same
		// target replaces its carried one.
		for _, r := range batch {
			delete(b.carry, r.Key())
		}
		carried := make([]store.ProbeResult, 0, len(b.carry)+len(batch))
		for _, r := range b.carry {
			carried = append(carried, r)
		}
		batch = append(carried, batch...)
		clear(b.carry)
	}
	if len(batch) == 0 {
		b.spare = batch
		return
	}
	cctx, cancel := context.WithTimeout(ctx, b.timeout)
	err := b.sink.PutResults(cctx, batch)
	cancel()
	switch {
	case err == nil:
		b.metrics.flushed.Add(float64(len(batch)))
	case ctx.Err() != nil:
		// Shutting down cut the write short, not the sink: the final flush
		// sends what is carried.
		for _, r := range batch {
			b.carry[r.Key()] = r
		}
	default:
		b.metrics.sinkErrors.Inc()
		for _, r := range batch {
			b.carry[r.Key()] = r
		}
		b.errLog.Do(func() {
			b.log.Error().Err(err).Int("results", len(batch)).Int("kept", len(b.carry)).
				Msg("sink failed; keeping the latest result per target for the next flush")
		})
	}
	clear(batch) // drop string references held by the reused array
	b.spare = batch[:0]
}

// latestPerKey keeps, in order, only the last result of each key.
func latestPerKey(rs []store.ProbeResult) []store.ProbeResult {
	last := make(map[string]int, len(rs))
	for i, r := range rs {
		last[r.Key()] = i
	}
	out := rs[:0]
	for i, r := range rs {
		if last[r.Key()] == i {
			out = append(out, r)
		}
	}
	return out
}
