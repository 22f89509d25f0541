package zones

import (
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"github.com/miekg/dns"
)

// Zone is one zone's static data, read from an RFC 1035 master file.
type Zone struct {
	Origin  string   // canonical, fully qualified, lower case
	File    string   // where it was read from ("" when given as text)
	Records []dns.RR // every record, owner names canonical
	// Pos holds where each record was written, parallel to Records.
	Pos []Pos
	SOA *dns.SOA
}

// Pos is a record's place in its master file (or an $INCLUDEd one).
type Pos struct {
	File string
	Line int
}

// LoadZone reads the master file at file for origin, following $INCLUDE
// relative to the file's directory.
func LoadZone(origin, file string) (*Zone, ErrorList) {
	f, err := os.Open(file)
	if err != nil {
		return nil, ErrorList{{File: file, Msg: fmt.Sprintf("zone %s: %v", origin, err)}}
	}
	defer f.Close()
	return ParseZone(origin, file, f)
}

// ParseZone reads a master file from r. file names it in errors and anchors
// $INCLUDE. Every problem is returned, each at its line.
func ParseZone(origin, file string, r io.Reader) (*Zone, ErrorList) {
	origin = canonical(origin)
	z := &Zone{Origin: origin, File: file}
	zp := dns.NewZoneParser(r, origin, file)
	zp.SetIncludeAllowed(true)
	var errs ErrorList
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		pos := parserPos(zp, file)
		rr.Header().Name = strings.ToLower(rr.Header().Name)
		z.Records = append(z.Records, rr)
		z.Pos = append(z.Pos, pos)
	}
	if err := zp.Err(); err != nil {
		errs = append(errs, parseError(file, err))
		return nil, errs
	}
	errs = append(errs, z.validate()...)
	if len(errs) > 0 {
		return nil, errs
	}
	return z, nil
}

// parseError turns a miekg/dns ParseError ("file: dns: msg: "tok" at line:
// 3:10") into an Error at file:3.
func parseError(file string, err error) Error {
	msg := err.Error()
	e := Error{File: file, Msg: msg}
	if i := strings.LastIndex(msg, " at line: "); i >= 0 {
		var line, col int
		if _, scanErr := fmt.Sscanf(msg[i+len(" at line: "):], "%d:%d", &line, &col); scanErr == nil {
			e.Line = line
			msg = msg[:i]
		}
	}
	if pe, ok := err.(*dns.ParseError); ok {
		if f := unexportedString(reflect.ValueOf(pe).Elem(), "file"); f != "" {
			e.File = f
			msg = strings.TrimPrefix(msg, f+": ")
		}
	}
	e.Msg = strings.TrimPrefix(msg, "dns: ")
	return e
}

// parserPos reports the file and line the parser last read. miekg/dns does
// not export a record's position, so it is read from the lexer by
// reflection; if its shape ever changes we degrade to the file alone.
func parserPos(zp *dns.ZoneParser, file string) Pos {
	v := reflect.ValueOf(zp).Elem()
	for {
		sub := v.FieldByName("sub")
		if !sub.IsValid() || sub.IsNil() {
			break
		}
		v = sub.Elem()
		if f := unexportedString(v, "file"); f != "" {
			file = f
		}
	}
	c := v.FieldByName("c")
	if !c.IsValid() || c.IsNil() {
		return Pos{File: file}
	}
	l := c.Elem().FieldByName("l")
	if !l.IsValid() {
		return Pos{File: file}
	}
	line := l.FieldByName("line")
	if !line.IsValid() || line.Kind() != reflect.Int {
		return Pos{File: file}
	}
	return Pos{File: file, Line: int(line.Int())}
}

func unexportedString(v reflect.Value, field string) string {
	f := v.FieldByName(field)
	if !f.IsValid() || f.Kind() != reflect.String {
		return ""
	}
	return f.String()
}

func (z *Zone) errAt(i int, format string, args ...any) Error {
	p := Pos{File: z.File}
	if i >= 0 && i < len(z.Pos) {
		p = z.Pos[i]
	}
	return Error{File: p.File, Line: p.Line, Msg: fmt.Sprintf(format, args...)}
}

// validate checks the zone's own consistency: SOA and NS at the apex, every
// record inside the zone, CNAME alone at its name, TTLs in range.
func (z *Zone) validate() ErrorList {
	var errs ErrorList
	types := map[string]map[uint16]int{} // name -> type -> first record index
	apexNS := false
	for i, rr := range z.Records {
		h := rr.Header()
		if !dns.IsSubDomain(z.Origin, h.Name) {
			errs = append(errs, z.errAt(i, "%s %s is outside zone %s", h.Name, dns.TypeToString[h.Rrtype], z.Origin))
			continue
		}
		if h.Ttl > maxTTL {
			errs = append(errs, z.errAt(i, "%s: TTL %d is above the largest TTL, %d (RFC 2181)", h.Name, h.Ttl, maxTTL))
		}
		switch rr := rr.(type) {
		case *dns.SOA:
			if h.Name != z.Origin {
				errs = append(errs, z.errAt(i, "SOA at %s: a SOA belongs at the zone apex %s", h.Name, z.Origin))
			} else if z.SOA != nil {
				errs = append(errs, z.errAt(i, "a second SOA at %s", h.Name))
			} else {
				z.SOA = rr
			}
		case *dns.NS:
			if h.Name == z.Origin {
				apexNS = true
			}
		}
		if types[h.Name] == nil {
			types[h.Name] = map[uint16]int{}
		}
		if j, ok := types[h.Name][dns.TypeCNAME]; ok && h.Rrtype == dns.TypeCNAME {
			errs = append(errs, z.errAt(i, "%s: a second CNAME (the first at line %d): a name has at most one", h.Name, z.Pos[j].Line))
		}
		if _, ok := types[h.Name][h.Rrtype]; !ok {
			types[h.Name][h.Rrtype] = i
		}
	}
	for name, ts := range types {
		ci, hasCNAME := ts[dns.TypeCNAME]
		if !hasCNAME {
			continue
		}
		for t := range ts {
			if t != dns.TypeCNAME && t != dns.TypeRRSIG && t != dns.TypeNSEC {
				errs = append(errs, z.errAt(ci, "%s: CNAME beside other data (%s): a CNAME must be alone at its name (RFC 1034 §3.6.2)", name, dns.TypeToString[t]))
				break
			}
		}
	}
	if z.SOA == nil {
		errs = append(errs, Error{File: z.File, Line: 1, Msg: fmt.Sprintf("zone %s has no SOA record at its apex", z.Origin)})
	}
	if !apexNS {
		errs = append(errs, Error{File: z.File, Line: 1, Msg: fmt.Sprintf("zone %s has no NS record at its apex", z.Origin)})
	}
	return errs
}
