package store

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// While Redis is down go-redis reports every failed dial; one line per
// kind of message every redisRepeat is enough, and the next line says how
// many were left out.
func TestRedisLoggerQuietsRepeats(t *testing.T) {
	var buf bytes.Buffer
	l := RedisLogger(zerolog.New(&buf)).(*redisLogger)
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	ctx := context.Background()
	for i := range 50 {
		l.Printf(ctx, "failed to dial after %d attempts: %s", 2, "i/o timeout")
		if i == 10 {
			l.Printf(ctx, "sentinel: new master=%q addr=%q", "m", "127.0.0.1:1")
		}
		now = now.Add(100 * time.Millisecond) // 5 s in all
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "failed to dial") || !strings.Contains(lines[1], "new master") {
		t.Fatalf("want one dial line and one sentinel line, got:\n%s", buf.String())
	}
	now = now.Add(redisRepeat)
	l.Printf(ctx, "failed to dial after %d attempts: %s", 2, "i/o timeout")
	lines = strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[2], `"repeats_suppressed":49`) {
		t.Fatalf("after %s: want the dial line again with 49 suppressed, got:\n%s", redisRepeat, buf.String())
	}
}
