package redistest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// info runs INFO <section> (or CLUSTER INFO for section "cluster") on
// addr over a one-shot connection.
func info(ctx context.Context, addr, section string) (string, error) {
	return infoAuth(ctx, addr, "", section)
}

// infoAuth is info with a password.
func infoAuth(ctx context.Context, addr, password, section string) (string, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, Password: password, Protocol: 2, DisableIdentity: true,
		MaxRetries: -1, DialTimeout: 500 * time.Millisecond, ReadTimeout: time.Second})
	defer c.Close()
	if section == "cluster" {
		return c.ClusterInfo(ctx).Result()
	}
	return c.Info(ctx, section).Result()
}

// waitFor polls check until it returns nil or the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, what string, check func(context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := check(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: waited %v for %s: %v", timeout, what, err)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, bounded by the deadline
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
