package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gtm-project/gtm/health"
	"github.com/gtm-project/gtm/routing"
	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// testConfig answers api.example.com. with both of its endpoints while
// they are usable (failover, both priority 0, two answers), so what a
// drain or lost health does shows in the answer.
const testConfig = `
node: {region: eu, id: node-a}
dns: {listen: ["127.0.0.1:0"]}
api: {listen: "127.0.0.1:0"}
state: {snapshot_path: state/snapshot.json, stale_after: 30s, stale_action: fail_open}
regions:
  eu: {lat: 50, lon: 8}
zones:
  - {origin: example.com., file: example.com.zone}
services:
  - name: api.example.com.
    policy: failover
    answers: 2
    endpoints:
      - {name: gw-1, region: eu, zone: "1", address: 192.0.2.10}
      - {name: gw-2, region: eu, zone: "1", address: 192.0.2.11}
`

const testZone = `$ORIGIN example.com.
$TTL 300
@ SOA ns1 hostmaster 1 7200 900 1209600 60
  NS ns1
ns1 A 192.0.2.53
www A 192.0.2.80
`

// editedZone is testZone as an API edit changes it.
const editedZone = testZone + "new A 192.0.2.99\n"

// clock is a settable time for the syncer, the health monitor and the
// memory store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// flakyStore is a real memory store that fails every call on demand, and
// whose backing store can be swapped (a Redis that restarted empty).
type flakyStore struct {
	mu   sync.Mutex
	st   store.Store
	fail bool
}

var errDown = errors.New("store down (injected)")

func (f *flakyStore) set(st store.Store, fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st, f.fail = st, fail
}

func (f *flakyStore) get() (store.Store, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return nil, errDown
	}
	return f.st, nil
}

func (f *flakyStore) ConfigVersion(ctx context.Context) (uint64, error) {
	st, err := f.get()
	if err != nil {
		return 0, err
	}
	return st.ConfigVersion(ctx)
}

func (f *flakyStore) Docs(ctx context.Context, kind string) ([]store.Doc, error) {
	st, err := f.get()
	if err != nil {
		return nil, err
	}
	return st.Docs(ctx, kind)
}

func (f *flakyStore) Drains(ctx context.Context) ([]store.Drain, error) {
	st, err := f.get()
	if err != nil {
		return nil, err
	}
	return st.Drains(ctx)
}

func (f *flakyStore) Results(ctx context.Context) ([]store.ProbeResult, error) {
	st, err := f.get()
	if err != nil {
		return nil, err
	}
	return st.Results(ctx)
}

func (f *flakyStore) Subscribe(ctx context.Context) <-chan store.Change {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st.Subscribe(ctx)
}

func (f *flakyStore) PutDoc(ctx context.Context, kind, name string, body []byte, meta store.DocMeta, ifVersion uint64) (store.Doc, error) {
	st, err := f.get()
	if err != nil {
		return store.Doc{}, err
	}
	return st.PutDoc(ctx, kind, name, body, meta, ifVersion)
}

func (f *flakyStore) RestoreDocs(ctx context.Context, docs []store.Doc) error {
	st, err := f.get()
	if err != nil {
		return err
	}
	return st.RestoreDocs(ctx, docs)
}

func (f *flakyStore) SetDrain(ctx context.Context, d store.Drain, on bool) error {
	st, err := f.get()
	if err != nil {
		return err
	}
	return st.SetDrain(ctx, d, on)
}

var _ SyncStore = (*flakyStore)(nil)
var _ SyncStore = store.Store(nil)

// testNode is an engine and a syncer over a flaky memory store, on a fake
// clock.
type testNode struct {
	dir   string
	clk   *clock
	mem   *store.Memory // the store behind fs at start
	fs    *flakyStore
	eng   *Engine
	sync  *Syncer
	reg   *prometheus.Registry
	set   *zones.Set
	t     *testing.T
	state string // the snapshot file
}

func writeConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"gtm.yaml": testConfig, "example.com.zone": testZone} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// newTestNode starts a node from the files in dir (writeConfig), its store
// st (a new memory store when nil).
func newTestNode(t *testing.T, dir string, clk *clock, st store.Store) *testNode {
	t.Helper()
	set, err := zones.Load(filepath.Join(dir, "gtm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	mem, _ := st.(*store.Memory)
	if st == nil {
		mem = store.NewMemory(clk.Now)
		st = mem
	}
	log := zerolog.New(zerolog.NewTestWriter(t))
	reg := prometheus.NewRegistry()
	fs := &flakyStore{st: st}
	eng := NewEngine(EngineOptions{Logger: log, Registerer: reg, Docs: fs})
	eng.SetConfig(set)
	mon := health.NewMonitor(log, reg, clk.Now)
	s := NewSyncer(SyncOptions{Logger: log, Store: fs, Monitor: mon, Engine: eng, Config: set.Config, Registerer: reg, Now: clk.Now})
	return &testNode{dir: dir, clk: clk, mem: mem, fs: fs, eng: eng, sync: s, reg: reg, set: set, t: t,
		state: filepath.Join(dir, "state", "snapshot.json")}
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

// syncOK runs one sync that must succeed.
func (n *testNode) syncOK() {
	n.t.Helper()
	if err := n.sync.SyncOnce(context.Background()); err != nil {
		n.t.Fatalf("SyncOnce: %v", err)
	}
}

// answer is what the published snapshot answers for name A, sorted.
func (n *testNode) answer(name string) []string {
	n.t.Helper()
	snap := n.eng.Snapshot()
	if snap == nil {
		n.t.Fatal("no snapshot published")
	}
	var r routing.Result
	snap.Lookup(&routing.Query{Name: name, Type: dns.TypeA}, &r)
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	slices.Sort(out)
	return out
}

func (n *testNode) wantAnswer(name string, want ...string) {
	n.t.Helper()
	if got := n.answer(name); !slices.Equal(got, want) {
		n.t.Errorf("%s A = %v, want %v", name, got, want)
	}
}

// metric is the value of the registry's metric name (a counter or gauge
// without labels).
func (n *testNode) metric(name string) float64 {
	n.t.Helper()
	mfs, err := n.reg.Gather()
	if err != nil {
		n.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if c := m.GetCounter(); c != nil {
			return c.GetValue()
		}
		return m.GetGauge().GetValue()
	}
	n.t.Fatalf("no metric %s", name)
	return 0
}

var (
	both = []string{"192.0.2.10", "192.0.2.11"}
	meta = store.DocMeta{By: "test"}
)

func putZone(t *testing.T, st store.Store, body string) {
	t.Helper()
	if _, err := st.PutDoc(context.Background(), store.KindZone, "example.com.", []byte(body), meta, 0); err != nil {
		t.Fatal(err)
	}
}

func drainGW1(t *testing.T, st store.Store) {
	t.Helper()
	d := store.Drain{Kind: store.DrainEndpoint, Name: "gw-1", By: "test", Reason: "maintenance", At: time.Now()}
	if err := st.SetDrain(context.Background(), d, true); err != nil {
		t.Fatal(err)
	}
}

// An edit written to the store (as the API writes it) reaches the
// engine's configuration and its snapshot at the next sync.
func TestSyncAppliesStoreEdit(t *testing.T) {
	n := newTestNode(t, writeConfig(t), newClock(), nil)
	n.syncOK()
	n.wantAnswer("new.example.com.")
	n.wantAnswer("www.example.com.", "192.0.2.80")

	putZone(t, n.mem, editedZone)
	n.syncOK()
	n.wantAnswer("new.example.com.", "192.0.2.99")
	n.wantAnswer("www.example.com.", "192.0.2.80")
	ver, err := n.mem.ConfigVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := n.sync.State()["config_version"]; got != ver {
		t.Errorf("State config_version = %v, want the store's %d", got, ver)
	}
	if got := n.metric("gtm_config_version"); got != float64(ver) {
		t.Errorf("gtm_config_version = %v, want %d", got, ver)
	}
	// The API's Validate sees the stored document: deleting it brings back
	// the files' zone, without the record.
	set, err := n.eng.Validate(context.Background(), zones.Edit{Kind: store.KindZone, Name: "example.com.", Deleted: true})
	if err != nil {
		t.Fatalf("Validate delete: %v", err)
	}
	if set == n.eng.Effective() {
		t.Error("Validate returned the configuration in force, not a new one")
	}
}

// A drain in the store takes the endpoint out of answers; lifting it
// brings it back.
func TestSyncDrainMakesEndpointUnusable(t *testing.T) {
	n := newTestNode(t, writeConfig(t), newClock(), nil)
	n.syncOK()
	n.wantAnswer("api.example.com.", both...)

	drainGW1(t, n.mem)
	n.syncOK()
	n.wantAnswer("api.example.com.", "192.0.2.11")
	if st := n.eng.Status(); st == nil {
		t.Fatal("no health after a sync")
	}

	if err := n.mem.SetDrain(context.Background(), store.Drain{Kind: store.DrainEndpoint, Name: "gw-1"}, false); err != nil {
		t.Fatal(err)
	}
	n.syncOK()
	n.wantAnswer("api.example.com.", both...)
}

// A store that lost everything (version back to 0) gets back the
// documents and drains this node holds, and the node keeps serving them.
func TestSyncRestoresEmptyStore(t *testing.T) {
	n := newTestNode(t, writeConfig(t), newClock(), nil)
	n.syncOK()
	putZone(t, n.mem, editedZone)
	drainGW1(t, n.mem)
	n.syncOK()

	empty := store.NewMemory(n.clk.Now)
	n.fs.set(empty, false)
	n.syncOK()

	ctx := context.Background()
	docs, err := empty.Docs(ctx, store.KindZone)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 || docs[0].Name != "example.com." || string(docs[0].Body) != editedZone {
		t.Errorf("restored zone documents = %+v, want example.com. with the edit", docs)
	}
	drains, err := empty.Drains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(drains) != 1 || drains[0].Name != "gw-1" {
		t.Errorf("restored drains = %+v, want gw-1", drains)
	}
	if got := n.metric("gtm_store_restores_total"); got != 1 {
		t.Errorf("gtm_store_restores_total = %v, want 1", got)
	}
	n.wantAnswer("new.example.com.", "192.0.2.99")
	n.wantAnswer("api.example.com.", "192.0.2.11")
}

// A store whose version went below the one held (a failover to a replica
// that missed writes) gets the newer documents back, and keeps what it
// has that this node never saw.
func TestSyncRestoresRegressedVersion(t *testing.T) {
	n := newTestNode(t, writeConfig(t), newClock(), nil)
	n.syncOK()
	putZone(t, n.mem, testZone+"a A 192.0.2.1\n")
	putZone(t, n.mem, testZone+"b A 192.0.2.2\n")
	putZone(t, n.mem, editedZone)
	n.syncOK()
	held, ok := n.sync.State()["config_version"].(uint64)
	if !ok || held < 4 {
		t.Fatalf("held config_version %v, want >= 4", n.sync.State()["config_version"])
	}

	ctx := context.Background()
	replica := store.NewMemory(n.clk.Now)
	if _, err := replica.PutDoc(ctx, store.KindService, "other.example.com.", []byte(`name: other.example.com.
endpoints:
  - {name: o-1, region: eu, zone: "1", address: 192.0.2.20}
`), meta, 0); err != nil {
		t.Fatal(err)
	}
	lower, _ := replica.ConfigVersion(ctx)
	if lower >= held {
		t.Fatalf("replica version %d not below held %d", lower, held)
	}
	n.fs.set(replica, false)
	n.syncOK()

	now, err := replica.ConfigVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if now <= held {
		t.Errorf("store version after restore = %d, want above the held %d", now, held)
	}
	doc, err := replica.Doc(ctx, store.KindZone, "example.com.")
	if err != nil || string(doc.Body) != editedZone {
		t.Errorf("restored zone = %q, %v; want the held edit", doc.Body, err)
	}
	if _, err := replica.Doc(ctx, store.KindService, "other.example.com."); err != nil {
		t.Errorf("the replica's own document is gone: %v", err)
	}
	if got := n.metric("gtm_store_restores_total"); got != 1 {
		t.Errorf("gtm_store_restores_total = %v, want 1", got)
	}
	n.wantAnswer("new.example.com.", "192.0.2.99")
	n.wantAnswer("other.example.com.", "192.0.2.20")
}

// With state.stale_action fail_open, health kept past state.stale_after
// while the store fails is dropped: every endpoint is answered, drained
// or not. Before the budget runs out the last state keeps serving; once
// the store answers again its state applies.
func TestSyncStaleBudgetFailsOpen(t *testing.T) {
	n := newTestNode(t, writeConfig(t), newClock(), nil)
	drainGW1(t, n.mem)
	n.syncOK()
	n.wantAnswer("api.example.com.", "192.0.2.11")

	n.fs.set(n.mem, true)
	n.clk.Add(10 * time.Second)
	if err := n.sync.SyncOnce(context.Background()); !errors.Is(err, errDown) {
		t.Fatalf("SyncOnce with the store down = %v, want the injected error", err)
	}
	n.wantAnswer("api.example.com.", "192.0.2.11")
	st := n.sync.State()
	if st["store_up"] != false || st["stale"] != false {
		t.Errorf("State within the budget = %v, want store_up false, stale false", st)
	}
	if age, _ := st["state_age_seconds"].(float64); age != 10 {
		t.Errorf("state_age_seconds = %v, want 10 (the fake clock's)", st["state_age_seconds"])
	}

	n.clk.Add(21 * time.Second) // 31 s since the last read: past stale_after
	if err := n.sync.SyncOnce(context.Background()); err == nil {
		t.Fatal("SyncOnce succeeded with the store down")
	}
	n.wantAnswer("api.example.com.", both...)
	if st := n.sync.State(); st["stale"] != true {
		t.Errorf("State past the budget = %v, want stale true", st)
	}
	if got := n.metric("gtm_store_up"); got != 0 {
		t.Errorf("gtm_store_up = %v, want 0", got)
	}

	n.fs.set(n.mem, false)
	n.syncOK()
	n.wantAnswer("api.example.com.", "192.0.2.11")
	if st := n.sync.State(); st["stale"] != false || st["store_up"] != true {
		t.Errorf("State after recovery = %v, want store_up true, stale false", st)
	}
}

// A node started while the store is down serves, from the snapshot file a
// previous run wrote, the same edits, drains and health, before any sync.
func TestLoadLastGoodServesPreviousState(t *testing.T) {
	dir := writeConfig(t)
	clk := newClock()
	first := newTestNode(t, dir, clk, nil)
	first.syncOK()
	putZone(t, first.mem, editedZone)
	drainGW1(t, first.mem)
	first.syncOK()
	first.wantAnswer("new.example.com.", "192.0.2.99")
	first.wantAnswer("api.example.com.", "192.0.2.11")
	if _, err := os.Stat(first.state); err != nil {
		t.Fatalf("no snapshot file after a sync: %v", err)
	}
	heldVer := first.sync.State()["config_version"]

	clk.Add(time.Hour)
	next := newTestNode(t, dir, clk, nil)
	next.fs.set(next.mem, true) // the store is down at start
	next.wantAnswer("new.example.com.")
	next.wantAnswer("api.example.com.", both...)
	next.sync.LoadLastGood()
	next.wantAnswer("new.example.com.", "192.0.2.99")
	next.wantAnswer("api.example.com.", "192.0.2.11")
	if got := next.sync.State()["config_version"]; got != heldVer {
		t.Errorf("config_version after load = %v, want %v", got, heldVer)
	}
	if err := next.sync.SyncOnce(context.Background()); err == nil {
		t.Fatal("SyncOnce succeeded with the store down")
	}
	next.wantAnswer("api.example.com.", "192.0.2.11")

	// The file is still the format the store package reads.
	lg, err := store.ReadLastGood(first.state)
	if err != nil || lg == nil {
		t.Fatalf("ReadLastGood: %v, %v", lg, err)
	}
	if s := lg.Health["api.example.com./gw-1"]; !s.Drained {
		t.Errorf("saved health of gw-1 = %+v, want drained", s)
	}
	if lg.Node != "node-a" || !lg.WrittenAt.Equal(clk.Now().Add(-time.Hour)) {
		t.Errorf("file node %q written_at %v, want node-a at the fake clock's %v", lg.Node, lg.WrittenAt, clk.Now().Add(-time.Hour))
	}
}

// A snapshot file that cannot be parsed is moved aside and counted, and
// the node serves the files.
func TestLoadLastGoodCorruptMovedAside(t *testing.T) {
	dir := writeConfig(t)
	n := newTestNode(t, dir, newClock(), nil)
	if err := os.MkdirAll(filepath.Dir(n.state), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(n.state, []byte(`{"written_at": "`), 0o644); err != nil {
		t.Fatal(err)
	}
	n.sync.LoadLastGood()
	if _, err := os.Stat(n.state); !os.IsNotExist(err) {
		t.Errorf("corrupt snapshot still in place: %v", err)
	}
	aside := n.state + ".corrupt-20250301T120000Z"
	if _, err := os.Stat(aside); err != nil {
		t.Errorf("corrupt snapshot not moved to %s: %v", aside, err)
	}
	if got := n.metric("gtm_snapshot_corrupt_total"); got != 1 {
		t.Errorf("gtm_snapshot_corrupt_total = %v, want 1", got)
	}
	if c, _ := n.sync.State()["snapshot_corrupt"].([]string); len(c) != 1 {
		t.Errorf("State snapshot_corrupt = %v, want the moved file", n.sync.State()["snapshot_corrupt"])
	}
	n.wantAnswer("api.example.com.", both...)
}
