package store

import (
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// TestMain silences go-redis's process-wide logger: tests kill servers on
// purpose, and its reconnect messages would bury real failures.
func TestMain(m *testing.M) {
	redis.SetLogger(RedisLogger(zerolog.Nop()))
	os.Exit(m.Run())
}
