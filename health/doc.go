// Package health turns probe results from many probers into state: which
// endpoints are up, down or unknown, which regions and availability zones
// are out, which probers are impaired, and which services have nothing left
// to answer.
//
// It never probes and never talks DNS. Tracker is the per-(endpoint, prober)
// rise/fall state machine the prober runs before it writes a result; its
// verdict travels with the result through the store. Evaluate is a pure
// function of (config, results, drains, now), so every DNS node reading the
// same store computes the same Status. Monitor wraps Evaluate for one node:
// it remembers the previous Status, carries Since times across updates, and
// logs, counts and keeps the transitions.
package health
