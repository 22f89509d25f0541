package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// RedisLogger adapts a zerolog.Logger to go-redis's logging interface.
// go-redis keeps one process-wide logger (its own choice, not ours), so
// cmd/gtm installs this once at start:
//
//	redis.SetLogger(store.RedisLogger(log))
//
// go-redis logs reconnects and failovers; they are warnings, not errors,
// because the Store reports failed calls itself.
func RedisLogger(log zerolog.Logger) interface {
	Printf(ctx context.Context, format string, v ...any)
} {
	return &redisLogger{log: log.With().Str("component", "go-redis").Logger(), now: time.Now, last: map[string]logSeen{}}
}

// redisRepeat is how long a message of the same kind stays quiet after it
// was logged: while Redis is down go-redis reports every failed dial, a
// few a second.
const redisRepeat = 10 * time.Second

type logSeen struct {
	at         time.Time
	suppressed int
}

type redisLogger struct {
	log zerolog.Logger
	now func() time.Time

	mu   sync.Mutex
	last map[string]logSeen // by format: one kind of message
}

func (l *redisLogger) Printf(_ context.Context, format string, v ...any) {
	now := l.now()
	l.mu.Lock()
	seen, ok := l.last[format]
	if ok && now.Sub(seen.at) < redisRepeat {
		seen.suppressed++
		l.last[format] = seen
		l.mu.Unlock()
		return
	}
	l.last[format] = logSeen{at: now}
	l.mu.Unlock()
	e := l.log.Warn()
	if seen.suppressed > 0 {
		e = e.Int("repeats_suppressed", seen.suppressed)
	}
	e.Msg(strings.TrimSpace(fmt.Sprintf(format, v...)))
}
