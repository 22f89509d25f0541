package main

import (
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

// engine owns the inputs of the snapshot (configuration and health) and
// publishes a new immutable snapshot whenever one of them changes.
type engine struct {
	log    zerolog.Logger
	holder *routing.Holder

	mu sync.Mutex
	// base is the configuration from files; edits come from the store
	// (API edits); set is their overlay, the configuration in force.
	base  *zones.Set
	edits []zones.Edit
	set   *zones.Set
	// cache holds the edits parsed, for the overlays here and the API's
	// validation (editor), so each parses only documents that changed.
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
	// onReload are told of every configuration accepted by reload.
	onReload []func(*zones.Config)
	// allowEmpty lets reload accept a configuration zones.CheckReplace
	// refuses (--allow-empty).
	allowEmpty bool

	reloads      *prometheus.CounterVec
	reloadErrors prometheus.Counter
	snapVersion  prometheus.Gauge
}

// engineSets is the base and the configuration in force, read together.
type engineSets struct{ base, set *zones.Set }

func newEngine(log zerolog.Logger, reg prometheus.Registerer) *engine {
	e := &engine{log: log, holder: &routing.Holder{}, cfgChanged: make(chan struct{}, 1)}
	e.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gtm", Name: "config_reloads_total", Help: "Configuration reloads accepted, by trigger.",
	}, []string{"trigger"})
	e.reloadErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "gtm", Name: "config_reload_errors_total", Help: "Configuration reloads refused because of errors.",
	})
	e.snapVersion = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "gtm", Name: "snapshot_version", Help: "Version of the snapshot answering queries.",
	})
	reg.MustRegister(e.reloads, e.reloadErrors, e.snapVersion)
	return e
}

func (e *engine) version() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ver
}

// setConfig takes a new configuration from files and publishes it with
// the store's edits on top. If the edits no longer fit the new files, the
// files alone are served and the conflict logged.
func (e *engine) setConfig(base *zones.Set) {
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

// setEdits applies edits from the store on top of the files. An overlay
// that does not validate is refused and the current configuration kept.
func (e *engine) setEdits(edits []zones.Edit) error {
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

// effective returns the base and the configuration in force, without
// waiting for a snapshot being built.
func (e *engine) effective() (base, set *zones.Set) {
	if s := e.sets.Load(); s != nil {
		return s.base, s.set
	}
	return nil, nil
}

func (e *engine) signalConfig() {
	select {
	case e.cfgChanged <- struct{}{}:
	default:
	}
}

// config is the configuration in force.
func (e *engine) config() *zones.Config {
	if _, set := e.effective(); set != nil {
		return set.Config
	}
	return nil
}

// configChanged signals after each setConfig.
func (e *engine) configChanged() <-chan struct{} { return e.cfgChanged }

// setHealth publishes a snapshot with new health.
func (e *engine) setHealth(h *health.Status) {
	e.latest.Store(h)
	e.setRoutingHealth(h)
}

// setRoutingHealth publishes a snapshot with health from elsewhere (the
// last-known-good file); nil means every endpoint is usable.
func (e *engine) setRoutingHealth(h routing.Health) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.health = h
	e.publishLocked()
}

// setLatency publishes a snapshot with a new latency map.
func (e *engine) setLatency(t *routing.LatencyTable) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lat = t
	e.publishLocked()
}

// republish builds the snapshot again (after a GeoIP database reload).
func (e *engine) republish() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.publishLocked()
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

// noteHealth keeps health that changed nothing routing cares about (RTTs,
// vote details) for the API without rebuilding the snapshot.
func (e *engine) noteHealth(h *health.Status) { e.latest.Store(h) }

// status is the newest health.
func (e *engine) status() *health.Status { return e.latest.Load() }

func (e *engine) publishLocked() {
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

// reload reads the config at path; on error the current one keeps serving.
// A configuration that would blank the running one (zones.CheckReplace) is
// refused as an error is, unless --allow-empty: a truncated or half-written
// file parses as exactly that.
func (e *engine) reload(path, trigger string) bool {
	set, err := zones.Load(path)
	if err == nil && !e.allowEmpty {
		base, _ := e.effective()
		err = zones.CheckReplace(base, set)
	}
	if err != nil {
		e.reloadErrors.Inc()
		logConfigErrors(e.log, err)
		e.log.Error().Str("trigger", trigger).Msg("reload refused; the previous configuration keeps serving")
		return false
	}
	if base, _ := e.effective(); base != nil {
		warnRestartNeeded(e.log, base.Config, set.Config)
	}
	e.setConfig(set)
	for _, f := range e.onReload {
		f(set.Config)
	}
	e.reloads.WithLabelValues(trigger).Inc()
	e.log.Info().Str("trigger", trigger).Str("summary", set.Summary()).Msg("configuration reloaded")
	return true
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
