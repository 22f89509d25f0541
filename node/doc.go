// Package node owns a running node's state: what it serves and why.
//
// An Engine holds the configuration from files, the API edits read from
// the store on top of them, health, the latency map and the GeoIP
// database, and publishes an immutable routing.Snapshot whenever one of
// them changes; the DNS server reads it (dnsserver.Source) and the API
// validates edits against it (api.Editor).
//
// A Syncer keeps the Engine in step with the store (edits, drains, probe
// results), restores a store that lost its data, keeps the last-known-good
// file (store.LastGood) and serves it when the store cannot be read,
// within the stale budget (state.stale_after).
//
// Steering is the client-location side (GeoIP database, resolver sampler,
// latency prober, latency map); WatchFiles reloads the Engine when the
// configuration or a zone file changes. The binary (cmd/gtm) keeps flags,
// wiring and signals.
package node
