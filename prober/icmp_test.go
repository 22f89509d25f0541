package prober

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
)

const icmpSkipHint = "neither raw ICMP (needs root or CAP_NET_RAW) nor ping sockets (needs the group in sysctl net.ipv4.ping_group_range) work here"

func icmpConfig(mode string) *zones.Config {
	cfg := testConfig(service("svc.example.", zones.Check{Type: "icmp", Timeout: zones.Duration(time.Second)}, "127.0.0.1"))
	cfg.Prober.ICMP = mode
	return cfg
}

func pingOnce(t *testing.T, mode string) store.ProbeResult {
	t.Helper()
	p, _, _ := newTestProber(t, icmpConfig(mode), Options{})
	r, ok := p.probeOnce(t.Context(), p.targets["svc.example./ep0"])
	if !ok {
		t.Fatal("probe cancelled")
	}
	return r
}

func TestICMPAuto(t *testing.T) {
	if _, err := detectICMP(false); err != nil {
		if !strings.Contains(err.Error(), "net.ipv4.ping_group_range") || !strings.Contains(err.Error(), "CAP_NET_RAW") {
			t.Errorf("detection error does not name the sysctl and capability: %v", err)
		}
		t.Skipf("%s: %v", icmpSkipHint, err)
	}
	r := pingOnce(t, ICMPAuto)
	if !r.OK || r.RTT <= 0 || r.Kind != "icmp" || r.Target != "127.0.0.1" {
		t.Fatalf("ping 127.0.0.1: %+v", r)
	}
}

func TestICMPModes(t *testing.T) {
	for _, tc := range []struct {
		mode       string
		privileged bool
		hint       string
	}{
		{ICMPPrivileged, true, "CAP_NET_RAW"},
		{ICMPUnprivileged, false, "net.ipv4.ping_group_range"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			sockErr := tryICMPSocket(false, tc.privileged)
			r := pingOnce(t, tc.mode)
			if sockErr == nil {
				if !r.OK || r.RTT <= 0 {
					t.Fatalf("%s ping of 127.0.0.1 failed although the socket opens: %+v", tc.mode, r)
				}
				return
			}
			// This process may not use the mode: the result must say why.
			if r.OK || r.Class != store.ErrOther || !strings.Contains(r.Err, tc.hint) {
				t.Fatalf("%s without the right (%v): result %+v, want an error naming %s", tc.mode, sockErr, r, tc.hint)
			}
			t.Logf("mode unusable here, as reported: %s", r.Err)
		})
	}
}

func TestICMPUnavailableError(t *testing.T) {
	err := explainICMPError(false, errors.New("permission denied"))
	if !strings.Contains(err.Error(), "sysctl net.ipv4.ping_group_range") {
		t.Errorf("unprivileged error does not name the sysctl: %v", err)
	}
	err = explainICMPError(true, errors.New("operation not permitted"))
	if !strings.Contains(err.Error(), "CAP_NET_RAW") {
		t.Errorf("privileged error does not name the capability: %v", err)
	}
}

func TestICMPModeFromConfig(t *testing.T) {
	cfg := icmpConfig("sometimes")
	if _, err := New(cfg, Options{Sink: &recordSink{}}); err == nil || !strings.Contains(err.Error(), "prober.icmp") {
		t.Fatalf("unknown mode: err %v, want one naming prober.icmp", err)
	}
}
