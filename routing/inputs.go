package routing

import (
	"strings"

	"github.com/gtm-project/gtm/geo"
)

// Inputs are what a Snapshot is built from besides the configuration.
// Every field is optional; the zero value answers like a node with no
// location database, no latency map and every endpoint usable.
type Inputs struct {
	// Health tells which endpoints may be answered; nil means all.
	Health Health
	// Geo locates clients. Nil: no locations, so the latency and geo
	// policies fall back to the configured region order.
	Geo *geo.DB
	// Latency is the measured latency map; nil means none.
	Latency *LatencyTable
	// GeoRules are the country/continent → region rules of services with
	// the geo policy, by canonical service name ("api.example.com."). They
	// stand in for a `geo_rules:` service key until zones.Service has one.
	GeoRules map[string][]GeoRule
	// Version identifies the configuration and health built from.
	Version uint64
	// Previous is the snapshot being replaced. When it used the same Geo
	// database and region coordinates, the new snapshot takes over its
	// location cache, so the snapshot built at every health change starts
	// warm instead of paying a database lookup per client network again.
	Previous *Snapshot
}

// GeoRule sends the clients of a country, or else of a continent, to a
// region ahead of distance. Rules are tried in order; the first that
// matches wins, and when its region has no usable endpoint the answer
// falls back to distance.
type GeoRule struct {
	// Country is an ISO 3166-1 alpha-2 code ("DE"); it takes precedence
	// over Continent when both are set.
	Country string `json:"country,omitempty" yaml:"country"`
	// Continent is a two-letter continent code (AF AN AS EU NA OC SA).
	Continent string `json:"continent,omitempty" yaml:"continent"`
	// Region is where matching clients go.
	Region string `json:"region" yaml:"region"`
}

// rule is a GeoRule resolved against the snapshot's regions.
type rule struct {
	country, continent string
	region             int
}

// buildRules resolves rules; those naming an unknown region, or neither a
// country nor a continent, are left out (config validation reports them).
func buildRules(rs []GeoRule, regionIdx map[string]int) []rule {
	var out []rule
	for _, r := range rs {
		idx, ok := regionIdx[r.Region]
		if !ok || (r.Country == "" && r.Continent == "") {
			continue
		}
		out = append(out, rule{country: strings.ToUpper(r.Country), continent: strings.ToUpper(r.Continent), region: idx})
	}
	return out
}

// match returns the region of the first rule matching loc, or -1.
func matchRule(rules []rule, loc *geo.Location) int {
	for i := range rules {
		r := &rules[i]
		if r.country != "" {
			if r.country == loc.Country {
				return r.region
			}
			continue
		}
		if r.continent == loc.Continent {
			return r.region
		}
	}
	return -1
}
