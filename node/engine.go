package node

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gtm-project/gtm/geo"
	"github.com/gtm-project/gtm/health"
	"github.com/gtm-project/gtm/routing"
	"github.com/gtm-project/gtm/zones"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// EngineOptions configure an Engine.
type EngineOptions struct {
	Logger     zerolog.Logger
	Registerer prometheus.Registerer // nil: metrics are not registered
	// AllowEmpty lets Reload accept a configuration zones.CheckReplace
	// refuses (--allow-empty).
	AllowEmpty bool
	// Docs is where Validate reads the store's documents; nil: the files
	// alone.
	Docs DocReader
}

// Engine owns the inputs of the snapshot (configuration and health) and
// publishes a new immutable snapshot whenever one of them changes. It is
// the DNS server's dnsserver.Source and the API's api.Editor.
type Engine struct {
	log    zerolog.Logger
	holder routing.Holder

	mu sync.Mutex
	// base is the configuration from files; edits come from the store
	// (API edits); set is their overlay, the configuration in force.
	base  *zones.Set
	edits []zones.Edit
	set   *zones.Set
	// cache holds the edits parsed, for the overlays here and the API's
	// validation (Validate), so each parses only documents that changed.
	cache zones.ParseCache
	// sets holds base and set for readers (the API, the drains check):
	// they must not wait while a snapshot is built under mu.
	sets   atomic.Pointer[engineSets]
	health routing.Health
	ver    uint64
	// geo locates clients (nil: no database); lat is the measured latency
	// map (nil: none yet).
	geo *geo.Provider
	lat *routing.LatencyTable
	// latest is the newest health, published or not (for the API).
	latest atomic.Pointer[health.Status]
	// cfgChanged wakes the health loop after a configuration change.
	cfgChanged chan struct{}
	// onReload are told of every configuration accepted by Reload.
	onReload   []func(*zones.Config)
	allowEmpty bool

	ed editor

	reloads      *prometheus.CounterVec
	reloadErrors prometheus.Counter
	snapVersion  prometheus.Gauge
}

// engineSets is the base and the configuration in force, read together.
type engineSets struct{ base, set *zones.Set }

// NewEngine returns an engine with no configuration: SetConfig gives it
// its first.
func NewEngine(opt EngineOptions) *Engine {
	e := &Engine{log: opt.Logger, cfgChanged: make(chan struct{}, 1), allowEmpty: opt.AllowEmpty}
	e.ed = editor{eng: e, st: opt.Docs}
	e.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gtm", Name: "config_reloads_total", Help: "Configuration reloads accepted, by trigger.",
	}, []string{"trigger"})
	e.reloadErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "gtm", Name: "config_reload_errors_total", Help: "Configuration reloads refused because of errors.",
	})
	e.snapVersion = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "gtm", Name: "snapshot_version", Help: "Version of the snapshot answering queries.",
	})
	if opt.Registerer != nil {
		opt.Registerer.MustRegister(e.reloads, e.reloadErrors, e.snapVersion)
	}
	return e
}

// Snapshot is the snapshot answering queries (nil before SetConfig).
func (e *Engine) Snapshot() *routing.Snapshot { return e.holder.Snapshot() }

// Version is the number of snapshots published.
func (e *Engine) Version() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ver
}

// SetConfig takes a new configuration from files and publishes it with
// the store's edits on top. If the edits no longer fit the new files, the
// files alone are served and the conflict logged.
func (e *Engine) SetConfig(base *zones.Set) {
	e.mu.Lock()
	e.base = base
	e.set = base
	if len(e.edits) > 0 {
		if set, err := zones.OverlayCached(base, e.edits, &e.cache); err != nil {
			e.log.Error().Err(err).Msg("API edits do not fit the reloaded files; serving the files alone until they are fixed")
		} else {
			e.set = set
		}
	}
	e.publishLocked()
	// Readers see the new configuration once its snapshot answers.
	e.sets.Store(&engineSets{e.base, e.set})
	e.mu.Unlock()
	e.signalConfig()
}

// SetEdits applies edits from the store on top of the files. An overlay
// that does not validate is refused and the current configuration kept.
func (e *Engine) SetEdits(edits []zones.Edit) error {
	e.mu.Lock()
	set, err := zones.OverlayCached(e.base, edits, &e.cache)
	if err != nil {
		e.mu.Unlock()
		return err
	}
	e.edits, e.set = edits, set
	e.publishLocked()
	// Readers see the new configuration once its snapshot answers.
	e.sets.Store(&engineSets{e.base, e.set})
	e.mu.Unlock()
	e.signalConfig()
	return nil
}

// Base is the configuration from files, without waiting for a snapshot
// being built (nil before SetConfig).
func (e *Engine) Base() *zones.Set {
	if s := e.sets.Load(); s != nil {
		return s.base
	}
	return nil
}

// Effective is the configuration in force: the files with the store's
// edits applied, without waiting for a snapshot being built (nil before
// SetConfig). It implements api.Editor.
func (e *Engine) Effective() *zones.Set {
	if s := e.sets.Load(); s != nil {
		return s.set
	}
	return nil
}

func (e *Engine) signalConfig() {
	select {
	case e.cfgChanged <- struct{}{}:
	default:
	}
}

// Config is the configuration in force (nil before SetConfig).
func (e *Engine) Config() *zones.Config {
	if set := e.Effective(); set != nil {
		return set.Config
	}
	return nil
}

// ConfigChanged signals after each SetConfig and SetEdits (one pending
// signal at most).
func (e *Engine) ConfigChanged() <-chan struct{} { return e.cfgChanged }

// SetHealth publishes a snapshot with new health.
func (e *Engine) SetHealth(h *health.Status) {
	e.latest.Store(h)
	e.SetRoutingHealth(h)
}

// SetRoutingHealth publishes a snapshot with health from elsewhere (the
// last-known-good file); nil means every endpoint is usable.
func (e *Engine) SetRoutingHealth(h routing.Health) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.health = h
	e.publishLocked()
}

// SetLatency publishes a snapshot with a new latency map.
func (e *Engine) SetLatency(t *routing.LatencyTable) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lat = t
	e.publishLocked()
}

// SetGeo gives the engine its GeoIP database (nil: none) and publishes a
// snapshot with it.
func (e *Engine) SetGeo(gp *geo.Provider) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.geo = gp
	e.publishLocked()
}

// Republish builds the snapshot again (after a GeoIP database reload).
func (e *Engine) Republish() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.publishLocked()
}

// OnReload adds f to what is told of every configuration Reload accepts.
func (e *Engine) OnReload(f func(*zones.Config)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onReload = append(e.onReload, f)
}

// geoRules collects the services' geo_rules in routing's form.
func geoRules(cfg *zones.Config) map[string][]routing.GeoRule {
	var out map[string][]routing.GeoRule
	for _, s := range cfg.Services {
		for _, r := range s.GeoRules {
			if out == nil {
				out = map[string][]routing.GeoRule{}
			}
			out[s.Name] = append(out[s.Name], routing.GeoRule{Country: r.Country, Continent: r.Continent, Region: r.Region})
		}
	}
	return out
}

// NoteHealth keeps health that changed nothing routing cares about (RTTs,
// vote details) for the API without rebuilding the snapshot.
func (e *Engine) NoteHealth(h *health.Status) { e.latest.Store(h) }

// Status is the newest health (nil before the first).
func (e *Engine) Status() *health.Status { return e.latest.Load() }

func (e *Engine) publishLocked() {
	if e.set == nil {
		return
	}
	e.ver++
	in := routing.Inputs{
		Health: e.health, Latency: e.lat, Version: e.ver, Previous: e.holder.Snapshot(),
		GeoRules: geoRules(e.set.Config),
	}
	if e.geo != nil {
		in.Geo = e.geo.Current()
	}
	e.holder.Store(routing.Build(e.set, in))
	e.snapVersion.Set(float64(e.ver))
}

// Reload reads the config at path; on error the current one keeps serving.
// A configuration that would blank the running one (zones.CheckReplace) is
// refused as an error is, unless AllowEmpty: a truncated or half-written
// file parses as exactly that.
func (e *Engine) Reload(path, trigger string) bool {
	set, err := zones.Load(path)
	if err == nil && !e.allowEmpty {
		err = zones.CheckReplace(e.Base(), set)
	}
	if err != nil {
		e.reloadErrors.Inc()
		LogConfigErrors(e.log, err)
		e.log.Error().Str("trigger", trigger).Msg("reload refused; the previous configuration keeps serving")
		return false
	}
	if base := e.Base(); base != nil {
		warnRestartNeeded(e.log, base.Config, set.Config)
	}
	e.SetConfig(set)
	e.mu.Lock()
	onReload := slices.Clone(e.onReload)
	e.mu.Unlock()
	for _, f := range onReload {
		f(set.Config)
	}
	e.reloads.WithLabelValues(trigger).Inc()
	e.log.Info().Str("trigger", trigger).Str("summary", set.Summary()).Msg("configuration reloaded")
	go releaseMemory() // the previous configuration is garbage now
	return true
}

// LogConfigErrors logs a configuration's errors one line each (file,
// line, key path), or err as is when it is not a zones.ErrorList.
func LogConfigErrors(log zerolog.Logger, err error) {
	var list zones.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			log.Error().Str("file", e.File).Int("line", e.Line).Str("path", e.Path).Msg(e.Msg)
		}
		return
	}
	log.Error().Err(err).Msg("config")
}

// warnRestartNeeded logs the settings a reload takes but cannot apply to
// sockets already bound: they wait for a restart.
func warnRestartNeeded(log zerolog.Logger, old, next *zones.Config) {
	if !slices.Equal(old.DNS.Listen, next.DNS.Listen) {
		log.Warn().Strs("serving", old.DNS.Listen).Strs("configured", next.DNS.Listen).
			Msg("dns.listen changed: it takes effect at the next restart")
	}
	if old.API.Listen != next.API.Listen {
		log.Warn().Str("serving", old.API.Listen).Str("configured", next.API.Listen).
			Msg("api.listen changed: it takes effect at the next restart")
	}
}
