package main

import (
	"sync"

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

	mu     sync.Mutex
	set    *zones.Set
	health routing.Health
	ver    uint64

	reloads      *prometheus.CounterVec
	reloadErrors prometheus.Counter
	snapVersion  prometheus.Gauge
}

func newEngine(log zerolog.Logger, reg prometheus.Registerer) *engine {
	e := &engine{log: log, holder: &routing.Holder{}}
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

// setConfig publishes a snapshot of a new configuration.
func (e *engine) setConfig(set *zones.Set) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.set = set
	e.publishLocked()
}

// setHealth publishes a snapshot with new health.
func (e *engine) setHealth(h routing.Health) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.health = h
	e.publishLocked()
}

func (e *engine) publishLocked() {
	if e.set == nil {
		return
	}
	e.ver++
	e.holder.Store(routing.Build(e.set, e.health, e.ver))
	e.snapVersion.Set(float64(e.ver))
}

// reload reads the config at path; on error the current one keeps serving.
func (e *engine) reload(path, trigger string) bool {
	set, err := zones.Load(path)
	if err != nil {
		e.reloadErrors.Inc()
		logConfigErrors(e.log, err)
		e.log.Error().Str("trigger", trigger).Msg("reload refused; the previous configuration keeps serving")
		return false
	}
	e.setConfig(set)
	e.reloads.WithLabelValues(trigger).Inc()
	e.log.Info().Str("trigger", trigger).Str("summary", set.Summary()).Msg("configuration reloaded")
	return true
}
