package store

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// changeMessage is the payload published on <prefix>:changes after every
// write, e.g. {"what":"results","version":42}.
type changeMessage struct {
	What    string `json:"what"`
	Version uint64 `json:"version"`
	Urgent  bool   `json:"urgent,omitempty"`
}

var allWhats = []string{WhatResults, WhatDrains, WhatConfig}

// Subscribe implements Store with Redis pub/sub. Besides published
// messages it sends, for every What, the current version when the
// subscription is (re)established, and whenever a version counter read
// every SafetyInterval differs from the last one delivered (a message was
// lost). Before the first successful connection it sends nothing.
// Its goroutines end with ctx or Close.
func (r *Redis) Subscribe(ctx context.Context) <-chan Change {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(r.base, cancel)
	f := newFeed()
	go f.run(ctx)
	go func() {
		defer cancel()
		defer stop()
		r.listen(ctx, f)
	}()
	return f.out
}

// listen is the subscription loop: receive, and on every SafetyInterval
// ping the connection and compare versions.
func (r *Redis) listen(ctx context.Context, f *feed) {
	var (
		mu sync.Mutex
		ps *redis.PubSub
	)
	closePS := func() {
		mu.Lock()
		defer mu.Unlock()
		if ps != nil {
			_ = ps.Close()
			ps = nil
		}
	}
	// Closing the connection is what interrupts a blocked receive when
	// ctx ends.
	stop := context.AfterFunc(ctx, closePS)
	defer stop()
	defer closePS()

	safety := r.opts.SafetyInterval
	backoff := time.Duration(0)
	nextSafety := time.Now().Add(safety)
	lastHeard := time.Now()
	for ctx.Err() == nil {
		mu.Lock()
		if ps == nil {
			ps = r.client.Subscribe(ctx, r.keys.channel)
		}
		cur := ps
		mu.Unlock()

		msg, err := cur.ReceiveTimeout(ctx, max(time.Until(nextSafety), 10*time.Millisecond))
		if ctx.Err() != nil {
			return
		}
		switch {
		case err == nil:
			backoff = 0
			lastHeard = time.Now()
			r.handle(ctx, f, msg)
		case isTimeout(err):
			// Idle: fall through to the safety check.
		default:
			// The connection is down; go-redis reconnects and resubscribes
			// on the next receive. Wait a little so an outage does not spin.
			backoff = min(max(2*backoff, 50*time.Millisecond), time.Second)
			r.log.Debug().Err(err).Dur("retry_in", backoff).Msg("change feed receive failed")
			if !sleepCtx(ctx, backoff) {
				return
			}
		}
		if time.Now().Before(nextSafety) {
			continue
		}
		nextSafety = time.Now().Add(safety)
		if time.Since(lastHeard) > 2*safety+r.opts.ReadTimeout {
			// Not even a PONG for two rounds: a half-open connection that
			// no read error will reveal. Start over; the new subscription
			// re-emits every version.
			r.log.Warn().Dur("silent", time.Since(lastHeard)).Msg("change feed silent, resubscribing")
			closePS()
			lastHeard = time.Now()
			continue
		}
		_ = cur.Ping(ctx) // the PONG proves the connection alive
		r.emitVersions(ctx, f, false)
	}
}

// handle turns one pub/sub message into Changes.
func (r *Redis) handle(ctx context.Context, f *feed, msg any) {
	switch m := msg.(type) {
	case *redis.Subscription:
		if m.Kind == "subscribe" {
			// (Re)connected: messages may have been missed, so tell the
			// reader to re-read everything.
			r.log.Debug().Str("channel", m.Channel).Msg("change feed subscribed")
			r.emitVersions(ctx, f, true)
		}
	case *redis.Message:
		var c changeMessage
		if err := json.Unmarshal([]byte(m.Payload), &c); err != nil || c.What == "" {
			r.garbage.badMessage(m.Payload)
			return
		}
		f.push(Change(c))
	}
}

// emitVersions reads every version counter and queues a Change for each
// that differs from the last delivered one, or for all of them when force.
func (r *Redis) emitVersions(ctx context.Context, f *feed, force bool) {
	vs, err := r.versions(ctx)
	if err != nil {
		r.log.Debug().Err(err).Msg("change feed: reading versions failed")
		if force {
			// Still tell the reader to re-read; it will see the error itself.
			last := f.lastVersions()
			for _, w := range allWhats {
				f.push(Change{What: w, Version: last[w]})
			}
		}
		return
	}
	for _, w := range allWhats {
		c := Change{What: w, Version: vs[w]}
		if force {
			f.push(c)
		} else {
			f.pushIfNew(c)
		}
	}
}

// versions reads the three version counters in one pipeline.
func (r *Redis) versions(ctx context.Context) (map[string]uint64, error) {
	ctx, cancel := r.call(ctx)
	defer cancel()
	p := r.client.Pipeline()
	cmds := make(map[string]*redis.StringCmd, len(allWhats))
	for _, w := range allWhats {
		cmds[w] = p.Get(ctx, r.keys.versionKey(w))
	}
	if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make(map[string]uint64, len(cmds))
	for w, c := range cmds {
		v, err := c.Uint64()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		out[w] = v
	}
	return out, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// sleepCtx waits d or until ctx ends; it reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
