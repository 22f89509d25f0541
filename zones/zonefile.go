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
	return parseZone(origin, file, r, true)
}

// ParseZoneText reads a master file received from the API: $INCLUDE is
// refused, so a client cannot make the server read its files.
func ParseZoneText(origin, name string, text []byte) (*Zone, ErrorList) {
	return parseZone(origin, name, bytes.NewReader(text), false)
}

func parseZone(origin, file string, r io.Reader, allowInclude bool) (*Zone, ErrorList) {
	origin = canonical(origin)
	// The whole text is kept so each record can be placed on the line it
	// starts on (see posTracker); zone files are small beside memory.
	text, err := io.ReadAll(r)
	if err != nil {
		return nil, ErrorList{{File: file, Msg: fmt.Sprintf("zone %s: %v", origin, err)}}
	}
	z := &Zone{Origin: origin, File: file}
	// Sized once from the lines that can begin a record (exact for most
	// files; $INCLUDE and $GENERATE add more, multi-line records
	// fewer): a million records grown by append would leave about as
	// much garbage again behind, at the load's peak.
	if n := recordLines(text); n > 0 {
		z.Records = make([]dns.RR, 0, n)
		z.lines = make([]int32, 0, n)
	}
	zp := dns.NewZoneParser(bytes.NewReader(text), origin, file)
	zp.SetIncludeAllowed(allowInclude)
	pt := &posTracker{file: file, main: text}
	var v4s ipv4Arena
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
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
			errs = append(errs, z.errAt(i, "%s: a second CNAME (the first at %s): a name has at most one", h.Name, z.where(j, i)))
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
		// Name the first other record written, so the message is the same
		// on every run (map order is random).
		other := -1
		for t, i := range ts {
			if t != dns.TypeCNAME && t != dns.TypeRRSIG && t != dns.TypeNSEC && (other < 0 || i < other) {
				other = i
			}
		}
		if other >= 0 {
			errs = append(errs, z.errAt(ci, "%s: CNAME beside other data (%s at %s): a CNAME must be alone at its name (RFC 1034 §3.6.2)",
				name, dns.TypeToString[z.Records[other].Header().Rrtype], z.where(other, ci)))
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
