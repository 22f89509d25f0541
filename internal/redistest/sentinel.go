package redistest

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// MasterName is the name the sentinels monitor.
const MasterName = "gtm-test"

// Sentinel is a monitored master with one replica and three sentinels
// (quorum 2). Failover is tuned fast: the master is down after 1 s without
// answering, and a failover gets 2 s before another is tried.
type Sentinel struct {
	MasterName string
	// Password is the data nodes' (requirepass), SentinelPassword the
	// sentinels' own; both empty from StartSentinel.
	Password, SentinelPassword string
	// Addrs are the sentinels' addresses, for a client's Addrs.
	Addrs     []string
	Nodes     []*Server // [0] starts as master, [1] as its replica
	Sentinels []*Server
}

// StartSentinel starts the whole setup and waits until every sentinel
// sees the master, the replica and the two other sentinels, so that a
// failover can happen from the first moment.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	return StartSentinelAuth(t, "", "")
}

// StartSentinelAuth is StartSentinel with passwords: the master and the
// replica require password (and the replica and the sentinels use it), and
// the sentinels require sentinelPassword. Empty means none.
func StartSentinelAuth(t testing.TB, password, sentinelPassword string) *Sentinel {
	t.Helper()
	var auth []string
	if password != "" {
		auth = []string{"--requirepass", password, "--masterauth", password}
	}
	master := Start(t, auth...)
	replica := Start(t, append(auth, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port))...)
	s := &Sentinel{MasterName: MasterName, Nodes: []*Server{master, replica}, Password: password, SentinelPassword: sentinelPassword}
	conf := fmt.Sprintf(`sentinel monitor %[1]s 127.0.0.1 %[2]d 2
sentinel down-after-milliseconds %[1]s 1000
sentinel failover-timeout %[1]s 2000
sentinel parallel-syncs %[1]s 1
`, MasterName, master.Port)
	if password != "" {
		conf += fmt.Sprintf("sentinel auth-pass %s %s\n", MasterName, password)
	}
	if sentinelPassword != "" {
		// Sentinels authenticate to each other with their own password.
		conf += fmt.Sprintf("requirepass %s\nsentinel sentinel-pass %s\n", sentinelPassword, sentinelPassword)
	}
	for range 3 {
		sn := startServer(t, nil, conf)
		s.Sentinels = append(s.Sentinels, sn)
		s.Addrs = append(s.Addrs, sn.Addr)
	}
	waitFor(t, 20*time.Second, "sentinels to see master, replica and each other", func(ctx context.Context) error {
		for _, sn := range s.Sentinels {
			c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr, Password: s.SentinelPassword, Protocol: 2, DisableIdentity: true})
			m, err := c.Master(ctx, MasterName).Result()
			_ = c.Close()
			if err != nil {
				return err
			}
			if m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" || m["flags"] != "master" {
				return fmt.Errorf("sentinel %s: slaves=%s others=%s flags=%s",
					sn.Addr, m["num-slaves"], m["num-other-sentinels"], m["flags"])
			}
		}
		inf, err := infoAuth(ctx, replica.Addr, password, "replication")
		if err != nil {
			return err
		}
		if !contains(inf, "master_link_status:up") {
			return fmt.Errorf("replica not in sync yet")
		}
		return nil
	})
	return s
}

// MasterAddr asks a live sentinel for the current master.
func (s *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	var lastErr error
	for _, sn := range s.Sentinels {
		if !sn.Running() {
			continue
		}
		c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr, Password: s.SentinelPassword, Protocol: 2, DisableIdentity: true})
		a, err := c.GetMasterAddrByName(ctx, s.MasterName).Result()
		_ = c.Close()
		if err == nil && len(a) == 2 {
			return a[0] + ":" + a[1], nil
		}
		lastErr = err
	}
	return "", fmt.Errorf("no sentinel knows the master: %v", lastErr)
}

// KillMaster kills the current master's process (SIGKILL) and returns its
// address; the sentinels then promote the replica.
func (s *Sentinel) KillMaster(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addr, err := s.MasterAddr(ctx)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	for _, n := range s.Nodes {
		if n.Addr == addr {
			n.Kill()
			return addr
		}
	}
	t.Fatalf("redistest: master %s is none of our servers", addr)
	return ""
}

// WaitFailover waits until the sentinels name a master other than old and
// it accepts writes.
func (s *Sentinel) WaitFailover(t testing.TB, old string, timeout time.Duration) string {
	t.Helper()
	var addr string
	waitFor(t, timeout, "failover away from "+old, func(ctx context.Context) error {
		a, err := s.MasterAddr(ctx)
		if err != nil {
			return err
		}
		if a == old {
			return fmt.Errorf("master is still %s", old)
		}
		inf, err := infoAuth(ctx, a, s.Password, "replication")
		if err != nil {
			return err
		}
		if !contains(inf, "role:master") {
			return fmt.Errorf("%s is not a master yet", a)
		}
		addr = a
		return nil
	})
	return addr
}

// Tilt describes sentinels in TILT mode (they stop acting for 30 s when
// their timer ran late, as on an overloaded machine): "" when none is.
// Tests add it to failover errors.
func (s *Sentinel) Tilt(ctx context.Context) string {
	var out string
	for _, sn := range s.Sentinels {
		if !sn.Running() {
			continue
		}
		inf, err := infoAuth(ctx, sn.Addr, s.SentinelPassword, "sentinel")
		if err == nil && contains(inf, "sentinel_tilt:1") {
			out += "; sentinel " + sn.Addr + " in TILT mode"
		}
	}
	return out
}
