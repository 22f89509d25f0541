package routing

import (
	"net/netip"
	"strings"
	"unsafe"

	"github.com/miekg/dns"
)

// maxChase bounds CNAME chains followed inside our zones; a loop ends there.
const maxChase = 8

// Query is one question as routing sees it.
type Query struct {
	Name string // as received, any case
	Type uint16
	// Client is the address the answer is for: the ECS address (masked to
	// its source prefix) when the query carried ECS with a non-zero
	// source prefix, else the resolver's source address. Invalid: unknown,
	// so answers follow the configured order.
	Client netip.Addr
	// ECS says the query carried an EDNS Client Subnet option, and
	// SourceBits is its source prefix length as honoured (at most the
	// server's maximum). The answer's scope never exceeds it; an ECS /0
	// (the client asked for privacy) gets scope 0 everywhere.
	ECS        bool
	SourceBits uint8
	// Rand drives rotation among equal endpoints; the server passes a cheap
	// per-query random number so that routing stays pure.
	Rand uint64
}

// Result is the answer to a Query. The server owns one per worker and
// reuses its slices; Lookup only appends to them.
type Result struct {
	Rcode         int
	Authoritative bool
	Answer        []dns.RR
	Ns            []dns.RR
	Extra         []dns.RR
	// Zone is the origin of the zone that answered ("" when refused).
	Zone string
	// Service is the traffic-managed name answered, if any; Group is the
	// region (or priority group) chosen for it, FailedOpen whether its
	// endpoints were all down and all answered, Reason why the group was
	// chosen.
	Service    string
	Group      string
	FailedOpen bool
	Reason     Reason
	// Scope is the ECS scope prefix length the answer depended on: 0 when
	// every client gets the same answer, and for a query without ECS.
	Scope uint8
}

// Reset empties r for reuse, keeping its slices' capacity.
func (r *Result) Reset() {
	r.Rcode, r.Authoritative = dns.RcodeSuccess, false
	r.Answer, r.Ns, r.Extra = r.Answer[:0], r.Ns[:0], r.Extra[:0]
	r.Zone, r.Service, r.Group, r.FailedOpen, r.Reason, r.Scope = "", "", "", false, ReasonNone, 0
}

// walk is one lookup in progress: the question, the result being built,
// what is known of the client, and the explanation when one is wanted.
// It lives on Lookup's stack.
type walk struct {
	q  *Query
	r  *Result
	cs clientState
	ex *Explanation // nil unless explaining
}

// Lookup answers q into r (which the caller has Reset) with authoritative
// semantics: REFUSED outside our zones, referrals at delegations, CNAME
// chains inside our zones, wildcards (RFC 4592), NXDOMAIN and NODATA with
// the SOA (RFC 2308), and traffic-managed names through their policy.
func (s *Snapshot) Lookup(q *Query, r *Result) {
	w := walk{q: q, r: r}
	s.lookup(&w)
}

func (s *Snapshot) lookup(w *walk) {
	var buf [256]byte
	nb, ok := canonicalBytes(w.q.Name, &buf)
	if !ok {
		w.r.Rcode = dns.RcodeRefused
		return
	}
	s.resolve(nb, w.q.Name, w, 0)
}

func (s *Snapshot) resolve(nb []byte, owner string, w *walk, depth int) {
	q, r := w.q, w.r
	var starts [128]int
	nl := labelStarts(nb, &starts)

	// The most specific zone: try suffixes from the longest.
	var z *zone
	zl := 0 // index into starts of the zone apex
	for i := 0; i < nl; i++ {
		if zz, ok := s.zones[string(nb[starts[i]:])]; ok {
			z, zl = zz, i
			break
		}
	}
	if z == nil {
		if depth == 0 {
			r.Rcode = dns.RcodeRefused
		}
		return // a CNAME leaving our zones: the resolver follows it
	}
	if depth == 0 {
		r.Zone = z.origin
		r.Authoritative = true
	}

	// A delegation above or at the name: refer (RFC 1034 §4.3.2 step 3b),
	// except that DS at the cut itself is the parent's to answer.
	if z.hasCuts {
		for i := zl - 1; i >= 0; i-- {
			n, ok := z.nodes[string(nb[starts[i]:])]
			if !ok {
				break // nothing exists below a missing name
			}
			if n.cut && !(i == 0 && q.Type == dns.TypeDS) {
				if depth == 0 {
					cut := n.cutSet()
					r.Authoritative = false
					r.Ns = append(r.Ns, cut.records()...)
					r.Extra = append(r.Extra, cut.extra()...)
				}
				return
			}
		}
	}

	if n, ok := z.nodes[string(nb)]; ok {
		s.answerNode(z, n, owner, false, w, depth)
		return
	}

	// The closest encloser: its wildcard child, if any, answers (RFC 4592
	// §3.3.1); an empty non-terminal on the way blocks it by existing.
	for i := 1; i <= zl; i++ {
		ce, ok := z.nodes[string(nb[starts[i]:])]
		if !ok {
			continue
		}
		if ce.wild != nil {
			s.answerNode(z, ce.wild, owner, true, w, depth)
			return
		}
		break
	}
	r.Rcode = dns.RcodeNameError
	r.Ns = append(r.Ns[:0], z.neg...)
}

// answerNode answers from an existing node; synth says the node is a
// wildcard whose records take the owner name of the question.
func (s *Snapshot) answerNode(z *zone, n *node, owner string, synth bool, w *walk, depth int) {
	q, r := w.q, w.r
	qt := q.Type
	if svc := s.service(n); svc != nil && (qt == dns.TypeA || qt == dns.TypeAAAA || qt == dns.TypeANY) {
		t := qt
		if t == dns.TypeANY {
			t = dns.TypeA
			if len(svc.fam[0].groups) == 0 {
				t = dns.TypeAAAA
			}
		}
		if rrs := s.answerService(svc, t, w); rrs != nil {
			r.Answer = append(r.Answer, rrs...)
			return
		}
		if qt != dns.TypeANY || n.get(dns.TypeA) == nil {
			r.Ns = append(r.Ns[:0], z.neg...)
			return
		}
	}
	if n.cname && qt != dns.TypeCNAME {
		cn := n.cnameSet().all[0]
		for _, prev := range r.Answer {
			if prev.Header().Rrtype == dns.TypeCNAME && strings.EqualFold(prev.Header().Name, owner) {
				return // a loop: this name's CNAME is answered already
			}
		}
		if synth {
			cn = synthesize(cn, owner)
		}
		r.Answer = append(r.Answer, cn)
		if depth+1 >= maxChase {
			return
		}
		target := cn.(*dns.CNAME).Target
		var buf [256]byte
		tb, ok := canonicalBytes(target, &buf)
		if !ok {
			return
		}
		s.resolve(tb, target, w, depth+1)
		return
	}

	var set *rrset
	if qt == dns.TypeANY {
		// RFC 8482: answer ANY with one RRset, not the node's whole
		// collection, so ANY cannot amplify.
		if len(n.rrsets) > 0 {
			set = n.rrsets[0]
		}
	} else {
		set = n.get(qt)
	}
	if set == nil {
		r.Ns = append(r.Ns[:0], z.neg...) // NODATA (RFC 2308 §2.2)
		return
	}
	if synth {
		for _, rr := range set.records() {
			r.Answer = append(r.Answer, synthesize(rr, owner))
		}
	} else {
		r.Answer = append(r.Answer, set.records()...)
	}
	r.Extra = append(r.Extra, set.extra()...)
}

func famIndex(t uint16) int {
	if t == dns.TypeAAAA {
		return 1
	}
	return 0
}

// synthesize copies a wildcard record under the queried name.
func synthesize(rr dns.RR, owner string) dns.RR {
	c := dns.Copy(rr)
	c.Header().Name = owner
	return c
}

// canonicalBytes returns name lower-cased and fully qualified as bytes. When
// name already is, the bytes alias it, so the common case costs nothing;
// map lookups with string(b) then do not allocate either.
func canonicalBytes(name string, buf *[256]byte) ([]byte, bool) {
	if len(name) == 0 || len(name) > 255 {
		return nil, false
	}
	lower := true
	for i := 0; i < len(name); i++ {
		if c := name[i]; c >= 'A' && c <= 'Z' {
			lower = false
			break
		}
	}
	fq := name[len(name)-1] == '.'
	if lower && fq {
		return unsafe.Slice(unsafe.StringData(name), len(name)), true
	}
	if !fq && len(name) == 255 {
		return nil, false
	}
	n := copy(buf[:], name)
	for i := 0; i < n; i++ {
		if c := buf[i]; c >= 'A' && c <= 'Z' {
			buf[i] = c + 'a' - 'A'
		}
	}
	if !fq {
		buf[n] = '.'
		n++
	}
	return buf[:n], true
}

// labelStarts records where each label of a fully qualified name starts,
// the name itself first and the root (".") last.
func labelStarts(nb []byte, starts *[128]int) int {
	if len(nb) == 1 { // the root
		starts[0] = 0
		return 1
	}
	n := 0
	starts[n] = 0
	n++
	for i := 0; i < len(nb)-1 && n < len(starts); i++ {
		if nb[i] == '\\' {
			i++ // an escaped character, possibly a dot, is not a boundary
			continue
		}
		if nb[i] == '.' {
			starts[n] = i + 1
			n++
		}
	}
	return n
}
