package zones

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Kinds of Edit.
const (
	KindZone    = "zone"
	KindService = "service"
)

// Edit is a zone or service written through the API (held in the state
// store, versioned) that replaces, adds to or deletes from what the config
// files define. For a zone, Body is an RFC 1035 master file; for a service,
// the YAML (or JSON) of one services: entry.
type Edit struct {
	Kind    string
	Name    string // zone origin or service name
	Body    []byte
	Deleted bool
	Version uint64
}

// Overlay applies edits on top of base (the files) and validates the
// result as a whole, as `gtm check` would. Every problem is returned, each
// located in its edit ("zone example.com. (v3):12: ...").
func Overlay(base *Set, edits []Edit) (*Set, error) {
	return OverlayCached(base, edits, nil)
}

// ParseCache keeps the zones and services parsed from stored edits, by
// kind, name and version, so that overlaying the store's documents again
// (after one of them changed, or to validate an API edit) parses only the
// documents that changed: an edit's cost does not grow with the size of
// the other zones stored. It is tied to one base (services are validated
// against its regions, zones parsed within its limits): another base
// empties it. The zero value is ready; it is safe for concurrent use.
type ParseCache struct {
	mu   sync.Mutex
	base *Set
	m    map[parseKey]parsed
}

type parseKey struct {
	kind, name string
	version    uint64
}

type parsed struct {
	body []byte
	zone *Zone
	svc  *Service
}

// get returns what e parsed to, if known for base.
func (c *ParseCache) get(base *Set, e Edit, name string) (parsed, bool) {
	if c == nil || e.Version == 0 {
		return parsed{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.base != base {
		return parsed{}, false
	}
	p, ok := c.m[parseKey{e.Kind, name, e.Version}]
	if !ok || !bytes.Equal(p.body, e.Body) {
		return parsed{}, false
	}
	return p, true
}

// put remembers a successful parse of a stored (versioned) edit.
func (c *ParseCache) put(base *Set, e Edit, name string, p parsed) {
	if c == nil || e.Version == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.base != base || c.m == nil {
		c.base, c.m = base, map[parseKey]parsed{}
	}
	p.body = e.Body
	c.m[parseKey{e.Kind, name, e.Version}] = p
}

// prune forgets the versions edits no longer hold, once the cache holds
// clearly more than one overlay's worth.
func (c *ParseCache) prune(base *Set, edits []Edit) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.base != base || len(c.m) <= 2*len(edits)+16 {
		return
	}
	keep := make(map[parseKey]bool, len(edits))
	for _, e := range edits {
		keep[parseKey{e.Kind, canonical(e.Name), e.Version}] = true
	}
	for k := range c.m {
		if !keep[k] {
			delete(c.m, k)
		}
	}
}

// OverlayCached is Overlay, reusing (and filling) cache for the edits
// that carry a version (documents already in the store); cache may be
// nil. The result is exactly Overlay's.
func OverlayCached(base *Set, edits []Edit, cache *ParseCache) (*Set, error) {
	return overlay(base, edits, cache, false)
}

// overlay is OverlayCached; with check (CheckOverlay), the zone edits
// without a version are left to checkPending instead of being parsed.
func overlay(base *Set, edits []Edit, cache *ParseCache, check bool) (*Set, error) {
	defer cache.prune(base, edits)
	cfg := *base.Config
	zoneByOrigin := map[string]*Zone{}
	var origins []string
	for _, z := range base.Zones {
		zoneByOrigin[z.Origin] = z
		origins = append(origins, z.Origin)
	}
	svcByName := map[string]*Service{}
	var names []string
	for _, s := range base.Config.Services {
		svcByName[s.Name] = s
		names = append(names, s.Name)
	}
	var errs ErrorList
	var pending []pendingCheck
	for _, e := range edits {
		name := canonical(e.Name)
		switch e.Kind {
		case KindZone:
			if _, ok := zoneByOrigin[name]; !ok && !e.Deleted {
				origins = append(origins, name)
			}
			if e.Deleted {
				delete(zoneByOrigin, name)
				continue
			}
			if p, ok := cache.get(base, e, name); ok {
				zoneByOrigin[name] = p.zone
				continue
			}
			if check && e.Version == 0 {
				z := &Zone{Origin: name, File: EditName(e)}
				zoneByOrigin[name] = z
				pending = append(pending, pendingCheck{zone: z, body: e.Body, at: len(errs)})
				continue
			}
			z, zerrs := base.Config.Limits.ParseZoneText(name, EditName(e), e.Body)
			errs = append(errs, zerrs...)
			if z != nil {
				zoneByOrigin[name] = z
				cache.put(base, e, name, parsed{zone: z})
			}
		case KindService:
			if _, ok := svcByName[name]; !ok && !e.Deleted {
				names = append(names, name)
			}
			if e.Deleted {
				delete(svcByName, name)
				continue
			}
			if p, ok := cache.get(base, e, name); ok {
				svcByName[name] = p.svc
				continue
			}
			s, serrs := ParseService(&cfg, EditName(e), name, e.Body)
			errs = append(errs, serrs...)
			if s != nil {
				svcByName[name] = s
				cache.put(base, e, name, parsed{svc: s})
			}
		default:
			errs = append(errs, Error{File: EditName(e), Msg: fmt.Sprintf("unknown kind %q", e.Kind)})
		}
	}
	if len(pending) > 0 {
		errs = checkPending(base.Config.Limits, pending, zoneByOrigin, svcByName, errs)
	}
	if len(errs) > 0 {
		return nil, errs.Err()
	}
	var zs []*Zone
	cfg.Zones = nil
	for _, o := range origins {
		if z, ok := zoneByOrigin[o]; ok {
			zs = append(zs, z)
			cfg.Zones = append(cfg.Zones, ZoneRef{Origin: o, File: z.File})
			delete(zoneByOrigin, o) // an origin listed twice is taken once
		}
	}
	cfg.Services = nil
	for _, n := range names {
		if s, ok := svcByName[n]; ok {
			cfg.Services = append(cfg.Services, s)
			delete(svcByName, n)
		}
	}
	return NewSet(&cfg, zs)
}

// EditName is how errors name an edit: "zone example.com. (v3)".
func EditName(e Edit) string {
	if e.Version == 0 {
		return fmt.Sprintf("%s %s (new)", e.Kind, canonical(e.Name))
	}
	return fmt.Sprintf("%s %s (v%d)", e.Kind, canonical(e.Name), e.Version)
}

// ParseService reads one service (YAML or JSON) strictly, applies defaults
// and validates it against cfg's regions. file names it in errors; name,
// when set, must match the service's own name.
func ParseService(cfg *Config, file, name string, body []byte) (*Service, ErrorList) {
	var root yaml.Node
	if err := yaml.Unmarshal(body, &root); err != nil {
		return nil, yamlErrors(file, err, nil)
	}
	tmp := &Config{path: file, lines: &lineIndex{m: map[string]int{}}, Regions: cfg.Regions}
	if len(root.Content) > 0 {
		indexLines(root.Content[0], "services[0]", tmp.lines.m)
	}
	s := &Service{}
	dec := yaml.NewDecoder(bytes.NewReader(body))
	dec.KnownFields(true)
	if err := dec.Decode(s); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlErrors(file, err, nil)
	}
	if s.Name == "" {
		s.Name = name
	}
	tmp.Services = []*Service{s}
	tmp.ApplyDefaults()
	errs := tmp.validateService("services[0]", s)
	if name != "" && s.Name != canonical(name) {
		errs = append(errs, tmp.errAt("services[0].name", "%s does not match the service being written, %s", s.Name, canonical(name)))
	}
	for i := range errs {
		errs[i].Path = strings.TrimPrefix(strings.TrimPrefix(errs[i].Path, "services[0]"), ".")
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
		return nil, errs
	}
	return s, nil
}
