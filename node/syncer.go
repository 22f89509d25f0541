package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gtm-project/gtm/health"
	"github.com/gtm-project/gtm/routing"
	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// syncEvery re-reads the store even without change messages: results go
// stale with time alone, and a lost message must not hide a change.
const syncEvery = time.Second

// metaKind holds the epoch document every store gets from the first node
// that sees it empty. A store whose configuration version falls below what
// a node holds has lost writes (Redis restarted without persistence, or a
// failover to a replica that missed them); the node then restores.
const metaKind = "meta"

// SyncStore is the part of the store a Syncer uses (store.Store
// satisfies it).
type SyncStore interface {
	ConfigVersion(ctx context.Context) (uint64, error)
	Docs(ctx context.Context, kind string) ([]store.Doc, error)
	Drains(ctx context.Context) ([]store.Drain, error)
	Results(ctx context.Context) ([]store.ProbeResult, error)
	Subscribe(ctx context.Context) <-chan store.Change
	PutDoc(ctx context.Context, kind, name string, body []byte, meta store.DocMeta, ifVersion uint64) (store.Doc, error)
	RestoreDocs(ctx context.Context, docs []store.Doc) error
	SetDrain(ctx context.Context, d store.Drain, on bool) error
}

// SyncOptions configure a Syncer.
type SyncOptions struct {
	Logger     zerolog.Logger
	Store      SyncStore
	Monitor    *health.Monitor
	Engine     *Engine
	Config     *zones.Config         // node.id, state.* and prober.latency.max_age
	Registerer prometheus.Registerer // nil: metrics are not registered
	// Now is the clock for state ages, the stale budget, health and the
	// snapshot's times (default time.Now). Run's timers stay real.
	Now func() time.Time
}

// Syncer keeps this node's snapshot in step with the store: edits
// (documents) and drains and probe results become configuration and
// health. It runs beside the DNS server and never blocks it; when the store
// cannot be read the last state keeps serving, and is kept on disk.
type Syncer struct {
	log           zerolog.Logger
	st            SyncStore
	mon           *health.Monitor
	eng           *Engine
	now           func() time.Time
	node          string
	path          string        // state.snapshot_path; "" keeps nothing on disk
	staleAfter    time.Duration // 0: forever
	staleAction   string
	latencyMaxAge time.Duration

	mu       sync.Mutex
	held     store.LastGood // what this node last read from the store
	lastOK   time.Time
	up       bool
	failOpen bool // the stale budget ran out and health was dropped
	warned   bool // the outage under way was logged
	written  store.LastGood
	// The latency map's measurements, as last read by the latency loop,
	// and fingerprints (latencyFingerprint) of them and of those in the
	// file, so persist need not compare every entry.
	latency          []store.LatencyResult
	latencyAt        time.Time
	latencyFP        [3]int64
	latencyWrittenFP [3]int64
	// snapErr is the last snapshot write's error (nil: written).
	snapErr error
	// lastFull is when the last full sync (not an idle tick) succeeded.
	lastFull time.Time

	// wmu orders writes of the snapshot file; flush* are its group
	// commit (see flush).
	wmu        sync.Mutex
	flushAsked atomic.Uint64
	flushDone  uint64
	flushErr   error

	storeUp     prometheus.Gauge
	storeErrors *prometheus.CounterVec
	cfgVersion  prometheus.Gauge
	restores    prometheus.Counter
	syncSeconds prometheus.Histogram
	snapOK      prometheus.Gauge
	snapCorrupt prometheus.Counter
}

// NewSyncer returns a syncer; LoadLastGood, then Run, start it.
func NewSyncer(opt SyncOptions) *Syncer {
	cfg := opt.Config
	s := &Syncer{
		log: opt.Logger, st: opt.Store, mon: opt.Monitor, eng: opt.Engine, now: opt.Now, node: cfg.Node.ID,
		path: cfg.Resolve(cfg.State.SnapshotPath), staleAfter: cfg.State.StaleAfter.D(), staleAction: cfg.State.StaleAction,
		latencyMaxAge: cfg.Prober.Latency.MaxAge.D(),
	}
	s.storeUp = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "gtm", Name: "store_up", Help: "1 when the last read of the state store succeeded.",
	})
	s.storeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gtm", Name: "store_errors_total", Help: "Failed state store operations, by operation.",
	}, []string{"op"})
	s.cfgVersion = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "gtm", Name: "config_version", Help: "Store configuration version applied (API edits and drains).",
	})
	s.restores = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "gtm", Name: "store_restores_total", Help: "Times this node restored configuration into a store that had lost it.",
	})
	s.syncSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "gtm", Name: "state_sync_seconds",
		Help:    "Time to read the state store and apply it (one successful sync).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	})
	s.snapOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "gtm", Name: "snapshot_ok",
		Help: "1 when the last write of the last-known-good snapshot (state.snapshot_path) succeeded.",
	})
	s.snapOK.Set(1)
	s.snapCorrupt = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "gtm", Name: "snapshot_corrupt_total",
		Help: "Last-known-good snapshots found unreadable at start and moved aside.",
	})
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "gtm", Name: "state_age_seconds",
		Help: "Seconds since state was last read from the store: how old the health being served may be.",
	}, func() float64 { return s.age().Seconds() })
	if s.now == nil {
		s.now = time.Now
	}
	if reg := opt.Registerer; reg != nil {
		reg.MustRegister(s.storeUp, s.storeErrors, s.cfgVersion, s.restores, s.syncSeconds, s.snapOK, s.snapCorrupt, age)
	}
	return s
}

// LoadLastGood serves the state kept on disk before anything else, so a
// node that starts while the store is down answers as it did before.
func (s *Syncer) LoadLastGood() {
	if s.path == "" {
		return
	}
	if removed := removeStrayTemps(s.path); len(removed) > 0 {
		s.log.Info().Strs("files", removed).Msg("removed temporary snapshot files left by an interrupted write")
	}
	lg, err := store.ReadLastGood(s.path)
	if errors.Is(err, store.ErrCorrupt) {
		// Move the evidence aside before the first sync overwrites it,
		// and say so until an operator has looked (corruptSnapshots).
		s.snapCorrupt.Inc()
		aside := corruptName(s.path, s.now())
		if rerr := os.Rename(s.path, aside); rerr != nil {
			s.log.Error().Err(err).AnErr("rename_error", rerr).Str("path", s.path).
				Msg("the last-known-good snapshot is corrupt and could not be moved aside; starting from the files and the store")
			return
		}
		s.log.Error().Err(err).Str("path", s.path).Str("moved_to", aside).
			Msg("the last-known-good snapshot is corrupt: moved aside; starting from the files and the store (API edits held only in it are in the moved file; remove it to acknowledge)")
		return
	}
	if err != nil {
		s.log.Error().Err(err).Msg("cannot read the last-known-good snapshot; starting from the files alone")
		return
	}
	if lg == nil {
		return
	}
	if err := s.eng.SetEdits(editsOf(lg.Docs)); err != nil {
		s.log.Error().Err(err).Msg("edits in the last-known-good snapshot do not fit the files; serving the files")
	}
	s.eng.SetRoutingHealth(savedHealth(lg.Health))
	if len(lg.Latency) > 0 {
		// Judged as of when it was read: the store's answer will replace it.
		s.eng.SetLatency(routing.NewLatencyTable(lg.Latency, routing.LatencyOptions{Now: lg.LatencyAt, MaxAge: s.latencyMaxAge}))
	}
	s.mu.Lock()
	s.held, s.written = *lg, *lg
	s.latency, s.latencyAt = lg.Latency, lg.LatencyAt
	s.latencyFP = latencyFingerprint(lg.Latency)
	s.latencyWrittenFP = s.latencyFP
	s.mu.Unlock()
	s.log.Info().Str("path", s.path).Time("written_at", lg.WrittenAt).Uint64("config_version", lg.ConfigVersion).
		Int("docs", len(lg.Docs)).Int("drains", len(lg.Drains)).Int("latency_results", len(lg.Latency)).
		Msg("serving the last-known-good snapshot until the store answers")
}

func (s *Syncer) age() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.up || s.lastOK.IsZero() {
		return 0
	}
	return s.now().Sub(s.lastOK)
}

// State reports the store for /readyz: store_up, config_version, stale,
// state_age_seconds while the store is unreachable and, with a snapshot
// file, snapshot_ok, snapshot_error and snapshot_corrupt.
func (s *Syncer) State() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := map[string]any{"store_up": s.up, "config_version": s.held.ConfigVersion}
	if !s.up && !s.lastOK.IsZero() {
		st["state_age_seconds"] = s.now().Sub(s.lastOK).Seconds()
	}
	st["stale"] = s.failOpen
	if s.path != "" {
		st["snapshot_ok"] = s.snapErr == nil
		if s.snapErr != nil {
			st["snapshot_error"] = s.snapErr.Error()
		}
		if c := corruptSnapshots(s.path); len(c) > 0 {
			st["snapshot_corrupt"] = c
		}
	}
	return st
}

// resultsGap spaces syncs caused by probe results. Probers flush every
// 100 ms, and re-reading the store on each flush made 3 nodes with 100
// endpoints cost Redis ~730 commands/s. 200 ms keeps a verdict's delay
// well inside the failover bound (interval × fall + 1 s; the multi-region
// e2e test went 0.1 s over it at 500 ms) at about half that load. Drains
// and edits still apply at once, and so do results holding a verdict change
// (store.Change.Urgent), spaced only by urgentGap.
const (
	resultsGap = 200 * time.Millisecond
	urgentGap  = 20 * time.Millisecond
)

// fullSyncEvery bounds how long a node stays idle without a full sync:
// results that expired in the store (a prober gone) stop being listed
// without a change message. Answers do not depend on it (an expired result
// was stale, and voted no more, already). At 10,000 services a full sync
// costs ~0.2 s of CPU, so this stays minutes apart.
const fullSyncEvery = 5 * time.Minute

// Run syncs on every change message (results at most every resultsGap),
// on reconnect and every second.
func (s *Syncer) Run(ctx context.Context) error {
	changes := s.st.Subscribe(ctx)
	tick := time.NewTicker(syncEvery)
	defer tick.Stop()
	later := time.NewTimer(time.Hour)
	later.Stop()
	var due time.Time // when later fires; zero while it is not armed
	publish := true
	var last time.Time
	var cost time.Duration
	released := false
	for {
		began := time.Now()
		err := s.sync(ctx, publish)
		last = time.Now()
		if err == nil {
			if !released {
				// Loading the files and the first full sync leave garbage
				// about the size of the configuration: give it back now
				// rather than keep twice the live heap for good.
				released = true
				go releaseMemory()
			}
			// Failed syncs end at a timeout: they say nothing of the cost,
			// and gtm_store_up already reports them.
			publish = false
			cost = last.Sub(began)
			s.syncSeconds.Observe(cost.Seconds())
		}
		if !due.IsZero() {
			later.Stop()
			due = time.Time{}
		}
	wait:
		select {
		case <-ctx.Done():
			return nil
		case c, ok := <-changes:
			if !ok {
				changes = nil // the feed ended with ctx; the ticker carries on
				goto wait
			}
			if c.What != store.WhatResults {
				// A configuration change is read at once, but a storm
				// of edits must not rebuild the snapshot back to back
				// (each rebuild costs with the size of every zone):
				// idle at least as long as the last sync took.
				if at := last.Add(cost); time.Until(at) > 0 {
					if due.IsZero() || at.Before(due) {
						due = at
						later.Reset(time.Until(at))
					}
					goto wait
				}
			}
			if c.What == store.WhatResults {
				// A verdict change (to or from down) is read at once, up
				// to one sync per urgentGap in a mass outage.
				spacing := resultsGap
				if c.Urgent {
					spacing = urgentGap
				}
				// A sync reads every result: with thousands of endpoints
				// it takes tens of ms, and syncing back to back in a mass
				// outage would keep a core busy. Idle at least twice as
				// long as the last sync took (at most a third of a core).
				spacing = max(spacing, 2*cost)
				if at := last.Add(spacing); time.Until(at) > 0 {
					if due.IsZero() || at.Before(due) {
						due = at
						later.Reset(time.Until(at))
					}
					goto wait
				}
			}
		case <-later.C:
			due = time.Time{}
		case <-tick.C:
			if err == nil && !publish && s.idle(ctx) {
				goto wait
			}
		case <-s.eng.ConfigChanged():
			publish = true
		}
	}
}

// idle says whether a tick may skip the sync: the last one succeeded, no
// change message came since (the change feed, with its own safety re-read
// of the version counters, tells of every write), the health it computed
// holds until a result goes stale, and the store still answers with the
// configuration version held. It costs one small read, not a read of every
// result and an evaluation of every endpoint: a node with nothing to do
// stays idle.
func (s *Syncer) idle(ctx context.Context) bool {
	s.mu.Lock()
	full := s.lastFull
	s.mu.Unlock()
	if s.now().Sub(full) >= fullSyncEvery {
		return false // results the store expired leave the status page
	}
	if until := s.mon.Current().Until(); !until.IsZero() && !s.now().Before(until) {
		return false
	}
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	ver, err := s.st.ConfigVersion(cctx)
	if err != nil {
		_ = s.fail("config_version", err)
		return false
	}
	s.mu.Lock()
	same := ver == s.held.ConfigVersion
	s.lastOK = s.now()
	latency := s.latencyFP != s.latencyWrittenFP
	s.mu.Unlock()
	if same && latency {
		s.persist() // new latency measurements, kept for a restart
	}
	return same
}

func (s *Syncer) fail(op string, err error) error {
	s.storeErrors.WithLabelValues(op).Inc()
	s.storeUp.Set(0)
	s.mu.Lock()
	s.up = false
	lastOK := s.lastOK
	// One line per outage, also for a node that has not reached the store
	// since it started; gtm_store_errors_total counts every failure.
	warn := !s.warned
	s.warned = true
	s.mu.Unlock()
	if warn {
		s.log.Warn().Err(err).Str("op", op).Msg("state store unreachable; serving the last known state")
	}
	if s.staleAfter > 0 && !lastOK.IsZero() && s.now().Sub(lastOK) > s.staleAfter && s.staleAction == "fail_open" {
		s.mu.Lock()
		already := s.failOpen
		s.failOpen = true
		s.mu.Unlock()
		if !already {
			s.log.Warn().Dur("stale_after", s.staleAfter).Msg("health is older than state.stale_after: answering every endpoint (fail_open)")
			s.eng.SetRoutingHealth(nil)
		}
	}
	return err
}

// SyncOnce reads the store once and applies what changed, publishing a
// snapshot with the health it computed.
func (s *Syncer) SyncOnce(ctx context.Context) error { return s.sync(ctx, true) }

// sync reads the store once and applies what changed; the health computed
// is published when publish, or when it changed what routing sees.
func (s *Syncer) sync(ctx context.Context, publish bool) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	// Results and drains are read beside the version: a node far from
	// Redis pays one round trip, not three, before a verdict reaches its
	// answers.
	reads := s.readHealth(ctx)
	ver, err := s.st.ConfigVersion(ctx)
	if err != nil {
		return s.fail("config_version", err)
	}
	s.mu.Lock()
	held := s.held
	s.mu.Unlock()

	if ver < held.ConfigVersion || (ver == 0 && (len(held.Docs) > 0 || len(held.Drains) > 0)) {
		if err := s.restore(ctx, held, ver); err != nil {
			return s.fail("restore", err)
		}
		// The drains read beside the version predate the restore.
		reads = s.readHealth(ctx)
		if ver, err = s.st.ConfigVersion(ctx); err != nil {
			return s.fail("config_version", err)
		}
	} else if ver == 0 {
		// A new, empty store: stamp it, so that losing it later shows as
		// a version regression.
		if _, err := s.st.PutDoc(ctx, metaKind, "epoch", []byte(s.node), store.DocMeta{By: s.node, Comment: "first node to see this store"}, 0); err != nil && !errors.Is(err, store.ErrConflict) {
			return s.fail("epoch", err)
		}
		if ver, err = s.st.ConfigVersion(ctx); err != nil {
			return s.fail("config_version", err)
		}
	}

	docs := held.Docs
	if ver != held.ConfigVersion {
		if docs, err = s.readDocs(ctx); err != nil {
			return s.fail("docs", err)
		}
		if err := s.eng.SetEdits(editsOf(docs)); err != nil {
			// The API validates every edit, so this is two edits racing or
			// files that changed under them: keep serving what we have.
			s.log.Error().Err(err).Uint64("config_version", ver).Msg("configuration in the store does not validate; keeping the current one")
		}
		s.cfgVersion.Set(float64(ver))
	}
	h := reads()
	if h.rerr != nil {
		return s.fail("results", h.rerr)
	}
	if h.derr != nil {
		return s.fail("drains", h.derr)
	}
	results, drains := h.results, h.drains
	status, transitions := s.mon.Update(health.Input{Config: s.eng.Config(), Results: results, Drains: drains, Now: s.now()})

	s.mu.Lock()
	recovered := !s.up || s.failOpen
	s.up, s.lastOK, s.failOpen, s.warned = true, s.now(), false, false
	s.lastFull = s.lastOK
	s.held = store.LastGood{Node: s.node, ConfigVersion: ver, Docs: docs, Drains: drains, Health: healthOf(status)}
	s.mu.Unlock()
	s.storeUp.Set(1)
	if recovered {
		s.log.Info().Uint64("config_version", ver).Msg("state store reachable")
	}
	if publish || recovered || len(transitions) > 0 {
		s.eng.SetHealth(status)
	} else {
		s.eng.NoteHealth(status)
	}
	s.persist()
	return nil
}

// healthReads is what readHealth found.
type healthReads struct {
	results    []store.ProbeResult
	drains     []store.Drain
	rerr, derr error
}

// readHealth reads results and drains concurrently and returns a function
// that waits for both. A caller that returns early need not wait: the
// reads end with ctx.
func (s *Syncer) readHealth(ctx context.Context) func() healthReads {
	var h healthReads
	var wg sync.WaitGroup
	wg.Go(func() { h.drains, h.derr = s.st.Drains(ctx) })
	wg.Go(func() { h.results, h.rerr = s.st.Results(ctx) })
	return func() healthReads {
		wg.Wait()
		return h
	}
}

// readDocs reads every kind of document at once: one round trip to a far
// store, not three, before an edit is answered.
func (s *Syncer) readDocs(ctx context.Context) ([]store.Doc, error) {
	kinds := []string{metaKind, store.KindZone, store.KindService}
	got := make([][]store.Doc, len(kinds))
	errs := make([]error, len(kinds))
	var wg sync.WaitGroup
	for i, k := range kinds {
		wg.Go(func() { got[i], errs[i] = s.st.Docs(ctx, k) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return slices.Concat(got...), nil
}

// restore writes back what this node holds into a store that lost it.
func (s *Syncer) restore(ctx context.Context, held store.LastGood, found uint64) error {
	s.log.Warn().Uint64("store_version", found).Uint64("held_version", held.ConfigVersion).
		Int("docs", len(held.Docs)).Int("drains", len(held.Drains)).
		Msg("the state store lost configuration (version went back); restoring what this node holds")
	if len(held.Docs) > 0 {
		if err := s.st.RestoreDocs(ctx, held.Docs); err != nil {
			return fmt.Errorf("restore docs: %w", err)
		}
	}
	for _, d := range held.Drains {
		if err := s.st.SetDrain(ctx, d, true); err != nil {
			return fmt.Errorf("restore drain %s/%s: %w", d.Kind, d.Name, err)
		}
	}
	s.restores.Inc()
	return nil
}

// persist writes the last-known-good file when what it holds changed.
// A flush (an acknowledged edit) may have written a newer configuration
// than this sync read: the file never goes back to an older one.
func (s *Syncer) persist() {
	if s.path == "" {
		return
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	cur := s.held
	cur.Latency, cur.LatencyAt = s.latency, s.latencyAt
	if s.written.ConfigVersion > cur.ConfigVersion {
		cur.ConfigVersion, cur.Docs, cur.Drains = s.written.ConfigVersion, s.written.Docs, s.written.Drains
	}
	fp := s.latencyFP
	same := s.snapErr == nil && cur.ConfigVersion == s.written.ConfigVersion && reflect.DeepEqual(cur.Drains, s.written.Drains) &&
		reflect.DeepEqual(cur.Health, s.written.Health) && fp == s.latencyWrittenFP
	s.mu.Unlock()
	if same {
		return
	}
	_ = s.writeLocked(cur, fp)
}

// NoteLatency keeps the latency measurements just read for the
// last-known-good file; the next sync writes them.
func (s *Syncer) NoteLatency(rs []store.LatencyResult, at time.Time) {
	fp := latencyFingerprint(rs)
	s.mu.Lock()
	defer s.mu.Unlock()
	if fp == s.latencyFP {
		// The same measurements (they change once per latency round,
		// minutes apart, and are read every 30 s): do not rewrite the file.
		return
	}
	s.latency, s.latencyAt, s.latencyFP = rs, at, fp
}

// latencyFingerprint tells one read of the latency map from the next
// without comparing every entry: each new measurement has a new At.
func latencyFingerprint(rs []store.LatencyResult) [3]int64 {
	var fp [3]int64
	fp[0] = int64(len(rs))
	for _, r := range rs {
		fp[1] += r.At.UnixNano()
		fp[2] += int64(r.RTT)
	}
	return fp
}

// editsOf turns store documents into zones edits (meta documents are not
// configuration).
func editsOf(docs []store.Doc) []zones.Edit {
	var out []zones.Edit
	for _, d := range docs {
		if d.Kind != store.KindZone && d.Kind != store.KindService || d.Deleted {
			continue
		}
		out = append(out, zones.Edit{Kind: d.Kind, Name: d.Name, Body: d.Body, Version: d.Version})
	}
	return out
}

// releaseMemory collects and returns freed memory to the OS. The
// collector otherwise lets the heap grow to twice what survived the last
// collection (GOGC=100), so the garbage of a load stays resident: for a
// 1,000,000-record zone this was the difference between ~560 MB and
// ~290 MB RSS. It runs after the first sync and after each reload, never
// on the answer path.
func releaseMemory() { debug.FreeOSMemory() }
