package redistest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func client(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true,
		MaxRetries: -1, DialTimeout: 300 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestStartRestartKill(t *testing.T) {
	s := Start(t)
	if s.Port == 6379 || s.Addr == "127.0.0.1:6379" {
		t.Fatalf("harness picked the machine's Redis port: %s", s.Addr)
	}
	ctx := context.Background()
	c := client(t, s.Addr)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	pid := s.PID()
	s.Restart()
	if s.PID() == pid || !s.Running() {
		t.Fatalf("restart kept pid %d or is not running", pid)
	}
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("after restart GET k = %v, want redis.Nil (server must come back empty)", err)
	}
	s.Kill()
	if s.Running() {
		t.Fatal("still running after Kill")
	}
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered after Kill")
	}
}

func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("failover takes seconds")
	}
	s := StartSentinel(t)
	ctx := context.Background()
	old, err := s.MasterAddr(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if old != s.Nodes[0].Addr {
		t.Fatalf("master %s, want %s", old, s.Nodes[0].Addr)
	}
	killed := s.KillMaster(t)
	if killed != old {
		t.Fatalf("killed %s, want %s", killed, old)
	}
	if got := s.WaitFailover(t, old, 20*time.Second); got != s.Nodes[1].Addr {
		t.Fatalf("new master %s, want the replica %s", got, s.Nodes[1].Addr)
	}
}

func TestCluster(t *testing.T) {
	c := StartCluster(t)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { _ = cc.Close() })
	ctx := context.Background()
	// Keys in different slots must land on different masters and still work.
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		if err := cc.Set(ctx, k, k, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	var masters atomic.Int32 // ForEachMaster calls in parallel
	err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		masters.Add(1)
		return n.Ping(ctx).Err()
	})
	if err != nil || masters.Load() != 3 {
		t.Fatalf("masters = %d (%v), want 3", masters.Load(), err)
	}
}
