package api

import (
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// burstLog logs an event that may come in floods at most once per every:
// the first of a burst at once, the rest counted into the next line.
type burstLog struct {
	log   zerolog.Logger
	every time.Duration

	mu     sync.Mutex
	last   time.Time
	missed int
}

func newBurstLog(log zerolog.Logger, every time.Duration) *burstLog {
	return &burstLog{log: log, every: every}
}

// note logs msg (with fields from add) unless a line went out less than
// every ago, in which case it is only counted.
func (b *burstLog) note(add func(*zerolog.Event) *zerolog.Event, msg string) {
	b.mu.Lock()
	now := time.Now()
	if now.Sub(b.last) < b.every {
		b.missed++
		b.mu.Unlock()
		return
	}
	missed := b.missed
	b.last, b.missed = now, 0
	b.mu.Unlock()
	add(b.log.Warn()).Int("not_logged_since_last", missed).Msg(msg)
}
