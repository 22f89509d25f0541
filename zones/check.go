package zones

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"slices"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// CheckZoneText reports exactly the errors ParseZoneText reports for
// text, in the same order, without building the zone: see
// Limits.CheckZoneText.
func CheckZoneText(origin, name string, text []byte) ErrorList {
	return Limits{}.CheckZoneText(origin, name, text)
}

// CheckZoneText is ParseZoneText within l for its errors alone. The
// records are checked one at a time as miekg/dns parses them and dropped:
// what the checks need is kept, not the records (the names of the CNAMEs,
// a hash of each name holding other data, the first SOA), so an API edit
// of a big zone does not hold its parsed records (several times the text)
// to be validated. A zone with a CNAME whose name may hold other data
// before it is read a second time to find that record.
func (l Limits) CheckZoneText(origin, name string, text []byte) ErrorList {
	_, errs := checkZone(origin, name, text, l.withDefaults(), nil, nil)
	return errs
}

// cnameAt is a name's first CNAME. other is the first record of other
// data at that name (valid when hasOther), the one validate names.
type cnameAt struct {
	idx      int
	pos      Pos
	hasOther bool
	// recheck: a record of other data may come before the CNAME (its
	// name's hash was seen with other data): the second pass looks.
	recheck  bool
	otherIdx int
	otherTyp uint16
	otherPos Pos
}

// checkZone is parseZone(text, no $INCLUDE) followed by validate, record
// by record. It returns the errors parseZone would, in its order; when
// there are none, a zone holding only the records NewSet looks at for the
// services named in names (records of a type that clashes, at their
// names) and cuts (the first NS at each name of cuts: the services'
// names and their ancestors below the origin), with their positions.
func checkZone(origin, file string, text []byte, lim Limits, names, cuts map[string]bool) (*Zone, ErrorList) {
	origin = canonical(origin)
	if e, ok := checkGenerate(file, origin, text, lim); !ok {
		return nil, ErrorList{e}
	}
	sum := &Zone{Origin: origin, File: file}
	var (
		errs   ErrorList
		apexNS bool
		// cnames maps a name to its first CNAME, like validate's.
		cnames = map[string]*cnameAt{}
		// seen holds a hash of each name holding other data (not CNAME,
		// RRSIG or NSEC) so far: a CNAME whose name is not in it has no
		// other data before it.
		seen    = newHashSet(text)
		seed    = maphash.MakeSeed()
		recheck bool
		cutSeen map[string]bool
	)
	at := func(p Pos, format string, args ...any) Error {
		return Error{File: p.File, Line: p.Line, Msg: fmt.Sprintf(format, args...)}
	}
	e, ok := scanZoneText(origin, file, text, lim.ZoneMaxRecords, func(i int, rr dns.RR, p Pos) bool {
		h := rr.Header()
		if !dns.IsSubDomain(origin, h.Name) {
			errs = append(errs, at(p, "%s %s is outside zone %s", h.Name, dns.TypeToString[h.Rrtype], origin))
			return true
		}
		if h.Ttl > maxTTL {
			errs = append(errs, at(p, "%s: TTL %d is above the largest TTL, %d (RFC 2181)", h.Name, h.Ttl, maxTTL))
		}
		switch rr := rr.(type) {
		case *dns.SOA:
			if h.Name != origin {
				errs = append(errs, at(p, "SOA at %s: a SOA belongs at the zone apex %s", h.Name, origin))
			} else if sum.SOA != nil {
				errs = append(errs, at(p, "a second SOA at %s", h.Name))
			} else {
				sum.SOA = rr
			}
		case *dns.NS:
			if h.Name == origin {
				apexNS = true
			}
		case *dns.CNAME:
			if c, ok := cnames[h.Name]; ok {
				errs = append(errs, at(p, "%s: a second CNAME (the first at %s): a name has at most one", h.Name, where(c.pos, p)))
			} else {
				c := &cnameAt{idx: i, pos: p}
				if seen.mayHold(maphash.String(seed, h.Name)) {
					c.recheck, recheck = true, true
				}
				cnames[h.Name] = c
			}
		}
		if t := h.Rrtype; t != dns.TypeCNAME && t != dns.TypeRRSIG && t != dns.TypeNSEC {
			if c, ok := cnames[h.Name]; ok && !c.hasOther {
				c.hasOther, c.otherIdx, c.otherTyp, c.otherPos = true, i, t, p
			}
			seen.add(maphash.String(seed, h.Name))
		}
		// What NewSet looks at for the services in this zone.
		switch t := h.Rrtype; {
		case names[h.Name] && (t == dns.TypeCNAME || t == dns.TypeA || t == dns.TypeAAAA):
			sum.Records = append(sum.Records, rr)
			sum.addPos(p)
		case t == dns.TypeNS && h.Name != origin && cuts[h.Name] && !cutSeen[h.Name]:
			if cutSeen == nil {
				cutSeen = map[string]bool{}
			}
			cutSeen[h.Name] = true
			sum.Records = append(sum.Records, rr)
			sum.addPos(p)
		}
		return true
	})
	if !ok {
		return nil, ErrorList{e}
	}
	seen = hashSet{}
	if recheck {
		// Other data written before a CNAME at its name: read the text
		// again up to the last such CNAME for the first of them.
		last := 0
		for _, c := range cnames {
			if c.recheck {
				last = max(last, c.idx)
			}
		}
		found := map[string]bool{}
		scanZoneText(origin, file, text, lim.ZoneMaxRecords, func(i int, rr dns.RR, p Pos) bool {
			if i >= last {
				return false
			}
			h := rr.Header()
			if t := h.Rrtype; t == dns.TypeCNAME || t == dns.TypeRRSIG || t == dns.TypeNSEC {
				return true
			}
			if c, ok := cnames[h.Name]; ok && c.recheck && i < c.idx && !found[h.Name] {
				found[h.Name] = true
				c.hasOther, c.otherIdx, c.otherTyp, c.otherPos = true, i, h.Rrtype, p
			}
			return true
		})
	}
	// validate reports these in map order; here, in the CNAMEs' order.
	var beside []*cnameAt
	besideName := map[*cnameAt]string{}
	for name, c := range cnames {
		if c.hasOther {
			beside = append(beside, c)
			besideName[c] = name
		}
	}
	sort.Slice(beside, func(a, b int) bool { return beside[a].idx < beside[b].idx })
	for _, c := range beside {
		errs = append(errs, at(c.pos, "%s: CNAME beside other data (%s at %s): a CNAME must be alone at its name (RFC 1034 §3.6.2)",
			besideName[c], dns.TypeToString[c.otherTyp], where(c.otherPos, c.pos)))
	}
	if sum.SOA == nil {
		errs = append(errs, Error{File: file, Line: 1, Msg: fmt.Sprintf("zone %s has no SOA record at its apex", origin)})
	}
	if !apexNS {
		errs = append(errs, Error{File: file, Line: 1, Msg: fmt.Sprintf("zone %s has no NS record at its apex", origin)})
	}
	if len(errs) > 0 {
		errs.sort()
		return nil, errs
	}
	return sum, nil
}

// where is Zone.where for positions: "line 7" when p is in the file of
// from, "other.zone:7" when not.
func where(p, from Pos) string {
	if p.File == from.File {
		return fmt.Sprintf("line %d", p.Line)
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// scanZoneText parses a master file from the API ($INCLUDE refused) as
// parseZone does, calling fn with each record (owner name lower-cased),
// its index and its position, until fn returns false. It stops at the
// first record over maxRecords or the first syntax error and returns
// that error, as parseZone reports it, with ok false.
func scanZoneText(origin, file string, text []byte, maxRecords int, fn func(i int, rr dns.RR, p Pos) bool) (e Error, ok bool) {
	zp := dns.NewZoneParser(bytes.NewReader(text), origin, file)
	zp.SetIncludeAllowed(false)
	pt := &posTracker{file: file, main: text}
	i := 0
	for rr, more := zp.Next(); more; rr, more = zp.Next() {
		if i >= maxRecords {
			p := pt.pos(zp)
			return Error{File: p.File, Line: p.Line, Msg: fmt.Sprintf(
				"zone %s has more than %d records (limits.zone_max_records)", origin, maxRecords)}, false
		}
		rr.Header().Name = strings.ToLower(rr.Header().Name)
		if !fn(i, rr, pt.pos(zp)) {
			return Error{}, true
		}
		i++
	}
	if err := zp.Err(); err != nil {
		e := parseError(file, err)
		if l := errorLine(zp); l > 0 {
			e.Line = l
		}
		return e, false
	}
	return Error{}, true
}

// CheckOverlay returns exactly the error OverlayCached(base, edits,
// cache) returns (nil when it returns a set), without building the set:
// each zone edit without a version (one being written, not yet stored)
// is checked record by record as it is parsed (checkZone) rather than
// parsed whole, and the services are checked against the few of its
// records they can clash with. The other edits are parsed, and cached,
// as OverlayCached does.
func CheckOverlay(base *Set, edits []Edit, cache *ParseCache) error {
	_, err := overlay(base, edits, cache, true)
	return err
}

// pendingCheck is a zone edit overlay leaves to checkPending: zone
// stands in for it in the overlay (origin and file only, until checked),
// at is where its errors go in the overlay's list.
type pendingCheck struct {
	zone *Zone
	body []byte
	at   int
}

// checkPending checks each pending zone edit with checkZone, against the
// services (by name) that will sit in it among the zones by origin, and
// inserts its errors into errs where parsing it would have put them. A
// zone found sound is filled with the records NewSet needs.
func checkPending(lim Limits, pending []pendingCheck, zoneByOrigin map[string]*Zone, svcByName map[string]*Service, errs ErrorList) ErrorList {
	lim = lim.withDefaults()
	for k := len(pending) - 1; k >= 0; k-- {
		p := pending[k]
		names, cuts := map[string]bool{}, map[string]bool{}
		for _, s := range svcByName {
			if zoneOf(zoneByOrigin, s.Name) != p.zone {
				continue
			}
			names[s.Name] = true
			// As NewSet walks them: the name and its ancestors below the
			// apex.
			for name := s.Name; name != p.zone.Origin && name != ""; {
				cuts[name] = true
				i := strings.IndexByte(name, '.')
				if i < 0 {
					break
				}
				name = name[i+1:]
			}
		}
		sum, zerrs := checkZone(p.zone.Origin, p.zone.File, p.body, lim, names, cuts)
		if sum != nil {
			p.zone.Records, p.zone.lines, p.zone.runs, p.zone.SOA = sum.Records, sum.lines, sum.runs, sum.SOA
		}
		errs = slices.Insert(errs, p.at, zerrs...)
	}
	return errs
}

// zoneOf is findZone over zones by origin.
func zoneOf(zoneByOrigin map[string]*Zone, name string) *Zone {
	var best *Zone
	for origin, z := range zoneByOrigin {
		if dns.IsSubDomain(origin, name) && (best == nil || len(origin) > len(best.Origin)) {
			best = z
		}
	}
	return best
}

// hashSet is a set of 32-bit hashes of names, open addressing in a table
// sized once from the text (a slot per half line, at most half a byte of
// table per byte of text): about a quarter of the text's size, where a
// map of 64-bit hashes cost more than the text. It answers "maybe" for
// a name not added when 32 bits of hash collide, or for any name once
// the table is too full to add more (full): a "maybe" only costs checkZone
// its second pass, never a wrong answer.
type hashSet struct {
	slots []uint32
	n     int
	full  bool
}

func newHashSet(text []byte) hashSet {
	lines := bytes.Count(text, []byte{'\n'}) + 1
	size := 64
	for size < 2*lines && size*4*2 <= len(text) {
		size *= 2
	}
	return hashSet{slots: make([]uint32, size)}
}

// key folds h to a non-zero 32-bit value (0 marks an empty slot).
func (s *hashSet) key(h uint64) uint32 {
	k := uint32(h) ^ uint32(h>>32)
	if k == 0 {
		k = 1
	}
	return k
}

func (s *hashSet) add(h uint64) {
	if s.full || len(s.slots) == 0 {
		return
	}
	k := s.key(h)
	mask := uint32(len(s.slots) - 1)
	for i := k & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case k:
			return
		case 0:
			if s.n+1 > len(s.slots)*3/4 {
				s.full = true // from here on every name may be held
				return
			}
			s.slots[i] = k
			s.n++
			return
		}
	}
}

// mayHold is false only when h was never added.
func (s *hashSet) mayHold(h uint64) bool {
	if s.full || len(s.slots) == 0 {
		return true
	}
	k := s.key(h)
	mask := uint32(len(s.slots) - 1)
	for i := k & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case k:
			return true
		case 0:
			return false
		}
	}
}
