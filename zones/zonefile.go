package zones

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Zone is one zone's static data, read from an RFC 1035 master file.
type Zone struct {
	Origin  string   // canonical, fully qualified, lower case
	File    string   // where it was read from ("" when given as text)
	Records []dns.RR // every record, owner names canonical
	SOA     *dns.SOA
	// Where each record was written (PosAt): lines[i] is the line record
	// i starts on, runs the file of each stretch of records (one, unless
	// $INCLUDE). 4 bytes a record instead of a Pos (a string and an int,
	// 24 bytes: 24 MB for a million records). A Zone built in code has
	// none: its records are at File, line 0.
	lines []int32
	runs  []fileRun
}

// fileRun says records from start on were read from file.
type fileRun struct {
	start int
	file  string
}

// addPos records where the next record (index len(z.lines)) was written.
func (z *Zone) addPos(p Pos) {
	if n := len(z.runs); n == 0 || z.runs[n-1].file != p.File {
		z.runs = append(z.runs, fileRun{start: len(z.lines), file: p.File})
	}
	z.lines = append(z.lines, int32(min(p.Line, math.MaxInt32)))
}

// PosAt returns where record i was written: its file ($INCLUDEd or not)
// and the line it starts on.
func (z *Zone) PosAt(i int) Pos {
	if i < 0 || i >= len(z.lines) {
		return Pos{File: z.File}
	}
	r := sort.Search(len(z.runs), func(k int) bool { return z.runs[k].start > i }) - 1
	return Pos{File: z.runs[r].file, Line: int(z.lines[i])}
}

// Files lists the files the records were read from (the zone's file and
// those it $INCLUDEs), each once, in the order first read.
func (z *Zone) Files() []string {
	var out []string
	for _, r := range z.runs {
		if !slices.Contains(out, r.file) {
			out = append(out, r.file)
		}
	}
	return out
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
// $INCLUDE. Every problem is returned, each at its line, in line order.
//
// $INCLUDE may name any file the process can read, so r must come from an
// operator (a file on disk), never from a network client: miekg/dns quotes
// the offending text of an included file in its errors.
func ParseZone(origin, file string, r io.Reader) (*Zone, ErrorList) {
	return Limits{}.ParseZone(origin, file, r)
}

// ParseZoneText reads a master file received from the API: $INCLUDE is
// refused, so a client cannot make the server read its files.
func ParseZoneText(origin, name string, text []byte) (*Zone, ErrorList) {
	return Limits{}.ParseZoneText(origin, name, text)
}

// ParseZone is ParseZone within l (unset limits take their defaults).
func (l Limits) ParseZone(origin, file string, r io.Reader) (*Zone, ErrorList) {
	// The whole text is kept so each record can be placed on the line it
	// starts on (see posTracker); zone files are small beside memory.
	text, err := io.ReadAll(r)
	if err != nil {
		return nil, ErrorList{{File: file, Msg: fmt.Sprintf("zone %s: %v", canonical(origin), err)}}
	}
	return parseZone(origin, file, text, true, l.withDefaults())
}

// ParseZoneText is ParseZoneText within l (unset limits take their
// defaults).
func (l Limits) ParseZoneText(origin, name string, text []byte) (*Zone, ErrorList) {
	return parseZone(origin, name, text, false, l.withDefaults())
}

// FirstSOA finds the first SOA record of a master file from the API and
// the line it starts on, parsing no further: what the SOA serial
// rewrite needs, without building the whole zone a second time. ok is
// false when the text has no SOA before a syntax error, or breaks a
// limit (validation reports either).
func (l Limits) FirstSOA(origin, name string, text []byte) (soa *dns.SOA, line int, ok bool) {
	l = l.withDefaults()
	origin = canonical(origin)
	if _, ok := checkGenerate(name, origin, text, l); !ok {
		return nil, 0, false
	}
	zp := dns.NewZoneParser(bytes.NewReader(text), origin, name)
	zp.SetIncludeAllowed(false)
	pt := &posTracker{file: name, main: text}
	n := 0
	for rr, more := zp.Next(); more && n < l.ZoneMaxRecords; rr, more = zp.Next() {
		n++
		p := pt.pos(zp) // every record: the cursor walks the text in order
		if s, isSOA := rr.(*dns.SOA); isSOA {
			return s, p.Line, true
		}
	}
	return nil, 0, false
}

func parseZone(origin, file string, text []byte, allowInclude bool, lim Limits) (*Zone, ErrorList) {
	origin = canonical(origin)
	// $GENERATE ranges are checked before miekg/dns expands any of them,
	// so a small text naming millions of records is refused at once.
	if e, ok := checkGenerate(file, origin, text, lim); !ok {
		return nil, ErrorList{e}
	}
	z := &Zone{Origin: origin, File: file}
	// Sized once from the lines that can begin a record (exact for most
	// files; $INCLUDE and $GENERATE add more, multi-line records
	// fewer), and never above the record cap: a million records grown by
	// append would leave about as much garbage again behind, at the
	// load's peak.
	if n := min(recordLines(text), lim.ZoneMaxRecords); n > 0 {
		z.Records = make([]dns.RR, 0, n)
		z.lines = make([]int32, 0, n)
	}
	zp := dns.NewZoneParser(bytes.NewReader(text), origin, file)
	zp.SetIncludeAllowed(allowInclude)
	pt := &posTracker{file: file, main: text}
	var v4s ipv4Arena
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if len(z.Records) >= lim.ZoneMaxRecords {
			// Stop at the first record over the cap: parsing on would
			// build what the limit is there to prevent.
			p := pt.pos(zp)
			return nil, ErrorList{{File: p.File, Line: p.Line, Msg: fmt.Sprintf(
				"zone %s has more than %d records (limits.zone_max_records)", origin, lim.ZoneMaxRecords)}}
		}
		rr.Header().Name = strings.ToLower(rr.Header().Name)
		if a, ok := rr.(*dns.A); ok {
			a.A = v4s.compact(a.A)
		}
		z.Records = append(z.Records, rr)
		z.addPos(pt.pos(zp))
	}
	if err := zp.Err(); err != nil {
		e := parseError(file, err)
		if l := errorLine(zp); l > 0 {
			e.Line = l
		}
		return nil, ErrorList{e}
	}
	errs := z.validate()
	if len(errs) > 0 {
		errs.sort()
		return nil, errs
	}
	return z, nil
}

// ipv4Arena hands out 4-byte addresses from shared chunks. miekg/dns
// parses an A record's address with net.ParseIP, which keeps it in 16
// bytes (IPv4-mapped) of its own; in chunks of 1024, 4 bytes each: 12 MB
// less for a million A records. (One 4-byte allocation each would not
// do: the tiny allocator packs it with the parser's garbage, whose
// 16-byte block it then keeps alive.) Packing (To4), printing and
// IsDuplicate (Equal) read both forms alike.
type ipv4Arena struct{ free []byte }

func (a *ipv4Arena) compact(ip net.IP) net.IP {
	v4 := ip.To4()
	if v4 == nil || len(ip) == net.IPv4len {
		return ip
	}
	if len(a.free) < net.IPv4len {
		a.free = make([]byte, 1024*net.IPv4len)
	}
	out := net.IP(a.free[:net.IPv4len:net.IPv4len])
	a.free = a.free[net.IPv4len:]
	copy(out, v4)
	return out
}

// recordLines counts the lines of a master file that can begin a record
// (see beginsRecord).
func recordLines(text []byte) int {
	n := 0
	for len(text) > 0 {
		l := text
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			l, text = text[:i], text[i+1:]
		} else {
			text = nil
		}
		if beginsRecord(l) {
			n++
		}
	}
	return n
}

// parseError turns a miekg/dns ParseError ("file: dns: msg: "tok" at line:
// 3:10") into an Error at file:3, naming the $INCLUDEd file it is in.
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
	var pe *dns.ParseError
	if errors.As(err, &pe) {
		if f := stringField(reflect.ValueOf(pe).Elem(), "file"); f != "" {
			e.File = f
			msg = strings.TrimPrefix(msg, f+": ")
		}
		// A wrapped error (an $INCLUDE that cannot be opened) says it all;
		// the token miekg/dns appends would only repeat the file name.
		if inner := pe.Unwrap(); inner != nil {
			msg = inner.Error()
		}
	}
	e.Msg = strings.TrimPrefix(msg, "dns: ")
	return e
}

func (z *Zone) errAt(i int, format string, args ...any) Error {
	p := z.PosAt(i)
	return Error{File: p.File, Line: p.Line, Msg: fmt.Sprintf(format, args...)}
}

// where names the position of record i for a message about record from:
// "line 7" in the same file, "other.zone:7" in another.
func (z *Zone) where(i, from int) string {
	p := z.PosAt(i)
	if p.File == z.PosAt(from).File {
		return fmt.Sprintf("line %d", p.Line)
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// validate checks the zone's own consistency: SOA and NS at the apex, every
// record inside the zone, CNAME alone at its name, TTLs in range.
func (z *Zone) validate() ErrorList {
	var errs ErrorList
	// cnames maps a name to its first CNAME. One map of the CNAME names
	// only: a map of every name's types cost more than the zone itself.
	cnames := map[string]int{}
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
		case *dns.CNAME:
			if j, ok := cnames[h.Name]; ok {
				errs = append(errs, z.errAt(i, "%s: a second CNAME (the first at %s): a name has at most one", h.Name, z.where(j, i)))
			} else {
				cnames[h.Name] = i
			}
		}
	}
	if len(cnames) > 0 {
		// The first other record written at each CNAME's name, so the
		// message is the same on every run.
		other := map[string]int{}
		for i, rr := range z.Records {
			h := rr.Header()
			if t := h.Rrtype; t == dns.TypeCNAME || t == dns.TypeRRSIG || t == dns.TypeNSEC {
				continue
			}
			if _, ok := cnames[h.Name]; !ok {
				continue
			}
			if _, seen := other[h.Name]; !seen {
				other[h.Name] = i
			}
		}
		for name, o := range other {
			ci := cnames[name]
			errs = append(errs, z.errAt(ci, "%s: CNAME beside other data (%s at %s): a CNAME must be alone at its name (RFC 1034 §3.6.2)",
				name, dns.TypeToString[z.Records[o].Header().Rrtype], z.where(o, ci)))
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

// IsLimit says e refuses a zone for going over limits.zone_max_records
// or limits.generate_max_range.
func (e Error) IsLimit() bool {
	return strings.Contains(e.Msg, "limits.zone_max_records") || strings.Contains(e.Msg, "limits.generate_max_range")
}

// checkGenerate pre-scans text for $GENERATE lines and refuses, at its
// line, one whose range (start-stop[/step]) holds more than
// lim.GenerateMaxRange records, or one that takes the ranges' total over
// lim.ZoneMaxRecords. Malformed ranges are left to miekg/dns to report.
// $GENERATE in an $INCLUDEd file is not seen here; the record cap still
// stops it.
func checkGenerate(file, origin string, text []byte, lim Limits) (Error, bool) {
	total := 0
	for line, rest := 1, text; len(rest) > 0; line++ {
		l := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			l, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		l = bytes.TrimLeft(l, " \t")
		const dir = "$GENERATE"
		if len(l) <= len(dir) || !bytes.EqualFold(l[:len(dir)], []byte(dir)) || (l[len(dir)] != ' ' && l[len(dir)] != '\t') {
			continue
		}
		f := bytes.Fields(l[len(dir):])
		if len(f) == 0 {
			continue
		}
		n, ok := generateCount(string(f[0]))
		if !ok {
			continue
		}
		if n > int64(lim.GenerateMaxRange) {
			return Error{File: file, Line: line, Msg: fmt.Sprintf("$GENERATE %s makes %d records, above limits.generate_max_range (%d)",
				f[0], n, lim.GenerateMaxRange)}, false
		}
		if total += int(n); total > lim.ZoneMaxRecords {
			return Error{File: file, Line: line, Msg: fmt.Sprintf("zone %s: $GENERATE takes it above %d records (limits.zone_max_records)",
				origin, lim.ZoneMaxRecords)}, false
		}
	}
	return Error{}, true
}

// generateCount is how many records a $GENERATE range start-stop[/step]
// makes, as miekg/dns reads it.
func generateCount(r string) (int64, bool) {
	step := int64(1)
	if i := strings.IndexByte(r, '/'); i >= 0 {
		s, err := strconv.ParseInt(r[i+1:], 10, 64)
		if err != nil || s <= 0 {
			return 0, false
		}
		step, r = s, r[:i]
	}
	a, b, ok := strings.Cut(r, "-")
	if !ok {
		return 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, false
	}
	return (end-start)/step + 1, true
}
