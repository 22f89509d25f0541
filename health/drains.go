package health

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/gtm-project/gtm/store"
)

// drainSet holds the drains in force by kind, each mapped to a sentence
// saying who drained it and why.
type drainSet struct {
	endpoint map[string]string // endpoint name, in every service
	zone     map[string]string // "region/zone"
	region   map[string]string
}

func drainText(d store.Drain) string {
	s := fmt.Sprintf("%s drain %q", d.Kind, d.Name)
	if d.By != "" {
		s += " by " + d.By
	}
	if d.Reason != "" {
		s += ": " + d.Reason
	}
	return s
}

// applyDrains flags drained endpoints. When several drains cover one
// endpoint, the narrowest (endpoint, then zone, then region) names it.
// Drains of unknown kinds are ignored rather than guessed at.
func applyDrains(refs []endpointRef, drains []store.Drain) drainSet {
	d := drainSet{endpoint: map[string]string{}, zone: map[string]string{}, region: map[string]string{}}
	// Sorted so that of two drains on one name the same one is reported on
	// every node, whatever order the store listed them in.
	sorted := slices.Clone(drains)
	slices.SortFunc(sorted, func(a, b store.Drain) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name), a.At.Compare(b.At),
			cmp.Compare(a.By, b.By), cmp.Compare(a.Reason, b.Reason))
	})
	for _, dr := range sorted {
		var m map[string]string
		switch dr.Kind {
		case store.DrainEndpoint:
			m = d.endpoint
		case store.DrainZone:
			m = d.zone
		case store.DrainRegion:
			m = d.region
		default:
			continue
		}
		if _, ok := m[dr.Name]; !ok {
			m[dr.Name] = drainText(dr)
		}
	}
	if len(sorted) == 0 {
		return d
	}
	for _, ref := range refs {
		e := ref.st
		if why, ok := d.endpoint[e.Endpoint]; ok {
			e.Drained, e.DrainReason = true, why
		} else if why, ok := d.zone[e.Region+"/"+e.Zone]; ok && e.Zone != "" {
			e.Drained, e.DrainReason = true, why
		} else if why, ok := d.region[e.Region]; ok {
			e.Drained, e.DrainReason = true, why
		}
	}
	return d
}
