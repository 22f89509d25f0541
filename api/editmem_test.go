package api

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// heapPeak samples the live heap every millisecond until stop and returns
// the peak, in bytes.
func heapPeak(stop <-chan struct{}) func() uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer close(done)
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return func() uint64 { <-done; return peak.Load() }
}

// TestBigEditMemory measures the heap one large zone edit (a dry run of a
// ~4 MB master file, 130,000 records) holds at its peak, against its
// body: garbage not yet collected included, so it depends on GC timing.
// About 10× here: the parsed records alone (miekg/dns RRs, their
// positions) are 5-6× a master file of short A records; the diff is
// skipped above 1 MiB (it doubled the peak). The bound is generous; the
// figure is logged for the record.
func TestBigEditMemory(t *testing.T) {
	e := abuseServer(t, EditOptions{}, nil)
	var b strings.Builder
	b.WriteString(editZoneFile)
	for i := range 130000 {
		fmt.Fprintf(&b, "host-%d 300 IN A 192.0.2.%d\n", i, i%250+1)
	}
	body := b.String()
	// The test server's zone cap is 1,000: lift it for this one.
	e.base.Config.Limits.ZoneMaxRecords = 1 << 20
	c := clientFrom("127.0.0.1")
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	stop := make(chan struct{})
	peak := heapPeak(stop)
	code, _, out := e.do(t, c, "PUT", "/api/v1/zones/example.com.?dry_run=1", "Bearer "+editRW, body)
	close(stop)
	p := peak()
	if code != 200 {
		t.Fatalf("%d %.300s", code, out)
	}
	grew := float64(p-before) / float64(len(body))
	t.Logf("%d-byte edit: heap peak %d MB above the %d MB before: %.1f× the body", len(body), (p-before)>>20, before>>20, grew)
	if grew > 16 {
		t.Errorf("one edit held %.1f× its body", grew)
	}
}

// TestDiffOmittedWhenTooLarge: past maxDiffText the diff says so instead
// of being computed; equal texts still give no diff.
func TestDiffOmittedWhenTooLarge(t *testing.T) {
	big := []byte(strings.Repeat("www 300 IN A 192.0.2.1\n", maxDiffText/20))
	changed := append([]byte("x 300 IN A 192.0.2.2\n"), big...)
	d := unifiedDiff("a", "b", big, changed)
	if !strings.Contains(d, "diff omitted: too large") || len(d) > 1000 {
		t.Errorf("diff of %d-byte texts: %.200q (%d bytes)", len(big), d, len(d))
	}
	if d := unifiedDiff("a", "b", big, big); d != "" {
		t.Errorf("equal texts: %.200q", d)
	}
}
