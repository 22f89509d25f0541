package routing

import (
	"strings"
	"sync"
	"testing"

	"github.com/gtm-project/gtm/zones"
	"github.com/miekg/dns"
)

// TestBuildLeavesSharedRecordsAlone: a new snapshot is built from the same
// zone records the current one answers with (every health change rebuilds),
// so Build must not write to them. Run with -race: answering (packing) an
// RRset with mixed TTLs while the next snapshot is built used to race on
// the TTL that Build evened out in place.
func TestBuildLeavesSharedRecordsAlone(t *testing.T) {
	z, errs := zones.ParseZone("example.org.", "example.org.zone", strings.NewReader(
		"$TTL 300\n@ SOA ns1 h 1 2 3 4 60\n@ NS ns1\nns1 A 192.0.2.53\nmix 60 A 192.0.2.1\nmix 120 A 192.0.2.2\n"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	cfg, err := zones.ParseConfig("gtm.yaml", []byte("zones: [{origin: example.org., file: x}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := zones.NewSet(cfg, []*zones.Zone{z})
	if err != nil {
		t.Fatal(err)
	}
	first := Build(set, Inputs{Version: 1})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 512)
		for {
			select {
			case <-stop:
				return
			default:
			}
			r := lookup(first, "mix.example.org.", dns.TypeA, 0)
			m := new(dns.Msg)
			m.SetQuestion("mix.example.org.", dns.TypeA)
			m.Answer = r.Answer
			if _, err := m.PackBuffer(buf); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := 0; i < 50; i++ {
		Build(set, Inputs{Version: uint64(i + 2)})
	}
	close(stop)
	wg.Wait()
	r := lookup(first, "mix.example.org.", dns.TypeA, 0)
	for _, rr := range r.Answer {
		if rr.Header().Ttl != 60 {
			t.Errorf("RRset TTL %d, want the lowest (60)", rr.Header().Ttl)
		}
	}
	for _, rr := range z.Records {
		if rr.Header().Name == "mix.example.org." && rr.(*dns.A).A.String() == "192.0.2.2" && rr.Header().Ttl != 120 {
			t.Errorf("Build changed the zone's own record: TTL %d", rr.Header().Ttl)
		}
	}
}
