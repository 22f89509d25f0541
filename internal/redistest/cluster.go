package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Cluster is three Redis masters (no replicas) sharing the 16384 slots.
type Cluster struct {
	// Addrs are the nodes' addresses, for a client's Addrs.
	Addrs []string
	Nodes []*Server
}

// StartCluster starts three cluster-enabled servers, joins them with
// redis-cli --cluster create and waits until every node reports
// cluster_state:ok.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	cli := binary(t, "redis-cli")
	c := &Cluster{}
	for range 3 {
		// cluster-port names the bus port explicitly (default port+10000,
		// which may be taken or beyond 65535).
		n := Start(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000", "--cluster-port", strconv.Itoa(freePort(t)))
		c.Nodes = append(c.Nodes, n)
		c.Addrs = append(c.Addrs, n.Addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	waitFor(t, 20*time.Second, "cluster_state:ok on every node", func(ctx context.Context) error {
		for _, n := range c.Nodes {
			inf, err := info(ctx, n.Addr, "cluster")
			if err != nil {
				return err
			}
			if !contains(inf, "cluster_state:ok") || !contains(inf, "cluster_known_nodes:3") {
				return fmt.Errorf("%s: not ready", n.Addr)
			}
		}
		return nil
	})
	return c
}
