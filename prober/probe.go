package prober

import (
	"context"
	"fmt"
	"time"

	"github.com/gtm-project/gtm/store"
)

// outcome is what a probe function measured. The caller adds who, what
// and when to make a store.ProbeResult.
type outcome struct {
	ok      bool
	rtt     time.Duration // zero: the caller uses the probe's wall time
	connect time.Duration
	ttfb    time.Duration
	class   store.ErrClass // zero on failure: the caller classifies err
	err     error
}

// probeFunc measures t once. ctx carries the probe's timeout.
type probeFunc func(ctx context.Context, t *target) outcome

// probeTable maps a check kind to its probe function, as
// blackbox_exporter's prober table does.
func (p *Prober) probeTable() map[string]probeFunc {
	return map[string]probeFunc{
		"icmp":  p.probeICMP,
		"tcp":   p.probeTCP,
		"http":  p.probeHTTP,
		"https": p.probeHTTP,
	}
}

// probeAndRecord probes t once and queues the result. A result made while
// the prober shuts down measures our own cancellation, not the target, and
// is dropped.
func (p *Prober) probeAndRecord(ctx context.Context, t *target) {
	r, ok := p.probeOnce(ctx, t)
	if !ok || t.removed.Load() {
		return
	}
	p.batch.add(r)
	if r.Changed {
		// A verdict that alters answers goes out now, not at the next tick.
		p.batch.kickNow()
	}
}

// probeOnce probes t under its timeout and returns the result with its
// verdict. ok is false when ctx ended during the probe.
func (p *Prober) probeOnce(ctx context.Context, t *target) (store.ProbeResult, bool) {
	fn := p.probes[t.kind]
	start := p.now()
	var o outcome
	if fn == nil {
		o = outcome{class: store.ErrOther, err: fmt.Errorf("no probe for kind %q", t.kind)}
	} else {
		pctx, cancel := context.WithTimeout(ctx, t.timeout)
		o = fn(pctx, t)
		if !o.ok && o.class == store.ErrNone {
			o.class = classify(pctx, o.err)
		}
		cancel()
	}
	if ctx.Err() != nil {
		return store.ProbeResult{}, false
	}
	elapsed := p.now().Sub(start)
	if o.rtt == 0 {
		o.rtt = elapsed
	}
	nd := p.node.Load()
	r := store.ProbeResult{
		Service:  t.service,
		Endpoint: t.endpoint,
		Target:   t.addr,
		Kind:     t.kind,
		Source:   nd.region,
		Prober:   nd.id,
		OK:       o.ok,
		RTT:      o.rtt,
		Connect:  o.connect,
		TTFB:     o.ttfb,
		At:       start,
		Interval: t.interval,
	}
	if !o.ok {
		r.Class = o.class
		if o.err != nil {
			r.Err = o.err.Error()
		}
	}
	r.Verdict, r.Changed = verdict(t.tracker, o.ok)

	if tm := t.metrics.Load(); tm != nil {
		tm.duration.Observe(elapsed.Seconds())
		if o.ok {
			tm.success.Set(1)
			tm.ok.Inc()
		} else {
			tm.success.Set(0)
			tm.fail.Inc()
		}
	}
	if e := p.log.Debug(); e.Enabled() {
		e.Str("service", r.Service).Str("endpoint", r.Endpoint).Str("target", r.Target).
			Str("kind", r.Kind).Bool("ok", r.OK).Dur("rtt", r.RTT).Str("class", string(r.Class)).
			Str("err", r.Err).Str("verdict", r.Verdict).Msg("probe")
	}
	return r, true
}
