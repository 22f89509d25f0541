// Package prober measures endpoints: ICMP echo, TCP connect and HTTP(S)
// requests, on a schedule with jitter and a global concurrency bound. It
// turns each measurement into a store.ProbeResult and hands results, in
// batches, to a Sink (a store.Store satisfies it).
//
// The prober measures and never decides whether an endpoint is up: package
// health does that from every prober's results. The one piece of state kept
// here is the per-(service, endpoint) rise/fall verdict that health's
// tracker computes, so that every node reading the store sees the same
// per-prober votes (see store.ProbeResult.Verdict).
//
// The shape follows prometheus blackbox_exporter: one file per protocol
// (icmp.go, tcp.go, http.go), a table from check kind to probe function,
// and a context.WithTimeout around every probe.
package prober
