package dnsserver

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gtm-project/gtm/routing"
	"github.com/miekg/dns"
)

// TestConcurrentSwap: many clients over UDP (two SO_REUSEPORT sockets) and
// TCP while the Holder swaps between two snapshots. Every answer must come
// whole from one snapshot or the other; run with -race this also checks
// that the answer path shares nothing writable between queries.
func TestConcurrentSwap(t *testing.T) {
	t.Parallel()
	ts := startServer(t, options{cfg: Config{Workers: 2}})

	// Snapshot B: another static address, and us-east down so the service
	// answers eu-west.
	setB := loadSet(t, configYAML, map[string]string{
		"example.com.zone": strings.Replace(exampleCom, "192.0.2.25", "192.0.2.26", 1),
		"example.net.zone": exampleNet,
		"example.zone":     exampleTLD,
	})
	snapA := ts.holder.Snapshot()
	snapB := routing.Build(setB, routing.Inputs{Health: down{"use1": true, "use2": true, "use6": true}, Version: 2})
	valid := map[string]map[string]bool{
		"mail.example.com.": {"192.0.2.25": true, "192.0.2.26": true},
		"api.example.com.":  {"198.51.100.10": true, "198.51.100.11": true, "203.0.113.10": true},
	}
	names := []string{"mail.example.com.", "api.example.com.", "MAIL.example.COM."}

	var clients sync.WaitGroup
	var stop atomic.Bool
	var swaps atomic.Int64
	swapped := make(chan struct{})
	go func() {
		defer close(swapped)
		for i := 0; !stop.Load(); i++ {
			if i%2 == 0 {
				ts.holder.Store(snapB)
			} else {
				ts.holder.Store(snapA)
			}
			swaps.Add(1)
			time.Sleep(50 * time.Microsecond) // let queries land between swaps
		}
	}()

	// Servers may close a TCP connection after some queries (miekg/dns's
	// did after 128); stay below so no client has to redial.
	const perClient = 120
	errs := make(chan error, 16)
	for c := range 12 {
		proto := protos[c%2]
		clients.Add(1)
		go func() {
			defer clients.Done()
			cl := &dns.Client{Net: proto, Timeout: 5 * time.Second}
			conn, err := cl.Dial(ts.addr)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
			for i := range perClient {
				name := names[(c+i)%len(names)]
				q := query(name, dns.TypeA)
				q.Id = uint16(c<<10 | i)
				if i%3 == 0 {
					q.SetEdns0(1232, true)
				}
				if err := conn.WriteMsg(q); err != nil {
					errs <- err
					return
				}
				r, err := conn.ReadMsg()
				if err != nil {
					errs <- fmt.Errorf("%s client %d query %d: %w", proto, c, i, err)
					return
				}
				if r.Id != q.Id || r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) != 1 {
					errs <- fmt.Errorf("%s: bad response to %s:\n%v", proto, name, r)
					return
				}
				a, ok := r.Answer[0].(*dns.A)
				if !ok || !valid[strings.ToLower(name)][a.A.String()] {
					errs <- fmt.Errorf("%s: answer %v to %s is from neither snapshot", proto, r.Answer[0], name)
					return
				}
			}
		}()
	}
	clients.Wait()
	stop.Store(true)
	<-swapped
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if swaps.Load() < 10 {
		t.Errorf("only %d swaps happened during the queries", swaps.Load())
	}
	if n := counterValue(t, ts.reg, "gtm_dns_queries_total", map[string]string{"rcode": "NOERROR"}); n != 12*perClient {
		t.Errorf("counted %v NOERROR queries, want %d", n, 12*perClient)
	}
}
