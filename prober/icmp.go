package prober

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"

	probing "github.com/prometheus-community/pro-bing"
	"github.com/rs/zerolog"
	"golang.org/x/net/icmp"

	"github.com/gtm-project/gtm/store"
)

// ICMP modes of prober.icmp.
const (
	ICMPAuto         = "auto"
	ICMPPrivileged   = "privileged"
	ICMPUnprivileged = "unprivileged"
)

// ErrICMPUnavailable is wrapped by every error saying this process cannot
// open the ICMP socket its mode needs.
var ErrICMPUnavailable = errors.New("icmp unavailable")

// pingGroupRangePath holds the groups allowed unprivileged ping sockets
// (IPv6 ping sockets obey the same ipv4 sysctl).
const pingGroupRangePath = "/proc/sys/net/ipv4/ping_group_range"

// icmpEnv chooses between raw ICMP sockets (privileged: root or
// CAP_NET_RAW) and Linux ping sockets (unprivileged: a UDP-like socket the
// kernel allows to the groups in net.ipv4.ping_group_range).
type icmpEnv struct {
	mu   sync.Mutex
	mode string
	// chosen caches, per family (0 IPv4, 1 IPv6), what auto found to work:
	// 0 not yet known, 1 privileged, 2 unprivileged. Failures are not
	// cached, so fixing the sysctl or capability heals without a restart.
	chosen [2]int
}

func newICMPEnv(mode string) (*icmpEnv, error) {
	e := &icmpEnv{}
	if err := checkICMPMode(mode); err != nil {
		return nil, err
	}
	e.setMode(mode)
	return e, nil
}

func checkICMPMode(mode string) error {
	switch mode {
	case "", ICMPAuto, ICMPPrivileged, ICMPUnprivileged:
		return nil
	}
	return fmt.Errorf("prober.icmp: unknown mode %q: want auto, privileged or unprivileged", mode)
}

// setMode switches mode; an unknown one keeps the current mode, as the
// config was validated before.
func (e *icmpEnv) setMode(mode string) {
	if mode == "" {
		mode = ICMPAuto
	}
	if checkICMPMode(mode) != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if mode != e.mode {
		e.mode = mode
		e.chosen = [2]int{}
	}
}

// privileged says whether to use raw sockets for the family, or why
// neither kind of ICMP socket can be had.
func (e *icmpEnv) privileged(v6 bool) (bool, error) {
	fam := 0
	if v6 {
		fam = 1
	}
	e.mu.Lock()
	mode, chosen := e.mode, e.chosen[fam]
	e.mu.Unlock()
	switch mode {
	case ICMPPrivileged:
		return true, nil
	case ICMPUnprivileged:
		return false, nil
	}
	if chosen != 0 {
		return chosen == 1, nil
	}
	priv, err := detectICMP(v6)
	if err != nil {
		return false, err
	}
	e.mu.Lock()
	if e.mode == mode {
		e.chosen[fam] = 2
		if priv {
			e.chosen[fam] = 1
		}
	}
	e.mu.Unlock()
	return priv, nil
}

// detectICMP tries a raw socket, then a ping socket, as prober.icmp: auto
// does.
func detectICMP(v6 bool) (privileged bool, err error) {
	errRaw := tryICMPSocket(v6, true)
	if errRaw == nil {
		return true, nil
	}
	errPing := tryICMPSocket(v6, false)
	if errPing == nil {
		return false, nil
	}
	return false, fmt.Errorf("%w: neither kind of ICMP socket works: %w; %w",
		ErrICMPUnavailable, explainICMPError(true, errRaw), explainICMPError(false, errPing))
}

// tryICMPSocket opens and closes the socket a mode needs.
func tryICMPSocket(v6, privileged bool) error {
	network, addr := "udp4", "0.0.0.0"
	switch {
	case v6 && privileged:
		network, addr = "ip6:ipv6-icmp", "::"
	case v6:
		network, addr = "udp6", "::"
	case privileged:
		network = "ip4:icmp"
	}
	c, err := icmp.ListenPacket(network, addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// explainICMPError says which capability or sysctl a failed socket needs.
func explainICMPError(privileged bool, err error) error {
	if privileged {
		return fmt.Errorf("privileged (raw socket) ICMP needs root or CAP_NET_RAW: %w", err)
	}
	rng := "unreadable"
	if b, rerr := os.ReadFile(pingGroupRangePath); rerr == nil {
		rng = strings.Join(strings.Fields(string(b)), " ")
	}
	return fmt.Errorf("unprivileged (ping socket) ICMP needs this process's group (gid %d) within sysctl net.ipv4.ping_group_range (now %q): %w",
		os.Getegid(), rng, err)
}

// probeICMP sends one echo request and waits for its reply until the
// probe's timeout.
func (p *Prober) probeICMP(ctx context.Context, t *target) outcome {
	v6 := t.ip.Is6()
	priv, err := p.icmp.privileged(v6)
	if err != nil {
		return outcome{class: store.ErrOther, err: err}
	}
	pg := probing.New(t.ip.String())
	pg.SetPrivileged(priv)
	if v6 {
		pg.SetNetwork("ip6")
	} else {
		pg.SetNetwork("ip4")
	}
	pg.Count = 1
	pg.Timeout = t.timeout
	pg.RecordTTLs = false
	pg.SetLogger(pingLogger{p.log})
	runErr := pg.RunWithContext(ctx)
	st := pg.Statistics()
	if st.PacketsRecv > 0 {
		return outcome{ok: true, rtt: st.MinRtt}
	}
	if runErr != nil {
		if errors.Is(runErr, syscall.EPERM) || errors.Is(runErr, syscall.EACCES) {
			// A forced mode this process may not use: say what it needs.
			return outcome{class: store.ErrOther, err: fmt.Errorf("%w: %w", ErrICMPUnavailable, explainICMPError(priv, runErr))}
		}
		return outcome{err: runErr}
	}
	return outcome{class: store.ErrTimeout, err: fmt.Errorf("no echo reply within %s", t.timeout)}
}

// pingLogger routes pro-bing's log lines to zerolog; pro-bing's "Fatalf"
// is not fatal (it logs a bad packet and goes on), hence a warning.
type pingLogger struct{ log zerolog.Logger }

func (l pingLogger) Fatalf(format string, v ...any) { l.log.Warn().Msgf("pro-bing: "+format, v...) }
func (l pingLogger) Errorf(format string, v ...any) { l.log.Warn().Msgf("pro-bing: "+format, v...) }
func (l pingLogger) Warnf(format string, v ...any)  { l.log.Warn().Msgf("pro-bing: "+format, v...) }
func (l pingLogger) Infof(format string, v ...any)  { l.log.Debug().Msgf("pro-bing: "+format, v...) }
func (l pingLogger) Debugf(format string, v ...any) { l.log.Debug().Msgf("pro-bing: "+format, v...) }
