package store

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// RedisStats is what Redis says about its load, summed over the masters of
// a Cluster (the master alone otherwise).
type RedisStats struct {
	// OpsPerSec is INFO stats instantaneous_ops_per_sec: commands per
	// second over the server's last few seconds.
	OpsPerSec int64
	// TotalCommands is INFO stats total_commands_processed; the difference
	// of two readings over a known time is a steadier rate than OpsPerSec.
	TotalCommands int64
	// Nodes is how many servers were asked.
	Nodes int
}

// Stats reads INFO stats from the server(s) holding gtm's data.
func (r *Redis) Stats(ctx context.Context) (RedisStats, error) {
	ctx, cancel := r.call(ctx)
	defer cancel()
	var st RedisStats
	add := func(info string) error {
		m := parseInfo(info)
		ops, err1 := strconv.ParseInt(m["instantaneous_ops_per_sec"], 10, 64)
		tot, err2 := strconv.ParseInt(m["total_commands_processed"], 10, 64)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("INFO stats without ops counters")
		}
		st.OpsPerSec += ops
		st.TotalCommands += tot
		st.Nodes++
		return nil
	}
	var err error
	if c, ok := r.client.(*redis.ClusterClient); ok {
		var mu sync.Mutex // ForEachMaster calls in parallel
		err = c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			s, err := n.Info(ctx, "stats").Result()
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			return add(s)
		})
	} else {
		var s string
		if s, err = r.client.Info(ctx, "stats").Result(); err == nil {
			err = add(s)
		}
	}
	if err != nil {
		return RedisStats{}, fmt.Errorf("store: redis stats: %w", err)
	}
	return st, nil
}

// parseInfo reads the key:value lines of an INFO reply.
func parseInfo(s string) map[string]string {
	m := make(map[string]string)
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if ok && !strings.HasPrefix(k, "#") {
			m[k] = v
		}
	}
	return m
}
