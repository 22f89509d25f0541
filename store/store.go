package store

import (
	"context"
	"time"
)

// ErrClass classifies a failed probe.
type ErrClass string

// Error classes of a probe result.
const (
	ErrNone    ErrClass = ""
	ErrTimeout ErrClass = "timeout"
	ErrRefused ErrClass = "refused"
	ErrTLS     ErrClass = "tls"
	ErrStatus  ErrClass = "status"
	ErrBody    ErrClass = "body"
	ErrOther   ErrClass = "other"
)

// ProbeResult is one measurement of one endpoint by one prober.
type ProbeResult struct {
	// Service and Endpoint name what was probed (config names).
	Service  string `json:"service"`
	Endpoint string `json:"endpoint"`
	// Target is what was contacted: "203.0.113.10:443" or an address for ICMP.
	Target string `json:"target"`
	// Kind is the check type: icmp, tcp, http, https.
	Kind string `json:"kind"`
	// Source is the prober's region, Prober its id.
	Source string `json:"source"`
	Prober string `json:"prober"`
	OK     bool   `json:"ok"`
	// RTT is the whole probe; Connect and TTFB are HTTP phases.
	RTT     time.Duration `json:"rtt"`
	Connect time.Duration `json:"connect,omitempty"`
	TTFB    time.Duration `json:"ttfb,omitempty"`
	Class   ErrClass      `json:"class,omitempty"`
	Err     string        `json:"err,omitempty"`
	At      time.Time     `json:"at"`
	// Interval is the check's interval; a result older than 3 intervals is
	// stale and does not vote.
	Interval time.Duration `json:"interval"`
	// Verdict is this prober's rise/fall state for the endpoint after this
	// result ("up", "down" or "unknown"), computed in the prober process by
	// health's per-(endpoint, prober) state machine, so that every node
	// reading the store sees the same per-prober votes.
	Verdict string `json:"verdict"`
	// Changed is set when this result moved the verdict to or from "down":
	// the write is then published as urgent (Change.Urgent) so that nodes
	// re-read at once instead of at their next spaced sync.
	Changed bool `json:"changed,omitempty"`
}

// Key identifies the (service, endpoint) a result is about.
func (r ProbeResult) Key() string { return r.Service + "/" + r.Endpoint }

// DrainKind says what a drain applies to.
type DrainKind string

// Kinds of drain.
const (
	DrainEndpoint DrainKind = "endpoint" // Name is an endpoint name (in every service)
	DrainZone     DrainKind = "zone"     // Name is "region/zone"
	DrainRegion   DrainKind = "region"   // Name is a region
)

// Drain takes an endpoint, an availability zone or a region out of answers
// by hand, whatever its health.
type Drain struct {
	Kind   DrainKind `json:"kind"`
	Name   string    `json:"name"`
	By     string    `json:"by,omitempty"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// Change tells subscribers what moved; they re-read what they need.
type Change struct {
	What    string // "results", "drains", "config"
	Version uint64
	// Urgent marks a results write holding a verdict change
	// (ProbeResult.Changed): readers that space their syncs of results
	// should not delay this one. Coalescing keeps it set.
	Urgent bool
}

// Values of Change.What. Each has its own version counter; a Change carries
// the counter's value after the write (or, for a synthetic Change sent on
// subscribe and on reconnect, its current value). A version lower than one
// already seen means the backend lost state (Redis restarted empty).
const (
	WhatResults = "results"
	WhatDrains  = "drains"
	WhatConfig  = "config"
)

// Store is the shared state. Every method honours ctx and returns quickly
// with an error when the backend is unreachable.
type Store interface {
	// PutResults records probe results; each replaces the previous result of
	// the same (service, endpoint, prober).
	PutResults(ctx context.Context, rs []ProbeResult) error
	// Results returns the latest result per (service, endpoint, prober)
	// that has not expired.
	Results(ctx context.Context) ([]ProbeResult, error)
	// SetDrain adds (on) or removes a drain.
	SetDrain(ctx context.Context, d Drain, on bool) error
	// Drains lists the drains in force.
	Drains(ctx context.Context) ([]Drain, error)
	// Subscribe delivers a Change after every write by any node until ctx
	// ends. Slow readers lose intermediate changes, never the latest.
	//
	// It first delivers one Change per What with the current version, so
	// that a reader does its first read, and again after every reconnect to
	// the backend (messages may have been missed meanwhile). Changes are
	// coalesced per What. The channel is closed when ctx ends.
	Subscribe(ctx context.Context) <-chan Change
	// Close releases connections.
	Close() error

	// PutDoc writes a versioned document (a zone, a service). With ifVersion
	// 0 the write is unconditional; otherwise it fails with ErrConflict
	// unless the document's current version (0 when it never existed) is
	// ifVersion. Every successful write bumps ConfigVersion.
	PutDoc(ctx context.Context, kind, name string, body []byte, meta DocMeta, ifVersion uint64) (Doc, error)
	// Doc returns the current version of a document, or ErrNotFound when it
	// does not exist or was deleted.
	Doc(ctx context.Context, kind, name string) (Doc, error)
	// Docs returns every live document of a kind, sorted by name.
	Docs(ctx context.Context, kind string) ([]Doc, error)
	// DeleteDoc deletes a document (ifVersion as for PutDoc). The deletion
	// is a new version (a tombstone, kept in History), so that versions
	// keep rising if the name is written again. ErrNotFound when there is
	// nothing to delete.
	DeleteDoc(ctx context.Context, kind, name string, meta DocMeta, ifVersion uint64) error
	// History returns up to limit versions of a document, newest first
	// (limit <= 0: all kept, at most HistoryDepth). ErrNotFound when the
	// document never existed.
	History(ctx context.Context, kind, name string, limit int) ([]Doc, error)
	// ConfigVersion is the global configuration version: it rises with
	// every document change. A value lower than one seen before means the
	// backend lost state; call RestoreDocs.
	ConfigVersion(ctx context.Context) (uint64, error)
	// RestoreDocs writes back documents a node holds after the backend lost
	// them. A document is written only when the stored one is missing or
	// older (lower Version), keeping its Version, ConfigVersion, By, At and
	// Comment. If anything was written, ConfigVersion becomes greater than
	// both its current value and every restored ConfigVersion, and a config
	// Change is published. Safe to call from several nodes at once.
	RestoreDocs(ctx context.Context, docs []Doc) error
	// Ping reports whether the backend answers.
	Ping(ctx context.Context) error

	// PutResolverSamples records resolver networks a DNS node served; each
	// sample replaces the previous one of the same (Node, Prefix) and
	// expires after its TTL (see latency.go).
	PutResolverSamples(ctx context.Context, ss []ResolverSample) error
	// ResolverSamples returns every sample that has not expired, sorted by
	// (Prefix, Node).
	ResolverSamples(ctx context.Context) ([]ResolverSample, error)
	// PutLatency records measured round trips to resolver networks; each
	// replaces the previous result of the same (Prober, Prefix) and
	// expires after its TTL.
	PutLatency(ctx context.Context, rs []LatencyResult) error
	// Latency returns every result that has not expired, sorted by
	// (Prefix, Source, Prober).
	Latency(ctx context.Context) ([]LatencyResult, error)

	// CookieSecrets returns the DNS cookie server secret every node
	// shares (CookieSecretLen random bytes) and the previous one (nil
	// when there is none). The first call creates the secret; a call that
	// finds it older than rotate replaces it, atomically, the current one
	// becoming the previous: concurrent callers all get the same pair.
	CookieSecrets(ctx context.Context, rotate time.Duration) (cur, prev []byte, err error)
}

// CookieSecretLen is the length of a DNS cookie server secret (128 bits,
// RFC 9018 §4.2).
const CookieSecretLen = 16
