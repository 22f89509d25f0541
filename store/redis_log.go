package store

import (
	"context"
	"fmt"
	"strings"

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
	return redisLogger{log: log.With().Str("component", "go-redis").Logger()}
}

type redisLogger struct{ log zerolog.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Warn().Msg(strings.TrimSpace(fmt.Sprintf(format, v...)))
}
