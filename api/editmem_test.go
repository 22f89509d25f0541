package api

import (
	"fmt"
	"io"
	"net/http"
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

// TestConcurrentBigEditsBounded: 8 concurrent dry runs of a ~1.2 MB zone
// (the report's 20 × 16 MB peaked at 3.35 GB) run at most
// max_concurrent_edits (2 here) at a time, so the heap peak stays near two
// edits' worth instead of eight.
func TestConcurrentBigEditsBounded(t *testing.T) {
	e := abuseServer(t, EditOptions{MaxConcurrent: 2, Timeout: time.Minute}, nil)
	e.base.Config.Limits.ZoneMaxRecords = 1 << 20
	var b strings.Builder
	b.WriteString(editZoneFile)
	for i := range 40000 {
		fmt.Fprintf(&b, "host-%d 300 IN A 192.0.2.%d\n", i, i%250+1)
	}
	body := b.String()
	c := clientFrom("127.0.0.1")
	c.Timeout = time.Minute
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	stop := make(chan struct{})
	peak := heapPeak(stop)
	const n = 8
	codes := make(chan int, n)
	start := time.Now()
	for range n {
		go func() {
			req, _ := http.NewRequest("PUT", e.url+"/api/v1/zones/example.com.?dry_run=1", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+editRW)
			resp, err := c.Do(req)
			if err != nil {
				codes <- -1
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	for range n {
		if code := <-codes; code != 200 {
			t.Errorf("dry run: %d", code)
		}
	}
	close(stop)
	p := peak()
	per := float64(p-before) / float64(len(body))
	t.Logf("%d concurrent %d-byte dry runs in %s: heap peak %d MB above %d MB, %.1f× one body", n, len(body), time.Since(start).Round(time.Millisecond), (p-before)>>20, before>>20, per)
	// Unbounded, eight edits at ~10× their body each would be ~80×.
	if per > 40 {
		t.Errorf("heap peak %.1f× one body with 2 edit slots", per)
	}
}

// TestEditWeight: a body takes one slot per 4 MiB begun, all of them when
// its length is unknown, never more than there are; DELETE one.
func TestEditWeight(t *testing.T) {
	h := &edits{nslots: 4}
	for _, tc := range []struct {
		method string
		length int64
		want   int64
	}{
		{"PUT", 100, 1}, {"PUT", slotBytes - 1, 1}, {"PUT", slotBytes, 2}, {"PUT", 3 * slotBytes, 4},
		{"PUT", maxEditBody, 4}, {"PUT", -1, 4}, {"DELETE", -1, 1}, {"POST", 0, 1},
	} {
		r := &http.Request{Method: tc.method, ContentLength: tc.length}
		if got := h.weight(r); got != tc.want {
			t.Errorf("%s of %d bytes: weight %d, want %d", tc.method, tc.length, got, tc.want)
		}
	}
}
