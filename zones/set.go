package zones

import (
	"fmt"
	"os"

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
	var errs ErrorList
	for i, s := range cfg.Services {
		p := fmt.Sprintf("services[%d].name", i)
		z := findZone(zs, s.Name)
		if z == nil {
			errs = append(errs, cfg.errAt(p, "%s is outside every zone served (add its zone under zones:)", s.Name))
			continue
		}
		for j, rr := range z.Records {
			h := rr.Header()
			switch {
			case h.Name == s.Name && h.Rrtype == dns.TypeCNAME:
				errs = append(errs, cfg.errAt(p, "%s clashes with the static CNAME at %s:%d", s.Name, z.Pos[j].File, z.Pos[j].Line))
			case h.Name == s.Name && (h.Rrtype == dns.TypeA || h.Rrtype == dns.TypeAAAA):
				errs = append(errs, cfg.errAt(p, "%s clashes with the static %s record at %s:%d: the service answers A and AAAA", s.Name, dns.TypeToString[h.Rrtype], z.Pos[j].File, z.Pos[j].Line))
			case h.Rrtype == dns.TypeNS && h.Name != z.Origin && dns.IsSubDomain(h.Name, s.Name):
				errs = append(errs, cfg.errAt(p, "%s is at or below the delegation of %s (%s:%d): its answers belong to the child zone", s.Name, h.Name, z.Pos[j].File, z.Pos[j].Line))
			}
		}
	}
	if len(errs) > 0 {
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
