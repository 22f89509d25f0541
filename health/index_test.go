package health

import (
	"fmt"
	"testing"
	"time"

	"github.com/gtm-project/gtm/store"
)

// TestEndpointLookupSmallAndLarge: endpoints are found the same way in a
// service small enough to be scanned and in one large enough for a map
// (more than smallService endpoints): results reach them, Endpoint and
// Usable report them, a duplicate name is the first definition, an
// unknown one is Unknown and usable.
func TestEndpointLookupSmallAndLarge(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, n := range []int{2, smallService + 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			svc := checked("api.")
			for i := range n {
				svc.Endpoints = append(svc.Endpoints, ep(fmt.Sprintf("e%d", i), "eu", "a"))
			}
			// A duplicate of the last endpoint, in another region: ignored.
			svc.Endpoints = append(svc.Endpoints, ep(fmt.Sprintf("e%d", n-1), "us", "a"))
			last := fmt.Sprintf("e%d", n-1)
			var rs []store.ProbeResult
			rs = append(rs, votes("api.", last, now, Down, Down)...)
			rs = append(rs, votes("api.", "e0", now, Up, Up)...)
			st := Evaluate(Input{Config: config(svc), Results: rs, Now: now})
			if e := st.Endpoint("api.", last); e.State != Down || e.Region != "eu" {
				t.Errorf("%s: %v in %s, want down in eu (the first definition)", last, e.State, e.Region)
			}
			if st.Usable("api.", last) {
				t.Errorf("%s usable while down", last)
			}
			if e := st.Endpoint("api.", "e0"); e.State != Up || !st.Usable("api.", "e0") {
				t.Errorf("e0: %v, want up and usable", e.State)
			}
			if e := st.Endpoint("api.", "nope"); e.State != Unknown || !st.Usable("api.", "nope") || st.isConfigured("api.", "nope") {
				t.Errorf("unknown endpoint: %v, configured %v", e.State, st.isConfigured("api.", "nope"))
			}
			if !st.isConfigured("api.", last) || st.isConfigured("other.", "e0") {
				t.Error("isConfigured wrong")
			}
			ss, _ := st.Service("api.")
			if len(ss.Endpoints) != n {
				t.Errorf("%d endpoints laid out, want %d (the duplicate dropped)", len(ss.Endpoints), n)
			}
			if got := testing.AllocsPerRun(100, func() { st.Usable("api.", last) }); got != 0 {
				t.Errorf("Usable allocates %v times", got)
			}
		})
	}
}
