package zones

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// Set is a validated configuration with its zones loaded: everything a
// snapshot is built from. It is immutable once returned.
type Set struct {
	Config *Config
	Zones  []*Zone
}

// Load reads the config file at path and every zone file it names, and
// validates the whole. Every problem found is returned, each at its
// file:line; on error nothing is returned, so the caller keeps serving what
// it had.
func Load(path string) (*Set, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, ErrorList{{File: path, Msg: err.Error()}}
	}
	cfg, errs := parseConfig(path, data)
	if cfg == nil {
		return nil, errs.Err()
	}
	// The zone files are read even when the config has errors, so that one
	// run of `gtm check` names them all; entries the config validation
	// already rejected are skipped rather than reported twice.
	var zs []*Zone
	for i, ref := range cfg.Zones {
		if _, ok := dns.IsDomainName(ref.Origin); !ok || ref.Origin == "." || ref.File == "" {
			continue
		}
		name := cfg.Resolve(ref.File)
		f, err := os.Open(name)
		if err != nil {
			// Point at the config line that names the file: that is what
			// the operator has to fix.
			errs = append(errs, cfg.errAt(fmt.Sprintf("zones[%d].file", i), "zone %s: %v", ref.Origin, err))
			continue
		}
		z, zerrs := cfg.Limits.ParseZone(ref.Origin, name, f)
		f.Close()
		errs = append(errs, zerrs...)
		if z != nil {
			zs = append(zs, z)
		}
	}
	if len(errs) > 0 {
		// Services are checked against zones only once both are sound:
		// against a half-read zone they would report noise.
		return nil, errs.Err()
	}
	return NewSet(cfg, zs)
}

// NewSet validates services against zones: each service name must sit in a
// zone we serve, above any delegation, and not clash with static data.
func NewSet(cfg *Config, zs []*Zone) (*Set, error) {
	// One pass over each zone's records that holds a service finds what
	// a service may clash with, so the cost is records + services, not
	// their product.
	var errs ErrorList
	byZone := map[*Zone][]int{} // services (indexes) in each zone
	for i, s := range cfg.Services {
		z := findZone(zs, s.Name)
		if z == nil {
			errs = append(errs, cfg.errAt(fmt.Sprintf("services[%d].name", i), "%s is outside every zone served (add its zone under zones:)", s.Name))
			continue
		}
		byZone[z] = append(byZone[z], i)
	}
	for _, z := range zs {
		idx := byZone[z]
		if len(idx) == 0 {
			continue
		}
		names := make(map[string]bool, len(idx))
		for _, i := range idx {
			names[cfg.Services[i].Name] = true
		}
		clash := map[string][]int{} // records at a service's name
		cuts := map[string]int{}    // delegations: owner -> first NS record
		for j, rr := range z.Records {
			h := rr.Header()
			switch {
			case names[h.Name] && (h.Rrtype == dns.TypeCNAME || h.Rrtype == dns.TypeA || h.Rrtype == dns.TypeAAAA):
				clash[h.Name] = append(clash[h.Name], j)
			case h.Rrtype == dns.TypeNS && h.Name != z.Origin:
				if _, ok := cuts[h.Name]; !ok {
					cuts[h.Name] = j
				}
			}
		}
		for _, i := range idx {
			s := cfg.Services[i]
			p := fmt.Sprintf("services[%d].name", i)
			for _, j := range clash[s.Name] {
				if t := z.Records[j].Header().Rrtype; t == dns.TypeCNAME {
					errs = append(errs, cfg.errAt(p, "%s clashes with the static CNAME at %s:%d", s.Name, z.PosAt(j).File, z.PosAt(j).Line))
				} else {
					errs = append(errs, cfg.errAt(p, "%s clashes with the static %s record at %s:%d: the service answers A and AAAA", s.Name, dns.TypeToString[t], z.PosAt(j).File, z.PosAt(j).Line))
				}
			}
			if len(cuts) == 0 {
				continue
			}
			// The service's name and each of its ancestors below the apex.
			for name := s.Name; name != z.Origin && name != ""; {
				if j, ok := cuts[name]; ok {
					errs = append(errs, cfg.errAt(p, "%s is at or below the delegation of %s (%s:%d): its answers belong to the child zone", s.Name, name, z.PosAt(j).File, z.PosAt(j).Line))
				}
				k := strings.IndexByte(name, '.')
				if k < 0 {
					break
				}
				name = name[k+1:]
			}
		}
	}
	if len(errs) > 0 {
		// Reported in service order, as before.
		sort.SliceStable(errs, func(a, b int) bool { return errs[a].Line < errs[b].Line })
		return nil, errs.Err()
	}
	return &Set{Config: cfg, Zones: zs}, nil
}

// findZone returns the zone with the longest origin containing name.
func findZone(zs []*Zone, name string) *Zone {
	var best *Zone
	for _, z := range zs {
		if dns.IsSubDomain(z.Origin, name) && (best == nil || len(z.Origin) > len(best.Origin)) {
			best = z
		}
	}
	return best
}

// Summary is a one-line description for `gtm check` and logs.
func (s *Set) Summary() string {
	records := 0
	for _, z := range s.Zones {
		records += len(z.Records)
	}
	endpoints := 0
	for _, svc := range s.Config.Services {
		endpoints += len(svc.Endpoints)
	}
	return fmt.Sprintf("%d zones, %d records, %d services, %d endpoints, %d regions",
		len(s.Zones), records, len(s.Config.Services), endpoints, len(s.Config.Regions))
}

// ErrEmpty is returned by CheckReplace for a configuration that would
// blank every answer: no zones and no services, or none of the zones the
// running configuration serves. A half-written or truncated file looks
// exactly like that, and a valid empty YAML document parses cleanly.
var ErrEmpty = errors.New("refusing an empty configuration")

// CheckReplace says whether next may replace running (nil at start). It
// refuses a configuration with no zones and no services, and one that drops
// every zone running serves; an operator who means it passes
// --allow-empty, as the error says.
func CheckReplace(running, next *Set) error {
	if len(next.Zones) == 0 && len(next.Config.Services) == 0 {
		return fmt.Errorf("%w: %s defines no zones and no services (pass --allow-empty if that is intended)", ErrEmpty, next.Config.Path())
	}
	if running == nil || len(running.Zones) == 0 {
		return nil
	}
	kept := map[string]bool{}
	for _, z := range next.Zones {
		kept[z.Origin] = true
	}
	for _, z := range running.Zones {
		if kept[z.Origin] {
			return nil
		}
	}
	var dropped []string
	for _, z := range running.Zones {
		dropped = append(dropped, z.Origin)
	}
	if len(dropped) > 5 {
		dropped = append(dropped[:5], fmt.Sprintf("and %d more", len(dropped)-5))
	}
	return fmt.Errorf("%w: %s drops every zone now served (%s) (pass --allow-empty if that is intended)",
		ErrEmpty, next.Config.Path(), strings.Join(dropped, ", "))
}
