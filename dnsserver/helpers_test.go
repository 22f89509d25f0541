package dnsserver

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gtm-project/gtm/routing"
	"github.com/gtm-project/gtm/zones"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
)

// down is the Health fake: the endpoints named in it are unusable.
type down map[string]bool

func (d down) Usable(_, endpoint string) bool { return !d[endpoint] }

// loadSet writes the config and zone files to a temporary directory and
// loads them the way `gtm serve` does.
func loadSet(t testing.TB, config string, zoneFiles map[string]string) *zones.Set {
	t.Helper()
	dir := t.TempDir()
	for name, text := range zoneFiles {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "gtm.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := zones.Load(path)
	if err != nil {
		t.Fatalf("loading the fixture: %v", err)
	}
	return set
}

// fixtureSet is the shared fixture of fixture_test.go.
func fixtureSet(t testing.TB) *zones.Set {
	return loadSet(t, configYAML, map[string]string{
		"example.com.zone": exampleCom,
		"example.net.zone": exampleNet,
		"example.zone":     exampleTLD,
	})
}

// testServer is a running Server on 127.0.0.1 and what it answers from.
type testServer struct {
	srv    *Server
	holder *routing.Holder
	set    *zones.Set
	reg    *prometheus.Registry
	addr   string
}

// options adjust a test server.
type options struct {
	cfg    Config         // Listen is filled in
	health routing.Health // nil: every endpoint usable
	// inputs adds a location database, latency map and rules; its Health
	// and Version are set from the fields above.
	inputs routing.Inputs
	// wrap, when set, wraps the TCP listener (to inject accept errors).
	wrap func(net.Listener) net.Listener
	// log, when set, receives the server's JSON log.
	log io.Writer
}

// startServer runs a Server on 127.0.0.1:0 answering from the fixture
// until the test ends.
func startServer(t testing.TB, o options) *testServer {
	t.Helper()
	set := fixtureSet(t)
	h := &routing.Holder{}
	in := o.inputs
	in.Health, in.Version = o.health, 1
	h.Store(routing.Build(set, in))
	reg := prometheus.NewRegistry()
	cfg := o.cfg
	cfg.Listen = []string{"127.0.0.1:0"}
	if cfg.NodeID == "" {
		cfg.NodeID = "test-node-1"
	}
	log := zerolog.Nop()
	if o.log != nil {
		log = zerolog.New(o.log)
	}
	srv := New(cfg, h, log, reg)
	srv.wrapListener = o.wrap

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if n := counterValue(t, reg, "gtm_dns_panics_total", nil); n != 0 {
			t.Errorf("the handler panicked %v times", n)
		}
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		done <- nil // for the cleanup, which waits on done
		t.Fatalf("Run ended before ready: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("server not ready after 5s")
	}
	addrs := srv.Addrs()
	if len(addrs) != 1 || addrs[0].Port() == 0 {
		t.Fatalf("Addrs() = %v, want one bound address", addrs)
	}
	return &testServer{srv: srv, holder: h, set: set, reg: reg, addr: addrs[0].String()}
}

// protos are the transports a rule is checked over.
var protos = []string{"udp", "tcp"}

// exchange sends m over proto and returns the parsed response.
func (ts *testServer) exchange(t testing.TB, proto string, m *dns.Msg) *dns.Msg {
	t.Helper()
	r, _ := ts.exchangeRaw(t, proto, m)
	return r
}

// exchangeRaw is exchange that also returns the response as it came on
// the wire, to measure its size. The client's UDP buffer is 64 KiB so a
// response larger than promised would be seen, not cut by the client.
func (ts *testServer) exchangeRaw(t testing.TB, proto string, m *dns.Msg) (*dns.Msg, []byte) {
	t.Helper()
	c := &dns.Client{Net: proto, Timeout: 5 * time.Second, UDPSize: dns.MaxMsgSize}
	conn, err := c.Dial(ts.addr)
	if err != nil {
		t.Fatalf("dial %s %s: %v", proto, ts.addr, err)
	}
	defer conn.Close()
	conn.UDPSize = dns.MaxMsgSize
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := conn.WriteMsg(m); err != nil {
		t.Fatalf("write %s: %v", proto, err)
	}
	raw, err := conn.ReadMsgHeader(nil)
	if err != nil {
		t.Fatalf("read %s: %v", proto, err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(raw); err != nil {
		t.Fatalf("unpack %s response: %v", proto, err)
	}
	if r.Id != m.Id {
		t.Fatalf("%s: response id %d, query id %d", proto, r.Id, m.Id)
	}
	return r, raw
}

// query builds an IN query with RD set, as most stub resolvers send.
func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return m
}

// ednsQuery is query with an OPT record advertising size.
func ednsQuery(name string, qtype uint16, size uint16) *dns.Msg {
	m := query(name, qtype)
	m.SetEdns0(size, false)
	return m
}

// want describes a response.
type want struct {
	rcode   int
	aa      bool
	answer  []string // records in presentation form, in any order
	oneOf   []string // else: the answer is exactly one of these records
	ns      []string
	extra   []string // without the OPT record
	noRRs   bool     // answer, authority and additional all empty (but OPT)
	checkNS bool     // compare authority even when ns is empty
}

// check asserts rcode, the header flags every response must have (QR, RD
// copied, RA never) and the sections, TTLs included.
func check(t testing.TB, q, r *dns.Msg, w want) {
	t.Helper()
	if r.Rcode != w.rcode {
		t.Errorf("rcode %s, want %s\n%v", dns.RcodeToString[r.Rcode], dns.RcodeToString[w.rcode], r)
	}
	if !r.Response {
		t.Errorf("QR not set")
	}
	if r.Authoritative != w.aa {
		t.Errorf("AA=%v, want %v", r.Authoritative, w.aa)
	}
	if r.RecursionAvailable {
		t.Errorf("RA set: we never recurse")
	}
	if r.RecursionDesired != q.RecursionDesired {
		t.Errorf("RD=%v, query had %v", r.RecursionDesired, q.RecursionDesired)
	}
	if r.Truncated {
		t.Errorf("TC set on a small answer")
	}
	if len(r.Question) != len(q.Question) || (len(q.Question) > 0 && r.Question[0] != q.Question[0]) {
		t.Errorf("question %v, want %v (case preserved)", r.Question, q.Question)
	}
	if w.noRRs {
		if len(r.Answer)+len(r.Ns)+len(withoutOPT(r.Extra)) != 0 {
			t.Errorf("want empty sections, got\n%v", r)
		}
		return
	}
	if w.oneOf != nil {
		if len(r.Answer) != 1 || !slices.Contains(normalize(t, w.oneOf), normalize(t, []string{r.Answer[0].String()})[0]) {
			t.Errorf("answer %v, want one record of %q", r.Answer, w.oneOf)
		}
	} else {
		sameRRs(t, "answer", r.Answer, w.answer)
	}
	if len(w.ns) > 0 || w.checkNS {
		sameRRs(t, "authority", r.Ns, w.ns)
	}
	if w.extra != nil {
		sameRRs(t, "additional", withoutOPT(r.Extra), w.extra)
	}
}

// sameRRs compares a section with records in presentation form, ignoring
// order and spacing but not case or TTL.
func sameRRs(t testing.TB, section string, got []dns.RR, want []string) {
	t.Helper()
	g := make([]string, len(got))
	for i, rr := range got {
		g[i] = strings.Join(strings.Fields(rr.String()), " ")
	}
	w := normalize(t, want)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("%s section:\n got %q\nwant %q", section, g, w)
	}
}

// normalize parses records in presentation form and prints them the way
// miekg/dns does, so that spacing in expectations does not matter.
func normalize(t testing.TB, rrs []string) []string {
	t.Helper()
	out := make([]string, len(rrs))
	for i, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("bad record %q: %v", s, err)
		}
		out[i] = strings.Join(strings.Fields(rr.String()), " ")
	}
	return out
}

func withoutOPT(rrs []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, rr)
		}
	}
	return out
}

// The authority records of negative answers: SOA with TTL = min(SOA TTL,
// SOA MINIMUM) (RFC 2308 §5).
const (
	negCom = "example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 2026010101 7200 900 1209600 300"
	negNet = "example.net. 60 IN SOA ns1.example.com. hostmaster.example.com. 7 7200 900 1209600 600"
	negTLD = "example. 3600 IN SOA ns.example. hostmaster.example. 1 7200 900 1209600 3600"
)

// counterValue sums the samples of a counter family whose labels include
// every pair in labels.
func counterValue(t testing.TB, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	var sum float64
	for _, m := range family(t, g, name) {
		if hasLabels(m, labels) {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// histogramCount sums the sample counts of a histogram family.
func histogramCount(t testing.TB, g prometheus.Gatherer, name string, labels map[string]string) uint64 {
	t.Helper()
	var n uint64
	for _, m := range family(t, g, name) {
		if hasLabels(m, labels) {
			n += m.GetHistogram().GetSampleCount()
		}
	}
	return n
}

func family(t testing.TB, g prometheus.Gatherer, name string) []*dto.Metric {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return nil
}

func hasLabels(m *dto.Metric, labels map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := labels[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(labels)
}

// rawConn is a client socket for packets dns.Client will not send.
type rawConn struct {
	t testing.TB
	c *dns.Conn
}

func (ts *testServer) dialRaw(t testing.TB, proto string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout(proto, ts.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := &dns.Conn{Conn: nc, UDPSize: dns.MaxMsgSize}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return &rawConn{t: t, c: c}
}

// send writes one message as-is (with the length prefix over TCP).
func (rc *rawConn) send(pkt []byte) {
	rc.t.Helper()
	if _, err := rc.c.Write(pkt); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
}

// recv reads one message and parses it.
func (rc *rawConn) recv() *dns.Msg {
	rc.t.Helper()
	raw, err := rc.c.ReadMsgHeader(nil)
	if err != nil {
		rc.t.Fatalf("read: %v", err)
	}
	m := new(dns.Msg)
	if err := m.Unpack(raw); err != nil {
		rc.t.Fatalf("unpack %x: %v", raw, err)
	}
	return m
}

func mustPack(t testing.TB, m *dns.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
