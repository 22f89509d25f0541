package geo

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultSettle is how long Watch waits after the last file event before
// it reloads. Copying a database in place produces a burst of writes; one
// reload after the burst beats several on half-written files.
const DefaultSettle = time.Second

// Options configures a Provider. The zero value of each field is its
// documented default.
type Options struct {
	// Database is the location database (config geo.database). Empty means
	// no location: Current returns nil and every lookup reports not found.
	Database string
	// ASNDatabase is the optional ASN database (config geo.asn_database).
	ASNDatabase string
	// Registerer receives the package metrics; nil registers none.
	Registerer prometheus.Registerer
	// Settle is the quiet time Watch waits for after a file event.
	// Default DefaultSettle.
	Settle time.Duration
}

// Provider holds the current DB and replaces it on Reload. Readers call
// Current for every query and get a complete, immutable DB; a reload never
// blocks them.
//
// Replaced DBs are not closed: a query that loaded the old pointer may
// still be reading it, and a DB owns nothing but memory, which the garbage
// collector frees once the last such query is done (see DB).
type Provider struct {
	opts Options
	cur  atomic.Pointer[DB]
	// mu serialises reloads, so two racing reloads cannot publish an
	// older read of the files after a newer one.
	mu      sync.Mutex
	metrics *metrics
}

// NewProvider opens the configured databases and returns a Provider
// serving them. A missing or corrupt database is an error naming the file,
// so a bad configuration stops gtm at start rather than serving without
// location. It starts nothing; call Watch to follow file changes.
func NewProvider(opts Options) (*Provider, error) {
	if opts.Settle <= 0 {
		opts.Settle = DefaultSettle
	}
	if opts.Database == "" && opts.ASNDatabase != "" {
		return nil, fmt.Errorf("geo: asn_database %s needs a location database (geo.database)", opts.ASNDatabase)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	p := &Provider{opts: opts, metrics: m}
	if opts.Database == "" {
		return p, nil
	}
	db, err := Open(opts.Database, opts.ASNDatabase)
	if err != nil {
		return nil, err
	}
	p.publish(db)
	return p, nil
}

// Current returns the DB in use, or nil when no database is configured
// (DB methods accept a nil receiver and report nothing found). The result
// stays valid for as long as the caller holds it, even across reloads.
func (p *Provider) Current() *DB {
	return p.cur.Load()
}

// Reload reopens the configured files and, if they open cleanly, makes
// them current. On failure the current DB stays in use and the error, which
// names the file, is returned. cmd/gtm calls it on SIGHUP; Watch calls it
// when a file is replaced.
func (p *Provider) Reload() error {
	if p.opts.Database == "" {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	db, err := Open(p.opts.Database, p.opts.ASNDatabase)
	if err != nil {
		p.metrics.reloads.WithLabelValues("failure").Inc()
		return err
	}
	p.publish(db)
	p.metrics.reloads.WithLabelValues("success").Inc()
	return nil
}

// publish makes db current and updates the build-time gauges.
func (p *Provider) publish(db *DB) {
	p.cur.Store(db)
	info := db.Info()
	p.metrics.built.WithLabelValues("location").Set(float64(info.Location.Built.Unix()))
	if info.ASN.Path != "" {
		p.metrics.built.WithLabelValues("asn").Set(float64(info.ASN.Built.Unix()))
	}
}

// changed reports whether a configured file is no longer the one the
// current DB was read from (replaced, rewritten or touched). A file that
// cannot be stat'ed (removed mid-replacement) is reported as unchanged with
// the error, since there is nothing to load yet.
func (p *Provider) changed() (bool, error) {
	db := p.Current()
	if db == nil {
		return true, nil
	}
	for _, f := range []struct {
		path string
		was  os.FileInfo
	}{{p.opts.Database, db.locStat}, {p.opts.ASNDatabase, db.asnStat}} {
		if f.path == "" {
			continue
		}
		now, err := os.Stat(f.path)
		if err != nil {
			return false, fmt.Errorf("geo: %w", err)
		}
		if !os.SameFile(now, f.was) || now.Size() != f.was.Size() || !now.ModTime().Equal(f.was.ModTime()) {
			return true, nil
		}
	}
	return false, nil
}
