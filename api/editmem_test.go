package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gtm-project/gtm/zones"
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

// TestBigEditMemory measures the heap one large zone edit (a ~4 MB
// master file, 130,000 records, its serial raised) holds at its peak,
// against its body, for a dry run and for a real PUT (the store's copy
// of the document included), collecting garbage eagerly (GOGC=10) so
// that what is measured is what the edit holds, not the collector's
// slack. Issue 11 asks for at most 4×. The zone is checked record by record as it is parsed
// (zones.CheckOverlay), never held parsed (that alone was 5-6× a master
// file of short A records, and the whole edit about 10×); the serial is
// raised in the body's own buffer; the diff is skipped above 1 MiB. What
// is left is the body and, as the GC paces itself on the live heap, about
// as much garbage again as body and heap before.
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
	// What the edit holds, not how much garbage the collector lets pile
	// up before it runs (GOGC=100 lets the heap double, and when it runs
	// depends on the load of the machine): collect eagerly meanwhile.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	for _, path := range []string{"/api/v1/zones/example.com.?dry_run=1", "/api/v1/zones/example.com."} {
		runtime.GC()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		metrics.Read(s)
		before := s[0].Value.Uint64()
		stop := make(chan struct{})
		peak := heapPeak(stop)
		code, _, out := e.do(t, c, "PUT", path, "Bearer "+editRW, body)
		close(stop)
		p := peak()
		if code != 200 || !strings.Contains(strings.ReplaceAll(out, " ", ""), `"serial_written":5,`) {
			t.Fatalf("PUT %s: %d %.300s", path, code, out)
		}
		grew := float64(p-before) / float64(len(body))
		t.Logf("PUT %s of %d bytes: heap peak %d MB above the %d MB before: %.1f× the body", path, len(body), (p-before)>>20, before>>20, grew)
		// A write also leaves the document in the store (the memory
		// store keeps its own copy): counted here too, and still within 4×.
		const limit = 4.0
		if grew > limit {
			t.Errorf("PUT %s held %.1f× its body (at most %g×)", path, grew, limit)
		}
	}
	// The PUT was written, its serial raised.
	docs, err := e.st.Docs(context.Background(), "zone")
	if err != nil || len(docs) != 1 || len(docs[0].Body) != len(body)+9 || strings.Contains(string(docs[0].Body[:200]), "( 5 ") {
		t.Fatalf("stored: %v %d docs", err, len(docs))
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

// noEditor is an Editor with no configuration: raiseSerial's limits are
// the defaults.
type noEditor struct{}

func (noEditor) Effective() *zones.Set { return nil }
func (noEditor) Validate(context.Context, zones.Edit) (*zones.Set, error) {
	return nil, errors.New("not used")
}

// TestRaiseSerialInPlace: a serial raised in a body with room to spare is
// rewritten in the body's own array, to the text a copy would hold; undo
// gives back the text sent, byte for byte (what a retried write starts
// from). Without room for a longer serial, or not in place, the text
// sent is left alone.
func TestRaiseSerialInPlace(t *testing.T) {
	h := &edits{ed: noEditor{}, opt: EditOptions{Now: func() time.Time { return editDay }}}
	current := []byte("@ IN SOA ns1 h ( 5 1 2 3 4 )\n@ NS ns1\n")
	for _, sent := range []string{"5", "00000000005", "4"} {
		text := "$TTL 300\n@ IN SOA ns1 h ( " + sent + " 1 2 3 4 ) ; serial\n@ NS ns1\nwww A 192.0.2.1\n"
		want := strings.Replace(text, "( "+sent+" ", "( 2025061500 ", 1)
		for _, room := range []int{0, 512} {
			for _, inPlace := range []bool{false, true} {
				buf := make([]byte, len(text), len(text)+room)
				copy(buf, text)
				out, serial, was, undo := h.raiseSerial("example.com.", buf, current, inPlace)
				if string(out) != want || serial != 2025061500 || was == 0 {
					t.Fatalf("sent %s, room %d, in place %v: %q %d %d", sent, room, inPlace, out, serial, was)
				}
				shared := &out[0] == &buf[0]
				if fits := room > 0 || len(sent) >= 10; shared != (inPlace && fits) || (undo != nil) != shared {
					t.Errorf("sent %s, room %d, in place %v: shared %v, undo %v", sent, room, inPlace, shared, undo != nil)
				}
				if undo != nil {
					undo()
				}
				if string(buf) != text {
					t.Errorf("sent %s, room %d, in place %v: the text sent became %q", sent, room, inPlace, buf)
				}
			}
		}
	}
}
